#!/bin/sh
# The Debian package suite: builds the package with scripts/deb.sh, lints
# it, and installs, tests and purges it in throwaway overlays of the root
# file system (see doc.go). Installs what it needs (lintian, mandoc,
# man-db, util-linux, resource-agents, pacemaker-cli-utils, pcs, crmsh,
# ocfs2-tools), prints "N passed, N failed" and exits non-zero on any
# failure.
set -eu

cd "$(dirname "$0")/../.."
. scripts/toolchain.sh
. scripts/suite.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: needs root (mount namespaces, overlays, apt-get)" >&2
	exit 1
fi

need=
for p in lintian mandoc man-db util-linux resource-agents pacemaker-cli-utils pcs crmsh ocfs2-tools; do
	dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q 'install ok installed' || need="$need $p"
done
# shellcheck disable=SC2086 # word splitting wanted
install_missing package $need

run_suite package 10m ./ha-tests/package/
