package clusterconf

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// Defaults and limits, from ocfs2-tools and the kernel's o2nm; node
// numbers and the regions of a cluster are bounded by hbdisk.MaxNodes and
// hbdisk.MaxRegions.
const (
	DefaultPath       = "/etc/ocfs2/cluster.conf"
	DefaultLayout     = "ocfs2" // layout of a region without a layout key
	DefaultPort       = 7777    // o2cb add-node's default ip_port
	MaxClusterNameLen = 16      // OCFS2_CLUSTER_NAME_LEN
	MaxNodeNameLen    = 64      // O2NM_MAX_NAME_LEN
	MaxPort           = 65534   // the kernel refuses 0 and 65535 and up
)

// Stanza and key names.
const (
	kindCluster   = "cluster"
	kindNode      = "node"
	kindHeartbeat = "heartbeat"

	keyName      = "name"
	keyMode      = "heartbeat_mode"
	keyNodeCount = "node_count"
	keyCluster   = "cluster"
	keyNumber    = "number"
	keyAddress   = "ip_address"
	keyPort      = "ip_port"
	keyRegion    = "region"
	keyLayout    = "layout"
)

// Mode is a cluster's heartbeat mode.
type Mode string

const (
	// ModeLocal: consumers (mount, fsck) start and stop their own regions.
	// A cluster stanza without heartbeat_mode is in local mode, as
	// ocfs2-tools reads it.
	ModeLocal Mode = "local"
	// ModeGlobal: the cluster starts the regions of its heartbeat stanzas.
	ModeGlobal Mode = "global"
)

// ParseMode reads a heartbeat_mode value: local or global, in any case.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(s)); m {
	case ModeLocal, ModeGlobal:
		return m, nil
	}
	return "", fmt.Errorf("heartbeat mode %q: want local or global", s)
}

// Config is a cluster.conf: its clusters with their nodes and heartbeat
// regions, and, for writing it back, every stanza, key and comment as
// read. Build one with Parse or Load, or start from the zero value and
// add clusters. Change it only with its methods.
type Config struct {
	Path string // the file it was read from; used in error messages

	f        file
	clusters []*Cluster
}

// Cluster is a cluster stanza with the nodes and regions that name it.
type Cluster struct {
	cfg       *Config
	st        *stanza
	name      string
	mode      Mode
	nodeCount int
	nodes     []entry[Node]
	regions   []entry[Region]
	// Where in nodes a name and a number are (index+1; 0: free): a
	// cluster of 255 nodes is checked for clashes without 32,000
	// comparisons at every agent action.
	nodeByName   map[string]int
	nodeByNumber [hbdisk.MaxNodes]int
}

// entry ties a node or region to its stanza.
type entry[T any] struct {
	v  T
	st *stanza
}

// Node is a node stanza.
type Node struct {
	Cluster string
	Name    string     // the node's host name, usually without domain
	Number  int        // 0 to 254
	Address netip.Addr // IPv4
	Port    int        // 1 to 65534
	Line    int        // line of its stanza header; 0 if added by a method
}

// Region is a heartbeat stanza.
type Region struct {
	UUID   string // 32 upper-case hex digits
	Layout string // the layout driver is <Layout>_hb_ctl; DefaultLayout if the stanza names none
	Line   int    // line of its stanza header; 0 if added by a method
}

// Heartbeat is a cluster's heartbeat configuration.
type Heartbeat struct {
	Mode    Mode
	Regions []Region // the regions to start, in global mode; nil in local mode
}

// Parse reads a cluster.conf from r. path names the file in errors. All
// errors of the file are returned, joined, each a *LineError wrapping
// ErrSyntax or ErrInvalid; the Config is nil then.
func Parse(path string, r io.Reader) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read cluster configuration %s: %w", path, err)
	}
	return parse(path, data)
}

