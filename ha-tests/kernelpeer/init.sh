#!/bin/busybox sh
# /init of the kernel-peer guest: Debian's kernel runs o2hb as node 1 of a
# global-heartbeat cluster on /dev/vda, the image the host shares.
#
# /kp.conf (written by the test) sets CLUSTER, UUID, START_BLOCK, BLOCKS,
# THRESHOLD and MODULES. The guest talks to the test on /dev/ttyS1:
#   guest -> host   "KP <word> ..." lines: READY, LIVE g=<global livenodes>
#                   r=<region livenodes>, DONE <command> <rc> <ms>, ERR ...
#   host -> guest   "start", "stop", "kmsg" (o2hb's lines of dmesg as
#                   "KP KMSG ..."), "poweroff", one a line
# The kernel's console (and anything this script prints) is /dev/ttyS0.

/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
. /kp.conf

CH=/dev/ttyS1
say() {
	echo "KP $*" > "$CH"
	echo "KP $*"
}
die() {
	say ERR "$*"
	sleep 1
	poweroff -f
}
ms() { # milliseconds since boot
	read -r up _ < /proc/uptime
	echo "${up%.*}${up#*.}0"
}

# Hold the channel open for the whole run (commands are read from fd 4),
# so the tty keeps its settings and unread input.
exec 4<> "$CH"
stty -echo -icrnl <&4 || echo "stty on $CH failed"

for m in $MODULES; do
	insmod "/modules/$m.ko" || die "insmod $m failed"
done
# o2hb logs joins, leaves and generation changes with ML_HEARTBEAT (at
# KERN_INFO: in dmesg, not on the console at loglevel 6).
[ -w /sys/fs/o2cb/logmask/HEARTBEAT ] && echo allow > /sys/fs/o2cb/logmask/HEARTBEAT
mount -t configfs configfs /sys/kernel/config || die "mount configfs failed"
mount -t debugfs debugfs /sys/kernel/debug || die "mount debugfs failed"
ip link set lo up || die "lo up failed"
ip addr add 127.0.0.2/8 dev lo 2>/dev/null

C=/sys/kernel/config/cluster/$CLUSTER
R=$C/heartbeat/$UUID
mkdir "$C" || die "mkdir $C failed"
for n in 1 2; do
	N=$C/node/n$n
	mkdir "$N" || die "mkdir $N failed"
	echo 7777 > "$N/ipv4_port" || die "$N/ipv4_port"
	echo "127.0.0.$n" > "$N/ipv4_address" || die "$N/ipv4_address"
	echo "$n" > "$N/num" || die "$N/num"
done
echo 1 > "$C/node/n1/local" || die "local"
echo global > "$C/heartbeat/mode" || die "heartbeat mode"
echo "$THRESHOLD" > "$C/heartbeat/dead_threshold" || die "dead_threshold"
echo "config: mode $(cat "$C/heartbeat/mode") dead_threshold $(cat "$C/heartbeat/dead_threshold")"
[ "$(cat "$C/heartbeat/dead_threshold")" = "$THRESHOLD" ] || die "dead_threshold is $(cat "$C/heartbeat/dead_threshold"), not $THRESHOLD"

start_region() {
	mkdir "$R" || return 1
	echo 512 > "$R/block_bytes" || return 1
	echo "$START_BLOCK" > "$R/start_block" || return 1
	echo "$BLOCKS" > "$R/blocks" || return 1
	# The kernel keeps its own reference to the device: fd 3 may close
	# when the subshell ends. The write returns once the region is steady.
	(exec 3<> /dev/vda && echo 3 > "$R/dev")
}

stop_region() {
	rmdir "$R"
}

# Reporter: a LIVE line whenever the live nodes change. Builtins only (no
# fork but sleep): under TCG on a loaded host every fork costs.
RL=/sys/kernel/debug/o2hb/$UUID/livenodes
(
	last=
	while :; do
		g= r=
		read -r g 2> /dev/null < /sys/kernel/debug/o2hb/livenodes
		[ -e "$RL" ] && read -r r 2> /dev/null < "$RL"
		cur="g=${g// /,} r=${r// /,}"
		if [ "$cur" != "$last" ]; then
			say LIVE "$cur"
			last=$cur
		fi
		sleep 0.2
	done
) &

say READY "$(uname -r)" "$(ms)"
while read -r cmd <&4; do
	cmd=$(echo "$cmd" | tr -d '\r')
	[ -n "$cmd" ] || continue
	t0=$(ms)
	case "$cmd" in
	start) start_region ;;
	stop) stop_region ;;
	kmsg) dmesg | grep -E 'Node [0-9]+ .*(region|generation|crc)|leaves region|o2hb: [A-Z]|o2net|o2quo|ERROR|mismatch' |
		while read -r l; do say KMSG "$l"; done ;;
	poweroff) poweroff -f ;;
	*) false ;;
	esac
	rc=$?
	say DONE "$cmd" "$rc" "$(($(ms) - t0))"
done
die "command channel closed"
