#!/bin/sh
# The "kernel's own o2cb stack" suite: two qemu guests (TCG) boot
# Debian's kernel, share images made by mkfs.ocfs2, talk o2net over a
# qemu link on 127.0.0.1 and mount OCFS2 on both; one is killed and the
# other must evict it and write again.
#
# Installs what it needs (qemu-system-x86, busybox-static, cpio, xz-utils,
# ocfs2-tools, kmod), downloads Debian's linux-image-6.1.0-*-amd64
# package once into /var/cache/o2cb-ra-tests (never into the repository),
# runs the Go tests and prints "N passed, N failed". Exits non-zero on
# any failure.
#
# Environment: O2CB_TEST_KERNEL_DEB (a kernel .deb to use instead),
# O2CB_TEST_GUEST_CONSOLE=1 (log the guests' consoles even on success),
# CI (passed through: under CI=true a missing requirement fails).
set -eu

cd "$(dirname "$0")/../.."
. scripts/toolchain.sh
. scripts/suite.sh
CACHE=/var/cache/o2cb-ra-tests

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: needs root (apt-get, qemu, mkfs.ocfs2 images)" >&2
	exit 1
fi

need=
command -v qemu-system-x86_64 > /dev/null || need="$need qemu-system-x86"
[ -x /bin/busybox ] && /bin/busybox --list 2> /dev/null | grep -qx insmod || need="$need busybox-static"
command -v cpio > /dev/null || need="$need cpio"
command -v xz > /dev/null || need="$need xz-utils"
{ command -v mkfs.ocfs2 > /dev/null && [ -x /sbin/mount.ocfs2 ] && [ -x /sbin/ocfs2_hb_ctl ]; } || need="$need ocfs2-tools"
command -v modinfo > /dev/null || need="$need kmod"
# shellcheck disable=SC2086 # word splitting wanted
install_missing kernelstack $need

if [ -z "${O2CB_TEST_KERNEL_DEB:-}" ]; then
	# The kernel the archive's linux-image-amd64 metapackage points at,
	# else the newest linux-image-6.1.0-N-amd64 it offers.
	pkg=$(apt-cache depends linux-image-amd64 2> /dev/null |
		sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -n 1)
	if [ -z "$pkg" ]; then
		pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
			awk '{print $1}' | sort -t- -k4,4n | tail -n 1)
	fi
	if [ -n "$pkg" ]; then
		mkdir -p "$CACHE"
		deb=$(ls "$CACHE/${pkg}_"*.deb 2> /dev/null | tail -n 1 || true)
		if [ -z "$deb" ]; then
			echo "run.sh: downloading $pkg into $CACHE"
			(cd "$CACHE" && apt-get download "$pkg" > /tmp/kernelstack-apt.log 2>&1) || {
				cat /tmp/kernelstack-apt.log >&2
				echo "run.sh: apt-get download $pkg failed" >&2
			}
			deb=$(ls "$CACHE/${pkg}_"*.deb 2> /dev/null | tail -n 1 || true)
			rm -f /tmp/kernelstack-apt.log
		fi
		[ -n "$deb" ] && export O2CB_TEST_KERNEL_DEB="$deb"
	else
		echo "run.sh: the archive offers no linux-image-6.1.0-*-amd64 (apt-get update?)" >&2
	fi
fi
echo "run.sh: kernel package ${O2CB_TEST_KERNEL_DEB:-(none)}"

# Build the test binary first: a build must not compete for the CPU with
# the guests (under TCG a stalled guest may miss its heartbeat writes).
go test -c -o /dev/null ./ha-tests/kernelstack/
run_suite kernelstack 10m ./ha-tests/kernelstack/