// parse is Parse of the file's contents.
func parse(path string, data []byte) (*Config, error) {
	errs := &errList{path: path}
	f := parseSyntax(data, errs)
	c := build(path, f, errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load reads the cluster.conf at path. A missing file is an error that
// wraps fs.ErrNotExist (OCF_ERR_INSTALLED for an agent); a file with
// errors is as for Parse (OCF_ERR_CONFIGURED).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cluster configuration: %w", err)
	}
	return parse(path, data)
}

// build makes the model from the stanzas and checks it.
func build(path string, f *file, errs *errList) *Config {
	c := &Config{Path: path, f: *f}
	byName := map[string]*Cluster{}
	for _, s := range f.stanzas {
		if s.kind != kindCluster {
			continue
		}
		cl := &Cluster{cfg: c, st: s, mode: ModeLocal}
		ok := true
		if a := need(s, keyName, "cluster stanza", errs); a == nil {
			ok = false
		} else {
			cl.name = trimValue(a.value)
			if err := checkClusterName(cl.name); err != nil {
				errs.add(a.line, ErrInvalid, "cluster stanza: %v", err)
				ok = false
			}
			if prev := byName[cl.name]; prev != nil {
				errs.add(s.line, ErrInvalid, "cluster %q is configured twice (also at line %d)", cl.name, prev.st.line)
				continue
			}
			// Register even a bad name: its nodes then do not each say
			// that their cluster is missing.
			byName[cl.name] = cl
		}
		what := describe("cluster", cl.name)
		if a := s.get(keyMode); a != nil {
			m, err := ParseMode(trimValue(a.value))
			if err != nil {
				errs.add(a.line, ErrInvalid, "%s: %v", what, err)
				ok = false
			}
			cl.mode = m
		}
		if a := need(s, keyNodeCount, what, errs); a == nil {
			ok = false
		} else if n, err := parseNumber(a.value, 1<<32-1); err != nil {
			errs.add(a.line, ErrInvalid, "%s: node_count %v", what, err)
			ok = false
		} else {
			cl.nodeCount = n
		}
		if ok {
			c.clusters = append(c.clusters, cl)
		}
	}

	// The node stanzas, room for a cluster's nodes (addNodeEntry).
	nodeStanzas := 0
	for _, s := range f.stanzas {
		if s.kind == kindNode {
			nodeStanzas++
		}
	}
	for _, s := range f.stanzas {
		if s.kind != kindNode && s.kind != kindHeartbeat {
			continue
		}
		what := s.kind + " stanza"
		if a := s.get(keyName); s.kind == kindNode && a != nil {
			what = describe("node", trimValue(a.value))
		}
		a := need(s, keyCluster, what, errs)
		var cl *Cluster
		if a != nil {
			name := trimValue(a.value)
			if cl = byName[name]; cl == nil {
				errs.add(a.line, ErrInvalid, "%s: cluster %q is not configured (no cluster stanza has name = %s)", what, name, name)
			}
		}
		if s.kind == kindNode {
			n, ok := buildNode(s, what, errs)
			if cl != nil && ok {
				cl.addNodeEntry(entry[Node]{n, s}, nodeStanzas, errs)
			}
		} else {
			r, ok := buildRegion(s, what, errs)
			if cl != nil && ok {
				cl.addRegionEntry(entry[Region]{r, s}, errs)
			}
		}
	}
	return c
}

func buildNode(s *stanza, what string, errs *errList) (Node, bool) {
	n := Node{Line: s.line}
	ok := true
	if a := s.get(keyCluster); a != nil {
		n.Cluster = trimValue(a.value)
	}
	if a := need(s, keyName, what, errs); a == nil {
		ok = false
	} else if n.Name = trimValue(a.value); checkNodeName(n.Name) != nil {
		errs.add(a.line, ErrInvalid, "node stanza: %v", checkNodeName(n.Name))
		ok = false
	}
	if a := need(s, keyNumber, what, errs); a == nil {
		ok = false
	} else if v, err := parseNumber(a.value, hbdisk.MaxNodes-1); err != nil {
		errs.add(a.line, ErrInvalid, "%s: number %v", what, err)
		ok = false
	} else {
		n.Number = v
	}
	if a := need(s, keyAddress, what, errs); a == nil {
		ok = false
	} else if ip, err := parseIPv4(trimValue(a.value)); err != nil {
		errs.add(a.line, ErrInvalid, "%s: %v", what, err)
		ok = false
	} else {
		n.Address = ip
	}
	if a := need(s, keyPort, what, errs); a == nil {
		ok = false
	} else if v, err := parsePort(a.value); err != nil {
		errs.add(a.line, ErrInvalid, "%s: %v", what, err)
		ok = false
	} else {
		n.Port = v
	}
	return n, ok
}

