#!/usr/bin/env bash
# make demo: three nodes heartbeat in global mode on two file-backed OCFS2
# volumes, each node started as Pacemaker would (the o2cb agent's start).
# Node 3's daemon is killed and the others declare it dead; it is restarted
# and rejoins; every node is stopped cleanly. A live table shows every
# region's live nodes as each node sees them: redrawn in place on a
# terminal, one line per change otherwise (make demo | cat, CI logs).
# Needs root (the agents' start and stop do); bin/ is built by make demo.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

INTERVAL_MS=200 # heartbeat interval (the kernel's is 2000)
THRESHOLD=10    # iterations without a change before a node is dead
NODES=(1 2 3)
VOLS=(vol1 vol2)
BIN=$ROOT/bin/o2cb-ra
START_NS=$(date +%s%N)

if [ -t 1 ]; then TTY=1; else TTY=0; fi
if [ "$TTY" = 1 ]; then B=$'\033[1m' R=$'\033[31m' G=$'\033[32m' N=$'\033[0m'; else B='' R='' G='' N=''; fi

say() { printf '\n%s== %s%s  (+%s s)\n' "$B" "$*" "$N" "$(secs_since "$START_NS")"; }
note() { printf '   %s\n' "$@"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
now() { date +%s%N; }
secs_since() { local d=$(( $(now) - $1 )); printf '%d.%02d' $((d / 1000000000)) $((d % 1000000000 / 10000000)); }
ms() { printf '%d.%03d s' $(($1 / 1000)) $(($1 % 1000)); }

# alive PID: the process exists and is not a zombie (PID 1 may not reap).
alive() {
	local s
	[ -n "$1" ] && s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ] && [ "${s%% *}" != X ]
}

