package clusterconf

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/o2cb-ra/o2cb-ra/internal/atomicfile"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// Write writes the configuration in ocfs2-tools' format. Stanzas, keys,
// comments and values are written as they were read (unknown stanzas and
// keys included); what the methods added follows o2cb's layout.
func (c *Config) Write(w io.Writer) error {
	return writeSyntax(w, &c.f)
}

// WriteFile replaces the file at path atomically with atomicfile: a
// temporary file in the same directory, mode 0644, synced and renamed
// over path, then the directory synced. A failure before the rename
// leaves path untouched and no temporary file; a crash leaves the old
// content or the new, and a leftover temporary file that the next write
// removes.
func (c *Config) WriteFile(path string) error {
	var b bytes.Buffer
	if err := c.Write(&b); err != nil {
		return fmt.Errorf("write cluster configuration %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write cluster configuration %s: %w", path, err)
	}
	return nil
}

// kindRank orders new stanzas as o2cb writes them: clusters, heartbeat
// regions, nodes.
var kindRank = map[string]int{kindCluster: 1, kindHeartbeat: 2, kindNode: 3}

// insert adds s after the last stanza of its kind or of an earlier one.
func (c *Config) insert(s *stanza) {
	at := -1
	for i, o := range c.f.stanzas {
		if r := kindRank[o.kind]; r != 0 && r <= kindRank[s.kind] {
			at = i
		}
	}
	if at < 0 {
		at = len(c.f.stanzas) - 1
	}
	c.f.stanzas = slices.Insert(c.f.stanzas, at+1, s)
}

func (c *Config) remove(s *stanza) {
	c.f.stanzas = slices.DeleteFunc(c.f.stanzas, func(o *stanza) bool { return o == s })
}

// AddCluster adds a cluster stanza, as `o2cb add-cluster` and
// `o2cb heartbeat-mode` would.
func (c *Config) AddCluster(name string, mode Mode) (*Cluster, error) {
	if err := checkClusterName(name); err != nil {
		return nil, c.errorf(0, ErrInvalid, "add cluster: %v", err)
	}
	m, err := ParseMode(string(mode))
	if err != nil {
		return nil, c.errorf(0, ErrInvalid, "add cluster %q: %v", name, err)
	}
	for _, cl := range c.clusters {
		if cl.name == name {
			return nil, c.errorf(cl.st.line, ErrExists, "add cluster: cluster %q exists", name)
		}
	}
	s := &stanza{kind: kindCluster}
	s.set(keyName, name)
	s.set(keyMode, string(m))
	s.set(keyNodeCount, "0")
	c.insert(s)
	cl := &Cluster{cfg: c, st: s, name: name, mode: m}
	c.clusters = append(c.clusters, cl)
	return cl, nil
}

// SetMode sets the heartbeat mode, as `o2cb heartbeat-mode` does.
func (cl *Cluster) SetMode(mode Mode) error {
	m, err := ParseMode(string(mode))
	if err != nil {
		return cl.cfg.errorf(0, ErrInvalid, "cluster %q: %v", cl.name, err)
	}
	if a := cl.st.get(keyMode); a == nil || !strings.EqualFold(trimValue(a.value), string(m)) {
		cl.st.set(keyMode, string(m))
	}
	cl.mode = m
	return nil
}

