// Package metrics writes the heartbeat daemon's status in Prometheus' text
// exposition format (version 0.0.4), for node_exporter's textfile
// collector, a timer, or the daemon's own listener. The families are named
// as ha_cluster_exporter names its own, ha_cluster_<subsystem>_<name>,
// with the subsystem o2cb:
//
//	ha_cluster_o2cb_up 1
//	ha_cluster_o2cb_region_state{region="C213A5E1...",device="/dev/sdb",state="steady"} 1
//	ha_cluster_o2cb_region_node_live{region="C213A5E1...",node="n2",node_number="2"} 1
//
// Every figure comes from one status answer (hbclient.Status): what the
// metrics say is what `o2cb-ra status --json` says.
package metrics

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// Prefix starts every family's name.
const Prefix = "ha_cluster_o2cb_"

// ContentType is the exposition format's media type, for an HTTP answer.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Node is a node of the cluster, as cluster.conf names it.
type Node struct {
	Name   string
	Number int
}

// states are the region states, each a series of region_state.
var states = []hbclient.State{hbclient.StateStarting, hbclient.StateSteady, hbclient.StateFailed}

// family is one metric family being written.
type family struct {
	name, kind, help string
	series           []string
}

func (f *family) add(labels [][2]string, v float64) {
	var b strings.Builder
	b.WriteString(Prefix + f.name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l[0] + `="` + escape(l[1]) + `"`)
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(value(v))
	f.series = append(f.series, b.String())
}

// escape escapes a label value: backslash, double quote and newline.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func value(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Write writes the families of st, or only up 0 when st is nil (the
// daemon did not answer). nodes are the cluster's nodes: each gets a
// region_node_live series per region, 1 when the region sees it live;
// without them only the live nodes get one.
func Write(w io.Writer, st *hbclient.Status, nodes []Node) error {
	var fams []*family
	fam := func(name, kind, help string) *family {
		f := &family{name: name, kind: kind, help: help}
		fams = append(fams, f)
		return f
	}
	up := fam("up", "gauge", "Whether the node's heartbeat daemon answered (1) or not (0).")
	if st == nil {
		up.add(nil, 0)
		return flush(w, fams)
	}
	up.add(nil, 1)
	fam("info", "gauge", "The daemon's cluster, heartbeat mode, backend and node; always 1.").add([][2]string{
		{"cluster", st.Cluster}, {"mode", st.Mode}, {"backend", st.Backend}, {"node", st.Node.Name}, {"node_number", strconv.Itoa(st.Node.Number)},
	}, 1)
	fam("heartbeat_interval_seconds", "gauge", "Time between heartbeat iterations.").add(nil, float64(st.IntervalMS)/1000)
	fam("dead_threshold", "gauge", "Iterations without a new heartbeat after which a node is dead.").add(nil, float64(st.DeadThreshold))
	peer := 0.0
	if st.KernelPeer != "" {
		peer = 1
	}
	fam("kernel_peer", "gauge", "Whether this node stepped back from writing because a kernel node shares the cluster (1) or not (0).").add(nil, peer)
	fam("live_nodes", "gauge", "Nodes live in any region.").add(nil, float64(len(st.LiveNodes)))

	state := fam("region_state", "gauge", "The region's state: 1 for the state it is in, 0 for the others.")
	live := fam("region_live_nodes", "gauge", "Nodes the region sees live.")
	nodeLive := fam("region_node_live", "gauge", "Whether the region sees the node live (1) or not (0).")
	refs := fam("region_references", "gauge", "References that hold the region (mounts, resources, the cluster).")
	writeAge := fam("region_last_write_age_seconds", "gauge", "Time since the region's last completed heartbeat write; absent before the first.")
	ownAge := fam("region_own_slot_age_seconds", "gauge", "Time since this node's slot last read back as written (an observer: since its node's slot last changed); absent before the first.")
	latency := fam("region_write_latency_seconds", "gauge", "Duration of the region's last heartbeat write.")
	inFlight := fam("region_io_in_flight_seconds", "gauge", "How long the region's current device call has been in flight; 0 when none is.")
	// Percentiles of a window, not a summary (which would need a sum
	// and a count of every observation): a family each.
	lateness50 := fam("region_iteration_lateness_p50_seconds", "gauge", "How late the region's iterations began, over the last 256: the median.")
	lateness99 := fam("region_iteration_lateness_p99_seconds", "gauge", "How late the region's iterations began, over the last 256: the 99th percentile.")
	retries := fam("region_retries", "gauge", "Retries the daemon began since the failed region failed; 0 when it is not failed.")
	counters := []struct {
		f   *family
		get func(hbclient.RegionStatus) uint64
	}{
		{fam("region_iterations_total", "counter", "Heartbeat iterations of the region."), func(r hbclient.RegionStatus) uint64 { return r.Iterations }},
		{fam("region_reads_total", "counter", "Device reads of the region that completed."), func(r hbclient.RegionStatus) uint64 { return r.Reads }},
		{fam("region_writes_total", "counter", "Device writes of the region that completed."), func(r hbclient.RegionStatus) uint64 { return r.Writes }},
		{fam("region_read_bytes_total", "counter", "Bytes read from the region's device."), func(r hbclient.RegionStatus) uint64 { return r.BytesRead }},
		{fam("region_written_bytes_total", "counter", "Bytes written to the region's device."), func(r hbclient.RegionStatus) uint64 { return r.BytesWritten }},
		{fam("region_read_errors_total", "counter", "Reads of the region that failed."), func(r hbclient.RegionStatus) uint64 { return r.ReadErrors }},
		{fam("region_write_errors_total", "counter", "Writes of the region that failed."), func(r hbclient.RegionStatus) uint64 { return r.WriteErrors }},
		{fam("region_bad_blocks_total", "counter", "Heartbeat blocks of other nodes that failed their checks."), func(r hbclient.RegionStatus) uint64 { return r.BadBlocks }},
		{fam("region_stale_reads_total", "counter", "Reads of this node's slot that returned an older block of its own."), func(r hbclient.RegionStatus) uint64 { return r.StaleReads }},
		{fam("region_failures_total", "counter", "Times the region's heartbeat failed while running."), func(r hbclient.RegionStatus) uint64 { return r.Failures }},
		{fam("region_collisions_total", "counter", "Times another writer with this node's number stopped the region."), func(r hbclient.RegionStatus) uint64 { return r.Collisions }},
		{fam("region_restarts_total", "counter", "Times the daemon restarted the failed region by itself, back steady."), func(r hbclient.RegionStatus) uint64 { return r.Restarts }},
	}
	for _, r := range st.Regions {
		reg := [2]string{"region", r.UUID}
		for _, s := range states {
			v := 0.0
			if r.State == s {
				v = 1
			}
			state.add([][2]string{reg, {"device", r.Device}, {"state", string(s)}}, v)
		}
		live.add([][2]string{reg}, float64(len(r.LiveNodes)))
		for _, n := range WithLive(nodes, r.LiveNodes) {
			v := 0.0
			if slices.Contains(r.LiveNodes, n.Number) {
				v = 1
			}
			nodeLive.add([][2]string{reg, {"node", n.Name}, {"node_number", strconv.Itoa(n.Number)}}, v)
		}
		refs.add([][2]string{reg}, float64(r.Refs))
		if r.LastWriteAge >= 0 {
			writeAge.add([][2]string{reg}, r.LastWriteAge)
		}
		if r.OwnSlotAge >= 0 {
			ownAge.add([][2]string{reg}, r.OwnSlotAge)
		}
		latency.add([][2]string{reg}, r.WriteLatency/1000)
		inFlight.add([][2]string{reg}, r.IOInFlight)
		lateness50.add([][2]string{reg}, r.LatenessP50/1000)
		lateness99.add([][2]string{reg}, r.LatenessP99/1000)
		retries.add([][2]string{reg}, float64(r.Retries))
		for _, c := range counters {
			c.f.add([][2]string{reg}, float64(c.get(r)))
		}
	}
	return flush(w, fams)
}