func buildRegion(s *stanza, what string, errs *errList) (Region, bool) {
	r := Region{Layout: DefaultLayout, Line: s.line}
	ok := true
	if a := need(s, keyRegion, what, errs); a == nil {
		ok = false
	} else if u, err := ocfs2.NormalizeUUID(trimValue(a.value)); err != nil {
		errs.add(a.line, ErrInvalid, "%s: region: %v", what, err)
		ok = false
	} else {
		r.UUID = u
	}
	if a := s.get(keyLayout); a != nil {
		r.Layout = trimValue(a.value)
		if err := checkLayout(r.Layout); err != nil {
			errs.add(a.line, ErrInvalid, "%s: %v", what, err)
			ok = false
		}
	}
	return r, ok
}

// addNodeEntry adds a checked node, or reports why it clashes. The
// cluster's first node makes room for room nodes in the list and its
// index at once: growing them node by node touched twice the memory, and
// an agent action is a new process for which each page is a fault.
func (cl *Cluster) addNodeEntry(e entry[Node], room int, errs *errList) bool {
	if i := cl.nodeByName[e.v.Name]; i > 0 {
		errs.add(e.v.Line, ErrInvalid, "node %q of cluster %q is configured twice (also at line %d)", e.v.Name, cl.name, cl.nodes[i-1].v.Line)
		return false
	}
	if i := cl.nodeByNumber[e.v.Number]; i > 0 {
		o := cl.nodes[i-1].v
		errs.add(e.v.Line, ErrInvalid, "node %q of cluster %q: number %d is taken by node %q (line %d)", e.v.Name, cl.name, e.v.Number, o.Name, o.Line)
		return false
	}
	if cl.nodeByName == nil {
		cl.nodes, cl.nodeByName = make([]entry[Node], 0, room), make(map[string]int, room)
	}
	cl.nodes = append(cl.nodes, e)
	cl.nodeByName[e.v.Name], cl.nodeByNumber[e.v.Number] = len(cl.nodes), len(cl.nodes)
	return true
}

// addRegionEntry adds a checked region, or reports why it clashes.
func (cl *Cluster) addRegionEntry(e entry[Region], errs *errList) bool {
	for _, o := range cl.regions {
		if o.v.UUID == e.v.UUID {
			errs.add(e.v.Line, ErrInvalid, "region %s of cluster %q is configured twice (also at line %d)", e.v.UUID, cl.name, o.v.Line)
			return false
		}
	}
	if len(cl.regions) >= hbdisk.MaxRegions {
		errs.add(e.v.Line, ErrInvalid, "region %s: cluster %q already has %d heartbeat regions, the most o2cb allows", e.v.UUID, cl.name, hbdisk.MaxRegions)
		return false
	}
	cl.regions = append(cl.regions, e)
	return true
}

// need returns the attribute key of s, or reports that it is missing.
func need(s *stanza, key, what string, errs *errList) *attr {
	a := s.get(key)
	if a == nil {
		errs.add(s.line, ErrInvalid, "%s has no %s", what, key)
	}
	return a
}

func describe(kind, name string) string {
	if name == "" {
		return kind + " stanza"
	}
	return kind + " " + strconv.Quote(name)
}

// parseNumber reads a decimal number from 0 to max.
func parseNumber(v string, max int) (int, error) {
	s := trimValue(v)
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > uint64(max) {
		return 0, fmt.Errorf("%s is out of range (0 to %d)", s, max)
	}
	return int(n), nil
}