// AddNode adds a node stanza to the cluster, as `o2cb add-node` does
// (node_count goes up by one). n.Cluster and n.Line are ignored; a zero
// n.Port means DefaultPort.
func (cl *Cluster) AddNode(n Node) (Node, error) {
	n.Cluster, n.Line = cl.name, 0
	if n.Port == 0 {
		n.Port = DefaultPort
	}
	fail := func(class error, format string, args ...any) (Node, error) {
		return Node{}, cl.cfg.errorf(0, class, "add node %q to cluster %q: %s", n.Name, cl.name, fmt.Sprintf(format, args...))
	}
	switch {
	case checkNodeName(n.Name) != nil:
		return fail(ErrInvalid, "%v", checkNodeName(n.Name))
	case n.Number < 0 || n.Number >= hbdisk.MaxNodes:
		return fail(ErrInvalid, "number %d is out of range (0 to %d)", n.Number, hbdisk.MaxNodes-1)
	case !n.Address.Is4():
		return fail(ErrInvalid, "address %v is not an IPv4 address", n.Address)
	case n.Port < 1 || n.Port > MaxPort:
		return fail(ErrInvalid, "port %d is out of range (1 to %d)", n.Port, MaxPort)
	}
	for _, e := range cl.nodes {
		if e.v.Name == n.Name || e.v.Number == n.Number {
			return fail(ErrExists, "node %q has number %d", e.v.Name, e.v.Number)
		}
	}
	s := &stanza{kind: kindNode}
	s.set(keyCluster, cl.name)
	s.set(keyNumber, strconv.Itoa(n.Number))
	s.set(keyPort, strconv.Itoa(n.Port))
	s.set(keyAddress, n.Address.String())
	s.set(keyName, n.Name)
	cl.cfg.insert(s)
	cl.nodes = append(cl.nodes, entry[Node]{n, s})
	cl.setNodeCount(cl.nodeCount + 1)
	return n, nil
}

// RemoveNode removes the named node, as `o2cb remove-node` does
// (node_count goes down by one).
func (cl *Cluster) RemoveNode(name string) error {
	i := slices.IndexFunc(cl.nodes, func(e entry[Node]) bool { return e.v.Name == name })
	if i < 0 {
		_, err := cl.Node(name)
		return err
	}
	cl.cfg.remove(cl.nodes[i].st)
	cl.nodes = slices.Delete(cl.nodes, i, i+1)
	cl.setNodeCount(max(cl.nodeCount-1, 0))
	return nil
}

func (cl *Cluster) setNodeCount(n int) {
	cl.nodeCount = n
	cl.st.set(keyNodeCount, strconv.Itoa(n))
}

// AddRegion adds a heartbeat stanza for the region uuid (any case, dashes
// allowed) with layout ("" or DefaultLayout: no layout key, as o2cb
// writes it).
func (cl *Cluster) AddRegion(uuid, layout string) (Region, error) {
	u, err := ocfs2.NormalizeUUID(uuid)
	if err != nil {
		return Region{}, cl.cfg.errorf(0, ErrInvalid, "add region to cluster %q: %v", cl.name, err)
	}
	if layout == "" {
		layout = DefaultLayout
	}
	if err := checkLayout(layout); err != nil {
		return Region{}, cl.cfg.errorf(0, ErrInvalid, "add region %s to cluster %q: %v", u, cl.name, err)
	}
	for _, e := range cl.regions {
		if e.v.UUID == u {
			return Region{}, cl.cfg.errorf(e.v.Line, ErrExists, "add region: cluster %q has region %s", cl.name, u)
		}
	}
	if len(cl.regions) >= hbdisk.MaxRegions {
		return Region{}, cl.cfg.errorf(0, ErrInvalid, "add region %s: cluster %q has %d regions, the most o2cb allows", u, cl.name, hbdisk.MaxRegions)
	}
	s := &stanza{kind: kindHeartbeat}
	s.set(keyCluster, cl.name)
	s.set(keyRegion, u)
	if layout != DefaultLayout {
		s.set(keyLayout, layout)
	}
	cl.cfg.insert(s)
	r := Region{UUID: u, Layout: layout}
	cl.regions = append(cl.regions, entry[Region]{r, s})
	return r, nil
}

// RemoveRegion removes the heartbeat stanza of uuid (any case, dashes
// allowed). The error wraps ErrInvalid for a malformed UUID and
// ErrNoSuchRegion for one the cluster does not have.
func (cl *Cluster) RemoveRegion(uuid string) error {
	u, err := ocfs2.NormalizeUUID(uuid)
	if err != nil {
		return cl.cfg.errorf(0, ErrInvalid, "remove region from cluster %q: %v", cl.name, err)
	}
	i := slices.IndexFunc(cl.regions, func(e entry[Region]) bool { return e.v.UUID == u })
	if i < 0 {
		return cl.cfg.errorf(cl.st.line, ErrNoSuchRegion, "cluster %q has no region %s", cl.name, u)
	}
	cl.cfg.remove(cl.regions[i].st)
	cl.regions = slices.Delete(cl.regions, i, i+1)
	return nil
}
