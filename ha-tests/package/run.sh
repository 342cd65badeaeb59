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

require_root "mount namespaces, overlays, apt-get"

need=$(not_installed lintian mandoc man-db util-linux resource-agents pacemaker-cli-utils pcs crmsh ocfs2-tools)
# shellcheck disable=SC2086 # word splitting wanted
install_missing package $need

run_suite package 10m ./ha-tests/package/
