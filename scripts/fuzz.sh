#!/usr/bin/env bash
# Runs every fuzz target of the module, one after another, seeded from its
# corpus in testdata/fuzz/<Target>/, each for a number of executions (not
# a duration), and prints one line a target that can be quoted:
#
#   fuzz: ./internal/hbclient FuzzReadMessage: 3000 execs in 4s (750/s), 20 seeds, corpus 40
#
# then a total. A failing target prints its output (and the failing input
# that Go saved under testdata/fuzz) and makes the script exit 1.
#
# Budgets are execution counts (go test -fuzztime Nx) because a duration
# races in Go 1.26's fuzz coordinator: when the deadline fires, the
# coordinator can see the parent context's error before its child's and
# fail the target with a bare "context deadline exceeded" (golang/go#75804,
# fixed in Go 1.27), most often on a loaded machine. A count has no
# deadline to race. Each target's count below is sized to a few seconds on
# one core; the optional argument multiplies them all (scripts/fuzz.sh 10
# for a longer run by hand).
set -euo pipefail
scale=${1:-1}
case $scale in '' | *[!0-9]*)
	echo "fuzz.sh: the scale must be a whole number, not '$scale'" >&2
	exit 2
	;;
esac

# Executions per target at scale 1. A target missing here fails the run:
# every new target gets a budget sized to its speed.
declare -A budget=(
	[FuzzParse]=100000          # cluster.conf parser
	[FuzzReadMessage]=3000      # slow: its seeds reach the 64 KiB bound
	[FuzzDecodeAnswer]=60000    # the monitor's answer, held to encoding/json
	[FuzzDecodeState]=150000
	[FuzzSlotDecode]=150000
	[FuzzParams]=40000
	[FuzzReadSuperblock]=20000  # each run builds a volume image
	[FuzzDirectory]=150000
)

status=0
targets=0
total=0
while read -r file; do
	pkg=./$(dirname "$file")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		if [ -z "${budget[$target]:-}" ]; then
			echo "fuzz: $pkg $target: FAILED: no execution budget in scripts/fuzz.sh"
			status=1
			continue
		fi
		n=$((budget[$target] * scale))
		seeds=$(find "$pkg/testdata/fuzz/$target" -type f 2> /dev/null | wc -l || true) # no corpus directory: 0
		if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "${n}x" "$pkg" 2>&1); then
			echo "fuzz: $pkg $target: FAILED"
			echo "$out"
			status=1
			continue
		fi
		# fuzz: elapsed: 10s, execs: 123456 (12345/sec), new interesting: 3 (total: 10)
		last=$(echo "$out" | grep -E 'elapsed: .*execs: ' | tail -1)
		execs=$(echo "$last" | sed -n 's/.*execs: \([0-9]*\).*/\1/p')
		secs=$(echo "$last" | sed -n 's/.*elapsed: \([0-9]*\)s.*/\1/p')
		rate=$((${execs:-0} / (${secs:-1} > 0 ? ${secs:-1} : 1)))
		corpus=$(echo "$last" | sed -n 's/.*(total: \([0-9]*\)).*/\1/p')
		echo "fuzz: $pkg $target: ${execs:-0} execs in ${secs:-?}s (${rate}/s), $seeds seeds, corpus ${corpus:-?}"
		targets=$((targets + 1))
		total=$((total + ${execs:-0}))
	done
done < <(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -l '^func Fuzz' || true)
echo "fuzz: $targets targets passed, $total execs in all"
exit $status