func parsePort(v string) (int, error) {
	n, err := parseNumber(v, MaxPort)
	if err == nil && n == 0 {
		err = fmt.Errorf("0 is out of range (1 to %d)", MaxPort)
	}
	if err != nil {
		return 0, fmt.Errorf("ip_port %v", strings.Replace(err.Error(), "(0 to", "(1 to", 1))
	}
	return n, nil
}

func parseIPv4(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, fmt.Errorf("ip_address %q is not an IPv4 address", s)
	}
	return ip, nil
}

func checkClusterName(s string) error {
	if s == "" {
		return fmt.Errorf("empty cluster name")
	}
	if len(s) > MaxClusterNameLen {
		return fmt.Errorf("cluster name %q is longer than %d characters", s, MaxClusterNameLen)
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; !('0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z') {
			return fmt.Errorf("cluster name %q: only letters and digits are allowed", s)
		}
	}
	return nil
}

func checkNodeName(s string) error {
	if s == "" {
		return fmt.Errorf("empty node name")
	}
	if len(s) > MaxNodeNameLen {
		return fmt.Errorf("node name %q is longer than %d characters", s, MaxNodeNameLen)
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b == 0x7f || b == '/' || b == '\\' {
			return fmt.Errorf("node name %q: blanks, control characters, '/' and '\\' are not allowed", s)
		}
	}
	return nil
}

func checkLayout(s string) error {
	if s == "" {
		return fmt.Errorf("empty layout (omit the key for %s)", DefaultLayout)
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		alnum := '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
		if !alnum && (i == 0 || b != '_' && b != '-' && b != '.') {
			return fmt.Errorf("layout %q: want letters, digits, '_', '-' and '.', starting with a letter or digit (the driver is %s_hb_ctl)", s, s)
		}
	}
	return nil
}

// Clusters returns the clusters in file order.
func (c *Config) Clusters() []*Cluster { return slices.Clone(c.clusters) }

// Cluster returns the cluster named name; with name "", the only cluster
// of the file. Errors: ErrNoCluster, ErrAmbiguousCluster,
// ErrUnknownCluster.
func (c *Config) Cluster(name string) (*Cluster, error) {
	names := make([]string, len(c.clusters))
	for i, cl := range c.clusters {
		if cl.name == name {
			return cl, nil
		}
		names[i] = cl.name
	}
	list := strings.Join(names, ", ")
	switch {
	case len(c.clusters) == 0:
		return nil, c.errorf(0, ErrNoCluster, "no cluster is configured")
	case name == "" && len(c.clusters) == 1:
		return c.clusters[0], nil
	case name == "":
		return nil, c.errorf(0, ErrAmbiguousCluster, "%d clusters are configured (%s): say which", len(c.clusters), list)
	}
	return nil, c.errorf(0, ErrUnknownCluster, "no cluster %q is configured (clusters: %s)", name, list)
}

func (c *Config) errorf(line int, class error, format string, args ...any) error {
	return &LineError{Path: c.Path, Line: line, Msg: fmt.Sprintf(format, args...), Err: class}
}

// Name returns the cluster's name.
func (cl *Cluster) Name() string { return cl.name }

// Mode returns the heartbeat mode; ModeLocal when the stanza has no
// heartbeat_mode.
func (cl *Cluster) Mode() Mode { return cl.mode }

// NodeCount returns the node_count key (o2cb keeps it, nothing uses it).
func (cl *Cluster) NodeCount() int { return cl.nodeCount }

// Line returns the line of the cluster's stanza header (0 if added by a
// method).
func (cl *Cluster) Line() int { return cl.st.line }

// Nodes returns the cluster's nodes in file order.
func (cl *Cluster) Nodes() []Node {
	out := make([]Node, len(cl.nodes))
	for i, e := range cl.nodes {
		out[i] = e.v
	}
	return out
}

