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
export PATH="/usr/local/go/bin:$PATH"

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: needs root (loop devices, FUSE mounts, O_DIRECT images)" >&2
	exit 1
fi

need=
command -v mkfs.ocfs2 > /dev/null || need="$need ocfs2-tools"
command -v losetup > /dev/null || need="$need util-linux"
command -v blockdev > /dev/null || need="$need util-linux"
command -v strace > /dev/null || need="$need strace"
command -v setpriv > /dev/null || need="$need util-linux"
[ -e /usr/lib/ocf/resource.d ] || need="$need resource-agents"
if [ -n "$need" ]; then
	echo "run.sh: installing$need"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # word splitting wanted
	apt-get install -y --no-install-recommends $need > /tmp/faults-apt.log 2>&1 || {
		apt-get update > /dev/null 2>&1 || true
		# shellcheck disable=SC2086
		apt-get install -y --no-install-recommends $need > /tmp/faults-apt.log 2>&1 || {
			cat /tmp/faults-apt.log >&2
			echo "run.sh: apt-get install$need failed" >&2
			exit 1
		}
	}
fi
[ -e /dev/fuse ] || modprobe fuse 2> /dev/null || true

out=$(mktemp /tmp/faults-tests-XXXXXX.log)
trap 'rm -f "$out"' EXIT
status=0
CI="${CI:-}" go test -count=1 -v -timeout 15m "$@" ./ha-tests/faults/ -args -report "$PWD/FAULTS.md" 2>&1 | tee "$out" || true
pass=$(grep -c '^--- PASS' "$out" || true)
fail=$(grep -c '^--- FAIL' "$out" || true)
skip=$(grep -c '^--- SKIP' "$out" || true)
if [ "$fail" -ne 0 ] || grep -q '^FAIL' "$out" || ! grep -q '^ok' "$out"; then
	status=1
	[ "$fail" -ne 0 ] || fail=1 # the package failed outside a test (build, panic, timeout)
fi
[ "$skip" -eq 0 ] || echo "($skip skipped)"
echo "$pass passed, $fail failed"
exit $status
