#!/bin/sh
# The "kernel as a peer" suite: Debian's kernel under qemu (TCG) runs o2hb
# as node 1 on an image shared with our daemon, node 2, on the host.
#
# Installs what it needs (qemu-system-x86, busybox-static, cpio, xz-utils),
# downloads Debian's linux-image-6.1.0-*-amd64 package once into
# /var/cache/o2cb-ra-tests (never into the repository), runs the Go tests
# and prints "N passed, N failed". Exits non-zero on any failure.
#
# Environment: O2CB_TEST_KERNEL_DEB (a kernel .deb to use instead),
# O2CB_TEST_GUEST_CONSOLE=1 (print the guest's console even on success),
# CI (passed through: under CI=true a missing requirement fails).
set -eu

cd "$(dirname "$0")/../.."
. scripts/toolchain.sh
. scripts/suite.sh
. scripts/kernel-deb.sh

require_root "apt-get, qemu on a shared image, the daemon"

need=$(guest_tools_needed)
command -v mkfs.ocfs2 > /dev/null || need="$need ocfs2-tools kmod"
# shellcheck disable=SC2086 # word splitting wanted
install_missing kernelpeer $need

kernel_deb run.sh

run_suite kernelpeer 10m ./ha-tests/kernelpeer/
