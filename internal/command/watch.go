package command

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/metrics"
)

// A live view of the daemon, as crm_mon shows a cluster: redrawn every
// interval, one row per region and a column per node, what changed marked
// with "*" for a few redraws, and the last changes listed below.

// watchMarked is how many redraws a change stays marked.
const watchMarked = 5

// watchHistory is how many changes the view lists.
const watchHistory = 10

// change is one thing that changed between two answers of the daemon.
type change struct {
	at     time.Time
	region string // "" for the daemon itself
	node   int    // -1 when not about a node
	text   string
}

// diffStatus lists what changed from prev to cur; nil stands for a
// daemon that did not answer.
func diffStatus(prev, cur *hbclient.Status, now time.Time) []change {
	var out []change
	add := func(region string, node int, format string, a ...any) {
		out = append(out, change{at: now, region: region, node: node, text: fmt.Sprintf(format, a...)})
	}
	switch {
	case prev == nil && cur == nil:
		return nil
	case prev == nil:
		add("", -1, "the daemon answers (pid %d)", cur.PID)
		return out
	case cur == nil:
		add("", -1, "the daemon does not answer")
		return out
	}
	if prev.PID != cur.PID {
		add("", -1, "the daemon restarted (pid %d, was %d)", cur.PID, prev.PID)
	}
	if prev.KernelPeer != cur.KernelPeer {
		if cur.KernelPeer != "" {
			add("", -1, "stepped back: %s", cur.KernelPeer)
		} else {
			add("", -1, "no longer stepped back")
		}
	}
	was := map[string]hbclient.RegionStatus{}
	for _, r := range prev.Regions {
		was[r.UUID] = r
	}
	for _, r := range cur.Regions {
		p, ok := was[r.UUID]
		delete(was, r.UUID)
		if !ok {
			add(r.UUID, -1, "region started on %s: %s", r.Device, r.State)
			continue
		}
		if p.State != r.State {
			add(r.UUID, -1, "%s -> %s", p.State, r.State)
		}
		for _, n := range r.LiveNodes {
			if !slices.Contains(p.LiveNodes, n) {
				add(r.UUID, n, "node %d live", n)
			}
		}
		for _, n := range p.LiveNodes {
			if !slices.Contains(r.LiveNodes, n) {
				add(r.UUID, n, "node %d dead", n)
			}
		}
		if d := r.ReadErrors + r.WriteErrors - p.ReadErrors - p.WriteErrors; d > 0 && r.ReadErrors+r.WriteErrors >= p.ReadErrors+p.WriteErrors {
			add(r.UUID, -1, "%d I/O errors", d)
		}
	}
	for _, uuid := range slices.Sorted(maps.Keys(was)) {
		add(uuid, -1, "region stopped")
	}
	return out
}

// watchView is the state of a live view between redraws.
type watchView struct {
	prev    *hbclient.Status
	started bool
	changes []change       // newest last
	marks   map[string]int // region or region/node -> redraws left marked
}

// update takes the daemon's answer (nil: none) and returns the frame.
func (v *watchView) update(cur *hbclient.Status, askErr error, nodes []metrics.Node, now time.Time) string {
	if v.marks == nil {
		v.marks = map[string]int{}
	}
	for k, n := range v.marks {
		if n <= 1 {
			delete(v.marks, k)
		} else {
			v.marks[k] = n - 1
		}
	}
	if v.started {
		for _, c := range diffStatus(v.prev, cur, now) {
			v.changes = append(v.changes, c)
			key := c.region
			if c.node >= 0 {
				key += "/" + strconv.Itoa(c.node)
			}
			v.marks[key] = watchMarked
		}
		if len(v.changes) > watchHistory {
			v.changes = v.changes[len(v.changes)-watchHistory:]
		}
	}
	v.prev, v.started = cur, true
	return v.frame(cur, askErr, nodes, now)
}

func (v *watchView) mark(key string) string {
	if v.marks[key] > 0 {
		return "*"
	}
	return ""
}

func (v *watchView) frame(st *hbclient.Status, askErr error, nodes []metrics.Node, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "o2cb-ra status --watch, %s (changes marked *; Ctrl-C ends)\n\n", now.Format("2006-01-02 15:04:05"))
	if st == nil {
		fmt.Fprintf(&b, "the heartbeat daemon does not answer: %v\n", askErr)
	} else {
		backend := st.Backend
		if backend == "" {
			backend = "?"
		}
		fmt.Fprintf(&b, "node %s (%d), cluster %s, %s heartbeat, %s backend, interval %d ms, dead threshold %d, pid %d\n",
			st.Node.Name, st.Node.Number, st.Cluster, st.Mode, backend, st.IntervalMS, st.DeadThreshold, st.PID)
		if st.KernelPeer != "" {
			fmt.Fprintf(&b, "stepped back: %s\n", st.KernelPeer)
		}
		b.WriteByte('\n')
		if len(st.Regions) == 0 {
			b.WriteString("no heartbeat region is running\n")
		} else {
			var live [][]int
			for _, r := range st.Regions {
				live = append(live, r.LiveNodes)
			}
			cols := metrics.WithLive(nodes, live...)
			tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
			head := []string{"REGION", "DEVICE", "STATE", "LAST WRITE"}
			for _, n := range cols {
				head = append(head, n.Name)
			}
			fmt.Fprintln(tw, strings.Join(head, "\t"))
			for _, r := range st.Regions {
				age := "never"
				if r.LastWriteAge >= 0 {
					age = fmt.Sprintf("%.1fs", r.LastWriteAge)
				}
				row := []string{v.mark(r.UUID) + r.UUID, r.Device, string(r.State), age}
				for _, n := range cols {
					cell := "-"
					if slices.Contains(r.LiveNodes, n.Number) {
						cell = "live"
					}
					row = append(row, v.mark(r.UUID+"/"+strconv.Itoa(n.Number))+cell)
				}
				fmt.Fprintln(tw, strings.Join(row, "\t"))
			}
			tw.Flush()
			for _, r := range st.Regions {
				if r.Error != "" {
					fmt.Fprintf(&b, "%s: %s\n", r.UUID, r.Error)
				}
			}
		}
	}
	if len(v.changes) > 0 {
		b.WriteString("\nchanges:\n")
		for _, c := range v.changes {
			who := "daemon"
			if c.region != "" {
				who = c.region
			}
			fmt.Fprintf(&b, "  %s  %s: %s\n", c.at.Format("15:04:05"), who, c.text)
		}
	}
	return b.String()
}

// watch redraws the view every interval until ctx ends: on a terminal
// in place, elsewhere one frame after another. ask gets the daemon's
// status; frames, when > 0, ends it after that many.
func watch(ctx context.Context, w io.Writer, tty bool, interval time.Duration, frames int,
	ask func(context.Context) (*hbclient.Status, error), nodes func(cluster string) []metrics.Node) error {
	var v watchView
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; frames <= 0 || i < frames; i++ {
		st, err := ask(ctx)
		if err != nil {
			st = nil // shown as not answering, with why
		}
		var ns []metrics.Node
		if st != nil {
			ns = nodes(st.Cluster)
		}
		f := v.update(st, err, ns, time.Now())
		if tty {
			f = "\x1b[H\x1b[2J" + f // home, clear
		} else if i > 0 {
			f = "\n" + f
		}
		if _, err := io.WriteString(w, f); err != nil {
			return err
		}
		if frames > 0 && i == frames-1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