// Regions returns the cluster's heartbeat stanzas in file order, whatever
// the mode.
func (cl *Cluster) Regions() []Region {
	out := make([]Region, len(cl.regions))
	for i, e := range cl.regions {
		out[i] = e.v
	}
	return out
}

// Heartbeat returns the heartbeat configuration. A cluster in local mode
// has one: its consumers manage their regions (heartbeat stanzas are
// ignored then, as by ocfs2-tools). A cluster in global mode needs at
// least one region; without one the error wraps ErrNoHeartbeat.
func (cl *Cluster) Heartbeat() (Heartbeat, error) {
	if cl.mode == ModeLocal {
		return Heartbeat{Mode: ModeLocal}, nil
	}
	if len(cl.regions) == 0 {
		return Heartbeat{}, cl.cfg.errorf(cl.st.line, ErrNoHeartbeat,
			"cluster %q is in global heartbeat mode but has no heartbeat region (add one with: o2cb add-heartbeat %s <device|UUID>)", cl.name, cl.name)
	}
	return Heartbeat{Mode: ModeGlobal, Regions: cl.Regions()}, nil
}

// Node returns the node with exactly this name (ocfs2-tools compares node
// names case-sensitively). The error wraps ErrNoSuchNode.
func (cl *Cluster) Node(name string) (Node, error) {
	for _, e := range cl.nodes {
		if e.v.Name == name {
			return e.v, nil
		}
	}
	return Node{}, cl.cfg.errorf(cl.st.line, ErrNoSuchNode, "cluster %q has no node %q (nodes: %s)", cl.name, name, cl.nodeNames())
}

// LocalNode returns the node of the machine whose host name (uname -n) is
// hostname, by ocfs2-tools' rule: a node name matches when, ignoring ASCII
// case, it equals the host name or the host name up to one of its dots, so
// node "web1" is host "web1.example.com". If several match, the one equal
// to the whole host name wins; otherwise the error wraps
// ErrAmbiguousNode. No match: ErrNoSuchNode.
func (cl *Cluster) LocalNode(hostname string) (Node, error) {
	var match []Node
	for _, e := range cl.nodes {
		if hostMatches(e.v.Name, hostname) {
			match = append(match, e.v)
		}
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case len(match) == 0:
		return Node{}, cl.cfg.errorf(cl.st.line, ErrNoSuchNode, "no node of cluster %q matches host name %q (nodes: %s)", cl.name, hostname, cl.nodeNames())
	}
	for _, n := range match {
		if len(n.Name) == len(hostname) {
			return n, nil
		}
	}
	names := make([]string, len(match))
	for i, n := range match {
		names[i] = n.Name
	}
	return Node{}, cl.cfg.errorf(cl.st.line, ErrAmbiguousNode, "host name %q matches several nodes of cluster %q: %s", hostname, cl.name, strings.Join(names, ", "))
}

// hostMatches is ocfs2-tools' node_is_local comparison.
func hostMatches(node, host string) bool {
	if len(host) < len(node) || !asciiEqualFold(node, host[:len(node)]) {
		return false
	}
	return len(host) == len(node) || host[len(node)] == '.'
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// NodeByNumber returns the node numbered n. The error wraps ErrNoSuchNode.
func (cl *Cluster) NodeByNumber(n int) (Node, error) {
	for _, e := range cl.nodes {
		if e.v.Number == n {
			return e.v, nil
		}
	}
	return Node{}, cl.cfg.errorf(cl.st.line, ErrNoSuchNode, "cluster %q has no node number %d", cl.name, n)
}

// MaxNodeNumber returns the highest configured node number, -1 when the
// cluster has no node.
func (cl *Cluster) MaxNodeNumber() int {
	highest := -1
	for _, e := range cl.nodes {
		highest = max(highest, e.v.Number)
	}
	return highest
}

func (cl *Cluster) nodeNames() string {
	if len(cl.nodes) == 0 {
		return "none"
	}
	names := make([]string, len(cl.nodes))
	for i, e := range cl.nodes {
		names[i] = e.v.Name
	}
	return strings.Join(names, ", ")
}
