#!/bin/sh
# The fault suite: real daemons, agents and ocfs2_hb_ctl on mkfs.ocfs2
# images, with faulty devices (FUSE under loop devices), corrupt and
# foreign slots, crashes, hostile input and hostile run directories.
#
# Installs what it needs when missing, runs the Go tests, writes FAULTS.md
# at the top of the checkout and prints "N passed, N failed" from the
# top-level test results. Exits non-zero on any failure.
#
# Environment: CI (passed through: under CI=true a missing requirement
# fails). Arguments are passed to go test (e.g. -run TestStalledWrite).
set -eu

cd "$(dirname "$0")/../.."
. scripts/toolchain.sh
. scripts/suite.sh

require_root "loop devices, FUSE mounts, O_DIRECT images"

need=
command -v mkfs.ocfs2 > /dev/null || need="$need ocfs2-tools"
command -v losetup > /dev/null || need="$need util-linux"
command -v blockdev > /dev/null || need="$need util-linux"
command -v strace > /dev/null || need="$need strace"
command -v setpriv > /dev/null || need="$need util-linux"
[ -e /usr/lib/ocf/resource.d ] || need="$need resource-agents"
# shellcheck disable=SC2086 # word splitting wanted
install_missing faults $need
[ -e /dev/fuse ] || modprobe fuse 2> /dev/null || true

run_suite faults 15m "$@" ./ha-tests/faults/ -args -report "$PWD/FAULTS.md"
