#!/bin/sh
# The "kernel's own o2cb stack" suite: two qemu guests (TCG) boot
# Debian's kernel, share images made by mkfs.ocfs2, talk o2net over a
# qemu link on 127.0.0.1 and mount OCFS2 on both; one is killed and the
# other must evict it and write again.
#
# Installs what it needs (qemu-system-x86, busybox-static, cpio, xz-utils,
# ocfs2-tools, kmod, dmsetup), downloads Debian's linux-image-6.1.0-*-amd64
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
. scripts/kernel-deb.sh

require_root "apt-get, qemu, mkfs.ocfs2 images"

need=$(guest_tools_needed)
{ command -v mkfs.ocfs2 > /dev/null && [ -x /sbin/mount.ocfs2 ] && [ -x /sbin/ocfs2_hb_ctl ]; } || need="$need ocfs2-tools"
command -v modinfo > /dev/null || need="$need kmod"
[ -x /sbin/dmsetup ] || need="$need dmsetup"
# shellcheck disable=SC2086 # word splitting wanted
install_missing kernelstack $need

kernel_deb run.sh

# Build the test binary first: a build must not compete for the CPU with
# the guests (under TCG a stalled guest may miss its heartbeat writes).
go test -c -o /dev/null ./ha-tests/kernelstack/
run_suite kernelstack 10m ./ha-tests/kernelstack/
