#!/usr/bin/env bash
# Runs every fuzz target of the module for the given time (default 10s),
# one after another, and prints how many executions each did.
set -euo pipefail
fuzztime=${1:-10s}
status=0
while read -r file; do
	pkg=./$(dirname "$file")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "fuzz: $pkg $target for $fuzztime"
		if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
			echo "$out"
			status=1
		else
			echo "$out" | grep -E 'elapsed:.*execs' | tail -1 || true
		fi
	done
done < <(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -l '^func Fuzz' || true)
exit $status
