# Shell functions the ha-tests suites' run.sh scripts share; source it:
#
#	. scripts/suite.sh
#	need=; command -v losetup > /dev/null || need="$need util-linux"
#	install_missing faults $need
#	run_suite faults 15m ./ha-tests/faults/ -args -report "$PWD/FAULTS.md"

# require_root WHY ends the script unless it runs as root, saying why it
# needs to.
require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "run.sh: needs root ($1)" >&2
		exit 1
	fi
}

# not_installed PACKAGE... prints those of the Debian packages that are
# not installed.
not_installed() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q 'install ok installed' || printf ' %s' "$p"
	done
}

# install_missing SUITE PACKAGE... installs the packages with apt-get
# (after an update if the first try fails); nothing when none is given.
install_missing() {
	suite=$1
	shift
	[ $# -gt 0 ] || return 0
	echo "run.sh: installing $*"
	log=/tmp/$suite-apt.log
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "$@" > "$log" 2>&1 || {
		apt-get update > /dev/null 2>&1 || true
		apt-get install -y --no-install-recommends "$@" > "$log" 2>&1 || {
			cat "$log" >&2
			echo "run.sh: apt-get install $* failed" >&2
			exit 1
		}
	}
	rm -f "$log"
}

# run_suite SUITE TIMEOUT GO-TEST-ARGS... runs go test -v on the suite,
# prints "N passed, N failed" from the top-level test results and returns
# non-zero on any failure, including one outside a test (build, panic,
# timeout). CI is passed through: under CI=true a missing requirement
# fails.
run_suite() {
	suite=$1 timeout=$2
	shift 2
	out=$(mktemp "/tmp/$suite-tests-XXXXXX.log")
	CI="${CI:-}" go test -count=1 -v -timeout "$timeout" "$@" 2>&1 | tee "$out" || true
	pass=$(grep -c '^--- PASS' "$out" || true)
	fail=$(grep -c '^--- FAIL' "$out" || true)
	skip=$(grep -c '^--- SKIP' "$out" || true)
	status=0
	if [ "$fail" -ne 0 ] || grep -q '^FAIL' "$out" || ! grep -q '^ok' "$out"; then
		status=1
		[ "$fail" -ne 0 ] || fail=1 # the package failed outside a test
	fi
	rm -f "$out"
	[ "$skip" -eq 0 ] || echo "($skip skipped)"
	echo "$pass passed, $fail failed"
	return $status
}