# ---- prerequisites -----------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "run as root: the o2cb agent's start and stop need root (sudo make demo)"
{ [ -x "$BIN" ] && [ -x "$ROOT/bin/ocfs2_hb_ctl" ]; } || die "bin/o2cb-ra or bin/ocfs2_hb_ctl missing: run make demo (it builds them)"
pkgs=()
command -v jq >/dev/null || pkgs+=(jq)
for c in mkfs.ocfs2 tunefs.ocfs2 debugfs.ocfs2 o2cb; do command -v $c >/dev/null || { pkgs+=(ocfs2-tools); break; }; done
if [ ${#pkgs[@]} -gt 0 ]; then
	echo "demo: installing ${pkgs[*]} (apt)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# Images need a file system with O_DIRECT (tmpfs has it only since Linux 6.6).
base=${TMPDIR:-/tmp}
[ "$(stat -f -c %T "$base")" != tmpfs ] || base=/var/tmp
work=$(mktemp -d "$base/o2cb-demo.XXXXXX")
CONF=$work/cluster.conf
declare -A apid=() # background agent actions, by node

daemon_pid() { cat "$work/run-n$1/o2hbd.pid" 2>/dev/null || true; }

cleanup() {
	local rc=$? n p pids=() i
	trap - EXIT INT TERM
	set +e
	[ "$TTY" = 0 ] || printf '\033[?25h' # the cursor back
	for n in "${!apid[@]}"; do alive "${apid[$n]}" && kill "${apid[$n]}" 2>/dev/null; done
	for n in "${NODES[@]}"; do
		p=$(daemon_pid "$n")
		# Only our daemon: a stale pid file may name another process by now.
		if alive "$p" && grep -qsF "$work/run-n$n" "/proc/$p/cmdline"; then
			kill -TERM "$p" 2>/dev/null && pids+=("$p")
		fi
	done
	for ((i = 0; i < 60; i++)); do
		local left=()
		for p in "${pids[@]}"; do alive "$p" && left+=("$p"); done
		[ ${#left[@]} -gt 0 ] || break
		[ "$i" -lt 50 ] || kill -KILL "${left[@]}" 2>/dev/null
		sleep 0.05
	done
	[ ${#pids[@]} -eq 0 ] || echo "demo: stopped leftover daemons ${pids[*]}" >&2
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# agent ACTION NODE: the o2cb agent as Pacemaker runs it, through a link named
# o2cb (as /usr/lib/ocf/resource.d/ocfs2/o2cb links to o2cb-ra); it finds
# ocfs2_hb_ctl beside the real o2cb-ra, in bin/.
agent() {
	env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=o2cb \
		OCF_RESKEY_cluster_conf="$CONF" OCF_RESKEY_node_name="n$2" \
		OCF_RESKEY_run_dir="$work/run-n$2" OCF_RESKEY_devices="$work/*.img" \
		OCF_RESKEY_heartbeat_interval_ms=$INTERVAL_MS OCF_RESKEY_dead_threshold=$THRESHOLD \
		"$work/o2cb" "$1" >>"$work/agent-n$2.log" 2>&1
}
# agent_bg ACTION NODE...: run the action on the nodes in the background.
agent_bg() {
	local a=$1 n
	shift
	for n in "$@"; do
		agent "$a" "$n" &
		apid[$n]=$!
	done
}
# agent_wait ACTION: collect the background actions' exit codes.
agent_wait() {
	local n rc
	for n in $(printf '%s\n' "${!apid[@]}" | sort); do
		rc=0
		wait "${apid[$n]}" || rc=$?
		unset "apid[$n]"
		[ "$rc" -eq 0 ] || { tail -n 5 "$work/agent-n$n.log" >&2; die "o2cb $1 on n$n exited $rc"; }
		printf '   o2cb %s on n%s: exit 0 (OCF_SUCCESS)\n' "$1" "$n"
	done
}
agents_running() {
	local n
	for n in "${!apid[@]}"; do alive "${apid[$n]}" && return 0; done
	return 1
}

# ---- the live table ----------------------------------------------------------
# snapshot fills STATE[n,i], LIVE[n,i] (live node numbers, "1,2,3"), GEN[n,i]
# and UNION[n] for every node n and region i from `o2cb-ra status --json`
# (one status call a node, one jq for all).
declare -A STATE=() LIVE=() GEN=() UNION=() SHOWN=()
snapshot() {
	local n i out kind uuid st live gen
	for n in "${NODES[@]}"; do
		for i in "${!UUIDS[@]}"; do STATE[$n,$i]="no daemon" LIVE[$n,$i]="" GEN[$n,$i]=""; done
		UNION[$n]=""
	done
	while IFS=$'\t' read -r n kind uuid st live gen; do
		case $kind in
		U) UNION[$n]=${uuid#-} ;;
		D) for i in "${!UUIDS[@]}"; do STATE[$n,$i]="not started"; done ;;
		R)
			for i in "${!UUIDS[@]}"; do
				[ "${UUIDS[$i]}" != "$uuid" ] || STATE[$n,$i]=$st LIVE[$n,$i]=${live#-} GEN[$n,$i]=$gen
			done
			;;
		esac
	done < <(
		for n in "${NODES[@]}"; do
			out=$("$BIN" status --json --timeout 500ms --run-dir "$work/run-n$n" 2>/dev/null) && printf '{"n":%d,"s":%s}\n' "$n" "$out"
		done | jq -r 'def csv: (. // []) | map(tostring) | join(",") | if . == "" then "-" else . end;
			.n as $n | .s | [$n, "D"], (.regions[] | [$n, "R", .uuid, .state, (.live_nodes | csv), (.generation // "-")]),
			[$n, "U", (.live_nodes | csv)] | @tsv'
	)
}

# livecol CSV: "n1 n2 n3", a node not live shown as "--"; sets COL.
livecol() {
	local k
	COL=''
	for k in "${NODES[@]}"; do
		case ",$1," in *",$k,"*) COL+="${G}n$k${N} " ;; *) COL+="${R}--${N} " ;; esac
	done
	COL=${COL% }
}
row() { # row NODE REGION-LABEL STATE LIVE: sets ROW
	printf -v ROW '%-4s  %-15s  %-11s  %s' "$1" "$2" "$3" "$4"
	ROW=${ROW%"${ROW##*[! ]}"}
}
row NODE REGION STATE "LIVE NODES (as this node sees them)"
HEADER=$ROW
# rows: one per (node, region) and each node's union; sets ROWS and KEYS.
rows() {
	local n i
	ROWS=() KEYS=()
	for n in "${NODES[@]}"; do
		for i in "${!UUIDS[@]}"; do
			KEYS+=("$n,$i")
			if [ "${STATE[$n,$i]}" = "no daemon" ]; then
				row "n$n" "${UUIDS[$i]:0:8} ${VOLS[$i]}" "${R}no daemon${N}" ""
			else
				livecol "${LIVE[$n,$i]}"
				row "n$n" "${UUIDS[$i]:0:8} ${VOLS[$i]}" "${STATE[$n,$i]}" "$COL"
			fi
			ROWS+=("$ROW")
		done
		KEYS+=("$n,u")
		COL=''
		[ "${STATE[$n,0]}" = "no daemon" ] || livecol "${UNION[$n]}"
		row "n$n" "any region" "" "$COL"
		ROWS+=("$ROW")
	done
}

# watch WHAT COND [TIMEOUT_S]: show the table until COND (a function of the
# latest snapshot) holds and no background agent action still runs. Sets
# TOOK_MS, from T0 (default: now).
DRAWN=0
watch() {
	local what=$1 cond=$2 limit=${3:-15} t0=${T0:-$(now)} last=0 t k i n line changed
	T0=''
	SHOWN=()
	DRAWN=0
	while :; do
		snapshot
		t=$(now)
		rows
		changed=0
		for i in "${!KEYS[@]}"; do
			k=${KEYS[$i]}
			if [ "${SHOWN[$k]:-}" != "${ROWS[$i]}" ]; then
				changed=1
				[ "$TTY" = 1 ] || printf '%8s  %s\n' "+$(ms $(((t - t0) / 1000000)))" "${ROWS[$i]}"
				SHOWN[$k]=${ROWS[$i]}
			fi
		done
		if [ "$TTY" = 1 ] && { [ "$changed" = 1 ] || [ $((t - last)) -ge 500000000 ]; }; then
			[ "$DRAWN" = 0 ] || printf '\033[%dA' "$DRAWN"
			printf '\033[?25l\r\033[K   %s\n' "$HEADER"
			for line in "${ROWS[@]}"; do printf '\r\033[K   %s\n' "$line"; done
			printf '\r\033[K   +%s  waiting until %s\n' "$(ms $(((t - t0) / 1000000)))" "$what"
			DRAWN=$((${#ROWS[@]} + 2))
			last=$t
		fi
		if $cond && ! agents_running; then
			TOOK_MS=$(((t - t0) / 1000000))
			if [ "$TTY" = 1 ]; then
				printf '\033[1A\r\033[K   +%s  %s\n\033[?25h' "$(ms "$TOOK_MS")" "$what: done"
				sleep 1 # time to read it
			fi
			return 0
		fi
		if [ $((t - t0)) -gt $((limit * 1000000000)) ]; then
			[ "$TTY" = 0 ] || printf '\033[?25h'
			for n in "${NODES[@]}"; do
				echo "-- n$n: daemon log, then agent log (last lines)"
				tail -n 4 "$work/run-n$n/o2hbd.log" "$work/agent-n$n.log" 2>/dev/null || true
			done >&2
			die "not within $limit s: $what"
		fi
		sleep 0.1
	done
}
[ "$TTY" = 1 ] || printf -v HEADER '%8s  %s' "t" "$HEADER"

# sees NODES -- LIVE: every NODE sees exactly LIVE in every region.
sees() {
	local all="$*" want n i
	want=${all##*-- }
	want=${want// /,}
	for n in "${@}"; do
		[ "$n" = -- ] && break
		for i in "${!UUIDS[@]}"; do
			[ "${STATE[$n,$i]}" = steady ] && [ "${LIVE[$n,$i]}" = "$want" ] || return 1
		done
	done
}
all_see_all() { sees 1 2 3 -- 1 2 3; }
two_drop_3() { sees 1 2 -- 1 2; }
header() { [ "$TTY" = 1 ] || printf '%s\n' "$HEADER"; }

# mark_logs; events PEER SINCE_NS NODE...: the node up and down events of
# PEER the nodes' daemons logged since mark_logs, timed from SINCE_NS.
declare -A LOGMARK=()
mark_logs() {
	local n
	for n in "${NODES[@]}"; do LOGMARK[$n]=$(wc -l <"$work/run-n$n/o2hbd.log" 2>/dev/null || echo 0); done
}
events() {
	local peer=$1 since=$2 n line t r why what
	shift 2
	for n in "$@"; do
		tail -n +"$((LOGMARK[$n] + 1))" "$work/run-n$n/o2hbd.log" | grep -E 'msg="node (up|down)"' | grep " peer=$peer " |
			while read -r line; do
				t=${line#time=}
				t=$(date -d "${t%% *}" +%s%3N)
				r=${line#* region=}
				what=up
				if [[ $line == *'msg="node down"'* ]]; then
					why=${line#* reason=}
					if [[ $why == '"'* ]]; then why=${why#\"} why=${why%%\"*}; else why=${why%% *}; fi
					what="down ($why)"
				fi
				note "n$n's log: node $peer $what in ${r:0:8} at +$(ms $((t - since / 1000000)))"
			done || true
	done
}

# run CMD...: show a command, then run it in the demo's directory.
run() {
	note "\$ $*"
	(cd "$work" && "$@")
}

# ---- 1. format and configure -------------------------------------------------
say "1/6  Format two volumes with global heartbeat; write cluster.conf with o2cb"
note "in $work:"
UUIDS=()
for v in "${VOLS[@]}"; do
	note "\$ truncate -s 64M $v.img"
	truncate -s 64M "$work/$v.img"
	note "\$ mkfs.ocfs2 -q -F -b 4096 -C 4096 -N 4 -L $v --cluster-stack=o2cb --cluster-name=demo \\" \
		"    --global-heartbeat $v.img"
	(cd "$work" && mkfs.ocfs2 -q -F -b 4096 -C 4096 -N 4 -L "$v" --cluster-stack=o2cb \
		--cluster-name=demo --global-heartbeat "$v.img" >/dev/null)
	UUIDS+=("$(tunefs.ocfs2 -Q '%U' "$work/$v.img")")
done
# ocfs2-tools' own o2cb writes it; a regular file's UUID must be given, as
# o2cb add-heartbeat resolves only block devices.
run o2cb --config-file=cluster.conf add-cluster demo
for n in "${NODES[@]}"; do run o2cb --config-file=cluster.conf add-node --ip "127.0.0.$n" --number "$n" demo "n$n"; done
for i in "${!UUIDS[@]}"; do run o2cb --config-file=cluster.conf add-heartbeat demo "${UUIDS[$i]}"; done
run o2cb --config-file=cluster.conf heartbeat-mode demo global
note "(${UUIDS[0]:0:8} is vol1's UUID, ${UUIDS[1]:0:8} vol2's)"
ln -s "$BIN" "$work/o2cb"

# ---- 2. start ----------------------------------------------------------------
say "2/6  Start n1, n2 and n3 as Pacemaker would: the o2cb agent's start, in parallel"
note "for N in 1 2 3, in $work:" \
	"\$ OCF_RESKEY_cluster_conf=\$PWD/cluster.conf OCF_RESKEY_node_name=nN \\" \
	"  OCF_RESKEY_run_dir=\$PWD/run-nN OCF_RESKEY_devices=\"\$PWD/*.img\" \\" \
	"  OCF_RESKEY_heartbeat_interval_ms=$INTERVAL_MS OCF_RESKEY_dead_threshold=$THRESHOLD ./o2cb start" \
	"(./o2cb links to bin/o2cb-ra: the daemon, then ocfs2_hb_ctl -S -u UUID for each region)"
header
agent_bg start "${NODES[@]}"
watch "all three see n1 n2 n3 in both regions" all_see_all
agent_wait start
note "all three see all three in both regions $(ms "$TOOK_MS") after the starts began"
for i in "${!UUIDS[@]}"; do OLDGEN[i]=${GEN[3,$i]}; done

# ---- 3. kill node 3 ----------------------------------------------------------
say "3/6  kill -9 n3's daemon: no clean stop; n1 and n2 declare it dead after the threshold"
p3=$(daemon_pid 3)
mark_logs
header
T0=$(now)
kill -KILL "$p3"
KILLED=$T0
watch "n1 and n2 drop n3 in both regions" two_drop_3 $((THRESHOLD * INTERVAL_MS * 3 / 1000 + 5))
note "kill -9 $p3 (the pid in run-n3/o2hbd.pid), then:"
events 3 "$KILLED" 1 2
note "expected: dead_threshold x interval = $THRESHOLD x $INTERVAL_MS ms = $(ms $((THRESHOLD * INTERVAL_MS))) of unchanged samples" \
	"after the last change seen, +/- an interval for where the kill falls (the table polls: it lags)"
rc=0
agent monitor 3 || rc=$?
note "./o2cb monitor on n3: exit $rc$([ "$rc" = 7 ] && echo ' (OCF_NOT_RUNNING): Pacemaker would recover it with a start')"

# ---- 4. restart node 3 -------------------------------------------------------
say "4/6  Restart n3 with the agent's start: it resumes both regions, with new generations"
mark_logs
header
T0=$(now)
STARTED=$T0
agent_bg start 3
watch "all three see n1 n2 n3 in both regions again" all_see_all
agent_wait start
events 3 "$STARTED" 1 2
note "all three live again $(ms "$TOOK_MS") after the start began (up after two changed samples)" \
	"n3's daemon log: $(grep -c 'msg="resuming region"' "$work/run-n3/o2hbd.log" || true) regions resumed from run-n3/state.json"
for i in "${!UUIDS[@]}"; do
	note "n3's generation in ${VOLS[$i]}: ${OLDGEN[$i]} before the kill, ${GEN[3,$i]} now"
done

# ---- 5. the slots on disk ----------------------------------------------------
say "5/6  vol1's slots as on disk: o2cb-ra slots, and what ocfs2-tools' debugfs.ocfs2 reads"
slots() {
	note "\$ bin/o2cb-ra slots vol1.img"
	(cd "$work" && "$BIN" slots vol1.img) | sed 's/^/   /'
	note "\$ debugfs.ocfs2 -R hb vol1.img"
	(cd "$work" && debugfs.ocfs2 -R hb vol1.img) | sed '/^[[:space:]]*$/d; s/^\t//; s/^/   /'
}
slots
note "(n1 and n2 rewrite their slots every $INTERVAL_MS ms, so the two reads differ there; seq is in" \
	" seconds; dead_ms is dead_threshold x 2000 whatever the interval, as the kernel writes it)"

# ---- 6. clean stop -----------------------------------------------------------
say "6/6  Stop each node with the agent's stop: a generation-0 block, seen at once"
mark_logs
header
T0=$(now)
STOPPED=$T0
agent_bg stop 3
watch "n1 and n2 drop n3 in both regions" two_drop_3
agent_wait stop
events 3 "$STOPPED" 1 2
note "n3 stopped cleanly: no threshold to wait for, its generation-0 block is seen at the next read"
agent_bg stop 1 2
agent_wait stop
for n in "${NODES[@]}"; do
	p=$(daemon_pid "$n")
	! alive "$p" || die "n$n's daemon $p still runs after the agent's stop"
done
note "no daemon runs any more; every slot now holds generation 0:"
slots

# ---- next ---------------------------------------------------------------------
printf '\n%sThe demo took %s s (without installing packages and building).%s\n' "$B" "$(secs_since "$START_NS")" "$N"
cat <<'NEXT'

To run it under Pacemaker, on every node:

    make deb && apt-get install ./bin/o2cb-ra_*.deb   # or: make install

and write the same /etc/ocfs2/cluster.conf on each, with ocfs2-tools' o2cb as
in step 1 (without --config-file; add-heartbeat with the volume's UUID, which
tunefs.ocfs2 -Q '%U\n' DEVICE prints). Then, once, with fencing configured
(the o2cb start refuses stonith-enabled=false), with pcs:

    pcs property set no-quorum-policy=freeze
    pcs resource create o2cb ocf:ocfs2:o2cb region_quorum=any \
        op monitor interval=10s on-fail=fence clone interleave=true

or with crmsh:

    crm configure property no-quorum-policy=freeze
    crm configure primitive o2cb ocf:ocfs2:o2cb params region_quorum=any \
        op monitor interval=10s timeout=20s on-fail=fence
    crm configure clone o2cb-clone o2cb meta interleave=true

A region as its own resource (local mode, a volume outside cluster.conf, or
manage_regions=false on o2cb), with pcs:

    pcs resource create hb-data ocf:ocfs2:hbregion uuid=C213A5E1913B4A38A17101E81BDC2267 \
        op monitor interval=10s on-fail=fence clone interleave=true
    pcs constraint order start o2cb-clone then hb-data-clone
    pcs constraint colocation add hb-data-clone with o2cb-clone

or with crmsh:

    crm configure primitive hb-data ocf:ocfs2:hbregion params uuid=C213A5E1913B4A38A17101E81BDC2267 \
        op monitor interval=10s timeout=20s on-fail=fence
    crm configure clone hb-data-clone hb-data meta interleave=true
    crm configure order o2cb-before-hb Mandatory: o2cb-clone hb-data-clone
    crm configure colocation hb-with-o2cb inf: hb-data-clone o2cb-clone

Then, on any node: o2cb-ra status
NEXT
