#!/usr/bin/env bash
# make demo: three nodes heartbeat on two file-backed OCFS2 volumes; one
# dies and comes back. Needs root only to install packages (make deps).
set -euo pipefail
cd "$(dirname "$0")/.."

INTERVAL_MS=200
THRESHOLD=10
BIN=$PWD/bin/o2cb-ra

work=$(mktemp -d /tmp/o2cb-demo.XXXXXX)
declare -A pid=()
cleanup() {
	for n in "${!pid[@]}"; do
		kill "${pid[$n]}" 2>/dev/null || true
	done
	for n in "${!pid[@]}"; do
		wait "${pid[$n]}" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Formatting two 64 MiB file-backed OCFS2 volumes with global heartbeat"
for v in vol1 vol2; do
	truncate -s 64M "$work/$v.img"
	mkfs.ocfs2 -q -F -b 4096 -C 4096 -N 4 -L "$v" --cluster-stack=o2cb \
		--cluster-name=demo --global-heartbeat "$work/$v.img"
	echo "$work/$v.img: UUID $(tunefs.ocfs2 -Q '%U' "$work/$v.img")"
done

start_node() {
	local n=$1
	"$BIN" heartbeat --quiet --node "$n" --nodes 1,2,3 \
		--interval-ms $INTERVAL_MS --dead-threshold $THRESHOLD \
		"$work/vol1.img" "$work/vol2.img" >>"$work/node$n.log" 2>&1 &
	pid[$n]=$!
}

say "Starting nodes 1, 2 and 3 (interval ${INTERVAL_MS} ms, dead threshold $THRESHOLD)"
for n in 1 2 3; do start_node $n; done
sleep 2
for n in 1 2 3; do echo "-- node $n"; cat "$work/node$n.log"; done

say "The slots on vol1, as on disk"
"$BIN" slots "$work/vol1.img"

say "Killing node 3 (SIGKILL: no clean stop); the others must declare it dead"
: >"$work/node1.log"; : >"$work/node2.log"
kill -9 "${pid[3]}"; wait "${pid[3]}" 2>/dev/null || true; unset 'pid[3]'
killed=$(date +%s.%N)
sleep $(((THRESHOLD + 3) * INTERVAL_MS / 1000 + 1))
for n in 1 2; do echo "-- node $n"; cat "$work/node$n.log"; done
echo "(killed at $(date -d @"$killed" +%T.%3N); dead threshold x interval = $((THRESHOLD * INTERVAL_MS)) ms)"

say "Restarting node 3: it rejoins with a new generation"
: >"$work/node1.log"; : >"$work/node3.log"
start_node 3
sleep 2
for n in 1 3; do echo "-- node $n"; cat "$work/node$n.log"; done

say "Stopping every node cleanly (SIGTERM: a generation-0 block each)"
for n in "${!pid[@]}"; do kill -TERM "${pid[$n]}"; done
for n in "${!pid[@]}"; do wait "${pid[$n]}" || true; done
pid=()
"$BIN" slots "$work/vol1.img"

say "What ocfs2-tools' own debugfs.ocfs2 reads in those slots"
debugfs.ocfs2 -R hb "$work/vol1.img"

say "Done. To run it under Pacemaker"
cat <<'NEXT'
Install (binaries in /usr/lib/o2cb-ra, agents in /usr/lib/ocf/resource.d/ocfs2):

    make install

Put /etc/ocfs2/cluster.conf (heartbeat_mode = global and a heartbeat: stanza
per region, e.g. with: o2cb add-heartbeat <cluster> <device>) on every node, then
with pcs:

    pcs resource create o2cb ocf:ocfs2:o2cb region_quorum=any \
        op monitor interval=10s on-fail=fence clone interleave=true

or with crmsh:

    crm configure primitive o2cb ocf:ocfs2:o2cb params region_quorum=any \
        op monitor interval=10s timeout=20s on-fail=fence
    crm configure clone o2cb-clone o2cb meta interleave=true

A region of its own (local mode, or a volume outside cluster.conf):

    pcs resource create hb-data ocf:ocfs2:hbregion uuid=<volume UUID> \
        op monitor interval=10s on-fail=fence clone interleave=true
    pcs constraint order start o2cb-clone then hb-data-clone
    pcs constraint colocation add hb-data-clone with o2cb-clone

Then: o2cb-ra status
NEXT