// WithLive is nodes, the cluster's, and any node of live they lack
// (named by its number), sorted by number: the nodes a report on regions
// whose live nodes are live names.
func WithLive(nodes []Node, live ...[]int) []Node {
	out := slices.Clone(nodes)
	for _, l := range live {
		for _, n := range l {
			if !slices.ContainsFunc(out, func(x Node) bool { return x.Number == n }) {
				out = append(out, Node{Name: strconv.Itoa(n), Number: n})
			}
		}
	}
	slices.SortFunc(out, func(a, b Node) int { return a.Number - b.Number })
	return out
}

// flush writes the families that have series, each with its HELP and
// TYPE lines.
func flush(w io.Writer, fams []*family) error {
	var b strings.Builder
	for _, f := range fams {
		if len(f.series) == 0 {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s%s %s\n# TYPE %s%s %s\n", Prefix, f.name, f.help, Prefix, f.name, f.kind)
		for _, s := range f.series {
			b.WriteString(s + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Sample is one series as Parse reads it: the family's name without
// Prefix, the labels, the value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Parse reads the series of text written by Write (comments skipped),
// for tests and tools that read the figures back.
func Parse(text string) ([]Sample, error) {
	var out []Sample
	for i, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("line %d: no value: %q", i+1, line)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		head := line[:sp]
		s := Sample{Labels: map[string]string{}, Value: v}
		name, labels, hasLabels := strings.Cut(head, "{")
		s.Name = strings.TrimPrefix(name, Prefix)
		if hasLabels {
			labels, ok := strings.CutSuffix(labels, "}")
			if !ok {
				return nil, fmt.Errorf("line %d: labels not closed: %q", i+1, line)
			}
			for labels != "" {
				k, rest, ok := strings.Cut(labels, `="`)
				if !ok {
					return nil, fmt.Errorf("line %d: bad label in %q", i+1, line)
				}
				var val strings.Builder
				j := 0
				for ; j < len(rest) && rest[j] != '"'; j++ {
					if rest[j] == '\\' && j+1 < len(rest) {
						j++
						switch rest[j] {
						case 'n':
							val.WriteByte('\n')
						default:
							val.WriteByte(rest[j])
						}
						continue
					}
					val.WriteByte(rest[j])
				}
				if j == len(rest) {
					return nil, fmt.Errorf("line %d: label value not closed in %q", i+1, line)
				}
				s.Labels[k] = val.String()
				labels = strings.TrimPrefix(rest[j+1:], ",")
			}
		}
		out = append(out, s)
	}
	return out, nil
}
