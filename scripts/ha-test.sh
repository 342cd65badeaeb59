#!/usr/bin/env bash
# make ha-test: runs every suite under ha-tests/ (each has a run.sh that
# installs what it needs, runs its tests and prints "N passed, N failed"),
# then prints the totals. Exits non-zero if any suite failed.
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0 status=0
for run in ha-tests/*/run.sh; do
	[ -e "$run" ] || continue
	suite=$(basename "$(dirname "$run")")
	echo "== ha-test suite $suite"
	start=$(date +%s)
	out=$(mktemp)
	bash "$run" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	rm -f "$out"
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$rc" -ne 0 ]; then
		status=1
		[ -n "$line" ] || failed=$((failed + 1)) # a suite that died counts as a failure
	fi
	echo "== ha-test suite $suite: ${line:-no summary} (exit $rc, $(( $(date +%s) - start )) s)"
done
echo "ha-test: $passed passed, $failed failed"
exit $status
