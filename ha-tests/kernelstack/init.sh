#!/bin/busybox sh
# /init of a kernelstack guest: Debian's kernel with the o2cb modules
# loaded, the guest's link address up, and a remote shell on /dev/ttyS1.
#
# /guest.conf (written by the test) sets NAME, ADDR (address/prefix on
# eth0) and MODULES. The channel, one line each way:
#   guest -> host  "RS READY <release> <ms since boot> <ms loading modules>"
#                  "RS ERR <text>" (then poweroff)
#   host -> guest  "<token> <base64 chunk>" lines, then "<token> RUN":
#                  the chunks joined are a script the guest runs with
#                  sh -c, stdin /dev/null, stdout and stderr to a file
#   guest -> host  "<token> O <line>" for each line of its output, then
#                  "<token> E <exit status> <ms>"
# The token is the host's, new for each command: output cannot end it.
# The kernel's console (and anything this script prints) is /dev/ttyS0.

/bin/busybox --install -s /bin
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
mkdir -p /proc /sys /dev /tmp /run /mnt
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
. /guest.conf

ms() { # milliseconds since boot
	read -r up _ < /proc/uptime
	echo "${up%.*}${up#*.}0"
}

CH=/dev/ttyS1
exec 4<> "$CH"
stty -echo -icrnl <&4 || echo "stty on $CH failed"
die() {
	echo "RS ERR $*" >&4
	echo "RS ERR $*"
	sleep 1
	poweroff -f
}

hostname "$NAME"
t0=$(ms)
for m in $MODULES; do
	insmod "/modules/$m.ko" || die "insmod $m failed"
done
tmod=$(($(ms) - t0))
mount -t configfs configfs /sys/kernel/config || die "mount configfs failed"
mount -t debugfs debugfs /sys/kernel/debug || die "mount debugfs failed"
ip link set lo up || die "lo up failed"
ip link set eth0 up || die "eth0 up failed"
ip addr add "$ADDR" dev eth0 || die "address $ADDR on eth0 failed"

echo "RS READY $(uname -r) $(ms) $tmod" >&4
rm -f /tmp/cmd
while read -r tok arg <&4; do
	arg=${arg%$(printf '\r')}
	case "$arg" in
	RUN) ;;
	*)
		echo "$arg" >> /tmp/cmd
		continue
		;;
	esac
	script=$(base64 -d < /tmp/cmd)
	rm -f /tmp/cmd
	t0=$(ms)
	sh -c "$script" > /tmp/out 2>&1 < /dev/null
	rc=$?
	t1=$(ms)
	while IFS= read -r l || [ -n "$l" ]; do
		printf '%s O %s\n' "$tok" "$l"
	done < /tmp/out >&4
	printf '%s E %d %d\n' "$tok" "$rc" "$((t1 - t0))" >&4
done
die "command channel closed"
