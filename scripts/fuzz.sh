#!/usr/bin/env bash
# Runs every fuzz target of the module for the given time (default 10s),
# one after another, seeded from its corpus in testdata/fuzz/<Target>/,
# and prints one line a target that can be quoted:
#
#   fuzz: ./internal/hbd FuzzReadMessage: 123456 execs in 10s (12345/s), 20 seeds, corpus 40
#
# then a total. A failing target prints its output (and the failing input
# that Go saved under testdata/fuzz) and makes the script exit 1.
set -euo pipefail
fuzztime=${1:-10s}
status=0
targets=0
total=0
while read -r file; do
	pkg=./$(dirname "$file")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		seeds=$(find "$pkg/testdata/fuzz/$target" -type f 2> /dev/null | wc -l)
		if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
			echo "fuzz: $pkg $target: FAILED"
			echo "$out"
			status=1
			continue
		fi
		# fuzz: elapsed: 10s, execs: 123456 (12345/sec), new interesting: 3 (total: 10)
		last=$(echo "$out" | grep -E 'elapsed: .*execs: ' | tail -1)
		execs=$(echo "$last" | sed -n 's/.*execs: \([0-9]*\).*/\1/p')
		secs=$(echo "$last" | sed -n 's/.*elapsed: \([0-9]*\)s.*/\1/p')
		rate=$(( ${execs:-0} / (${secs:-1} > 0 ? ${secs:-1} : 1) ))
		corpus=$(echo "$last" | sed -n 's/.*(total: \([0-9]*\)).*/\1/p')
		echo "fuzz: $pkg $target: ${execs:-0} execs in ${secs:-?}s (${rate}/s), $seeds seeds, corpus ${corpus:-?}"
		targets=$((targets + 1))
		total=$((total + ${execs:-0}))
	done
done < <(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -l '^func Fuzz' || true)
echo "fuzz: $targets targets passed, $total execs in all"
exit $status
