// Package clusterconf reads and writes /etc/ocfs2/cluster.conf as
// ocfs2-tools defines it (o2cb_ctl/jconfig.c for the format,
// o2cb_ctl/o2cb_config.c for the model), so that the o2cb tool reads what
// we write and we read what it writes.
//
//	c, err := clusterconf.Load(clusterconf.DefaultPath)
//	switch {
//	case errors.Is(err, fs.ErrNotExist):     // OCF_ERR_INSTALLED
//	case errors.Is(err, clusterconf.ErrInvalid): // OCF_ERR_CONFIGURED; err lists every
//	                                         // problem as path:line: what
//	}
//	cl, err := c.Cluster("")                 // "" = the only cluster
//	hb, err := cl.Heartbeat()                // ErrNoHeartbeat: global mode, no region
//	for _, r := range hb.Regions {           // global mode only
//		run(r.Layout+"_hb_ctl", "-S", "-u", r.UUID)
//	}
//	me, err := cl.LocalNode(hostname)        // or cl.Node(name) for node_name
//	slots := cl.MaxNodeNumber() + 1
//
// Building a file (what o2cb add-cluster, add-node, add-heartbeat and
// heartbeat-mode do):
//
//	var c clusterconf.Config
//	cl, _ := c.AddCluster("web", clusterconf.ModeGlobal)
//	cl.AddNode(clusterconf.Node{Name: "web1", Number: 1, Address: netip.MustParseAddr("10.0.0.1")})
//	cl.AddRegion("c213a5e1-913b-4a38-a171-01e81bdc2267", "") // stored as C213A5E1...
//	err := c.WriteFile(path) // temp file, fsync, rename; mode 0644
//
// # Format
//
//	cluster:                         header: a name of [A-Za-z0-9_] in column 0, ':',
//	<TAB>name = web                  then only blanks; attributes start with blanks
//	<TAB>heartbeat_mode = global     (o2cb writes a tab), then key, '=', value
//	<TAB>node_count = 2
//	                                 a blank line (or a new header) ends a stanza
//	# a comment                      '#' in column 0 only; it does not end a stanza
//	heartbeat:
//	<TAB>cluster = web
//	<TAB>region = C213A5E1913B4A38A17101E81BDC2267
//	<TAB>layout = ocfs2
//
//	node:
//	<TAB>name = web1
//	<TAB>cluster = web
//	<TAB>number = 1
//	<TAB>ip_address = 10.0.0.1
//	<TAB>ip_port = 7777
//	<TAB>note = first line \         a '\' that ends a line continues the value
//	  second line                    on the next line, taken whole
//
// Keys come in any order and blanks around '=' are skipped. The value is
// the rest of the line: a trailing blank stays in the file (and Write
// keeps it) but not in the value, as ocfs2-tools strips it when it reads
// a value. Unknown stanzas and keys are kept and written back; comments
// too, above what they preceded. A key given twice in a stanza is an
// error here (ocfs2-tools silently takes the last).
//
//	stanza     key             required  rule
//	cluster    name            yes       1 to 16 letters or digits; unique
//	cluster    heartbeat_mode  no        local or global, any case; absent = local
//	cluster    node_count      yes       decimal (o2cb refuses a cluster without it)
//	node       cluster         yes       the name of a cluster stanza
//	node       name            yes       1 to 64 bytes, no blank, control, '/', '\'; unique in the cluster
//	node       number          yes       0 to 254, unique in the cluster
//	node       ip_address      yes       IPv4, dotted quad
//	node       ip_port         yes       1 to 65534 (the kernel's range)
//	heartbeat  cluster         yes       the name of a cluster stanza
//	heartbeat  region          yes       UUID: 32 hex digits, or dashed 8-4-4-4-12, any case;
//	                                     stored as 32 upper-case digits; unique; at most 32 a cluster
//	heartbeat  layout          no        driver <layout>_hb_ctl; absent = ocfs2
//
// # Heartbeat configuration
//
// The o2cb tool always writes heartbeat_mode, and reads a cluster without
// it as local; so do we. Local mode is a complete heartbeat configuration:
// the consumers (mount, fsck) start their own regions, and heartbeat
// stanzas are ignored. A cluster has no heartbeat configuration when it
// is in global mode without any heartbeat stanza: nothing would start a
// region. Cluster.Heartbeat reports that as ErrNoHeartbeat, at the line
// of the cluster stanza.
//
// # What o2cb does to our files
//
// o2cb rewrites the whole file from its own model whenever it changes it:
// clusters, nodes and regions survive; comments, unknown stanzas and
// keys, and the layout key are dropped, and stanzas come out grouped
// (clusters, heartbeats, nodes). It reads a node's host name match as:
// the node name equals the host name up to one of its dots, ignoring
// case (Cluster.LocalNode).
package clusterconf
