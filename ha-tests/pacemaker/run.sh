#!/bin/sh
# The Pacemaker suites: corosync and pacemakerd started by hand, one node
# and three nodes in namespaces on this machine, running the agents of a
# `make install DESTDIR=...` tree on file-backed OCFS2 regions.
#
# Installs what it needs (corosync, pacemaker, pcs, ocfs2-tools and the
# tools the tests run) when missing, runs the Go tests and prints
# "N passed, N failed" from the top-level test results. Exits non-zero on
# any failure.
#
# Environment: CI (passed through: under CI=true a missing requirement
# fails), O2CB_TEST_PCMK_LOGS=1 (print every node's logs even on success),
# O2CB_TEST_PCMK_KEEP=1 (keep the test's directory with the nodes' logs).
# Arguments are passed to go test (e.g. -run TestOneNode).
set -eu

cd "$(dirname "$0")/../.."
. scripts/toolchain.sh
. scripts/suite.sh

require_root "apt-get, namespaces, mounts, loop devices"

need=
command -v corosync > /dev/null || need="$need corosync"
command -v pacemakerd > /dev/null || need="$need pacemaker"
command -v crm_mon > /dev/null || need="$need pacemaker-cli-utils"
command -v pcs > /dev/null || need="$need pcs"
[ -d /usr/lib/ocf/resource.d ] || need="$need resource-agents"
command -v mkfs.ocfs2 > /dev/null || need="$need ocfs2-tools"
command -v nsenter > /dev/null || need="$need util-linux"
command -v ip > /dev/null || need="$need iproute2"
command -v hostname > /dev/null || need="$need hostname"
command -v make > /dev/null || need="$need make"
command -v fence_dummy > /dev/null || need="$need fence-agents"
# shellcheck disable=SC2086 # word splitting wanted
install_missing pacemaker $need

run_suite pacemaker 15m "$@" ./ha-tests/pacemaker/
