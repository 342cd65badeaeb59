// Package o2net finds kernel o2cb nodes by the first message of their TCP
// protocol, o2net, so that a userspace heartbeat writer can step back when
// one shares its regions. It speaks no more of o2net than the handshake,
// and it never sends one: it only reads what a kernel sends.
//
// A node that heartbeats on a region but never makes an o2net connection
// holds the kernel's quorum decisions (o2quo_hb_up takes a hold that only
// a connection or the node's heartbeat going down releases), makes the
// kernel log "No connection established with node N" every idle timeout,
// and fails the kernel's mounts after 60 s ("could not connect to nodes",
// o2cb_cluster_check). Our writer cannot connect for real, so it must stop
// heartbeating as soon as it finds a kernel peer.
//
//	// me and n are clusterconf.Nodes; n.Number < me.Number.
//	p := o2net.Prober{Local: me.Address}
//	h, err := p.Probe(ctx, netip.AddrPortFrom(n.Address, uint16(n.Port)), time.Second)
//	switch {
//	case err == nil:                           // a kernel node: step back
//	case errors.Is(err, o2net.ErrNoHandshake): // accepted and closed: perhaps a kernel
//	                                           // that does not see us yet; probe again
//	default:                                   // refused, silent, not o2net
//	}
//
//	l, err := o2net.Listen(netip.AddrPortFrom(me.Address, uint16(me.Port)), o2net.ListenConfig{})
//	go l.Serve(ctx, func(p o2net.Peer) { /* a kernel node at p.Addr.Addr(): step back */ })
//
// # The protocol, as fs/ocfs2/cluster/tcp.c has it
//
// The handshake (struct o2net_handshake, tcp_internal.h) is 32 bytes,
// big-endian, sent raw: no struct o2net_msg header precedes it. Each side
// sends one, and reads exactly one before any message (o2net_advance_rx):
//
//	offset  size  field                      value
//	0       8     protocol_version           O2NET_PROTOCOL_VERSION, 11
//	8       8     connector_id               1, on both sides (o2net_init)
//	16      4     o2hb_heartbeat_timeout_ms  O2HB_MAX_WRITE_TIMEOUT_MS = 2000 * (dead_threshold - 1)
//	20      4     o2net_idle_timeout_ms      the cluster's idle_timeout_ms
//	24      4     o2net_keepalive_delay_ms   the cluster's keepalive_delay_ms
//	28      4     o2net_reconnect_delay_ms   the cluster's reconnect_delay_ms
//
// After it come messages: a 24-byte header (be16 magic 0xfa55, or 0xfa56
// status, 0xfa57/0xfa58 keepalive request/response; be16 data_len,
// msg_type, pad; be32 sys_status, status, key, msg_num) and at most
// 4096 - 24 bytes of payload. This package never reads or sends them.
//
// o2net_check_handshake compares, in order, the version, the idle
// timeout, the keepalive delay and the heartbeat timeout; on a mismatch
// it logs "... Disconnecting." and does not reconnect until the node's
// heartbeat goes down and up. The reconnect delay is not compared.
// Handshake.Check mirrors it, so the daemon can say what a kernel would
// refuse. Only a handshake that passes makes the connection valid
// (o2net_set_nn_state: "Connected to node" or "Accepted connection from
// node", o2quo_conn_up).
//
// Who connects: the node with the higher number, once its heartbeat sees
// the lower one live (o2net_hb_node_up_cb, o2net_start_connect, which
// returns at once when this node's number is not the higher). It binds
// its own configured ipv4_address, connects to the peer's ipv4_address and
// ipv4_port, and sends its handshake as soon as the connect completes
// (o2net_state_change on TCP_ESTABLISHED, o2net_sc_connect_completed). A
// connection that fails or closes before it is valid is retried after
// reconnect_delay_ms, with a KERN_INFO line "Connection to node ...
// shutdown, state N"; no quorum hold or fence follows, because
// o2quo_conn_err is reached only from a valid connection or the idle timer,
// which a valid handshake arms.
//
// Who accepts (o2net_accept_one), in this order, closing the connection
// without sending anything at each refusal:
//
//  1. the source address must be a configured node's ipv4_address
//     (o2nm_get_node_by_ip), else KERN_NOTICE "Attempt to connect from
//     unknown node at ADDR:PORT";
//  2. that node's number must be higher than its own, else KERN_NOTICE
//     "Unexpected connect attempt seen at node ... from node ..." (a known
//     address in the wrong direction);
//  3. its heartbeat must see that node live, else nothing is logged at the
//     default log mask (ML_CONN);
//  4. it must not already have a connection with that node, else
//     KERN_NOTICE "... but it already has an open connection".
//
// Then it sends its handshake at once, before it has read the connector's,
// and waits for the connector's. Until that arrives the connection is not
// valid and counts for no quorum. (It is counted by
// o2net_num_connected_peers, which only stops the idle and keepalive
// settings from being changed while it lasts.)
//
// # What this package does
//
// Probe connects (from Prober.Local, which should be this node's
// cluster.conf address: a kernel answers no other) and reads. A kernel
// node numbered below ours that sees our heartbeat sends its handshake;
// Probe returns it and closes. Sending nothing is enough to get it and
// guarantees the kernel never counts us connected. The kernel sees the
// close, logs the KERN_INFO shutdown line, and that is all (an acceptor
// does not reconnect). Probing a node numbered above ours makes it log
// "Unexpected connect attempt" every time: don't. Probing from an address
// that is no node's makes it log "Attempt to connect from unknown node".
// Probing again while the kernel still tears the last probe down may give
// "already has an open connection"; probe every few seconds, not faster.
//
// Listener listens on this node's ip_address:ip_port. A kernel node
// numbered above ours that sees our heartbeat connects every
// reconnect_delay_ms and sends its handshake first; Listener reads it,
// closes without answering, and reports the peer. Closing is what the
// kernel sees anyway when nobody listens (a refused connect); either way
// it logs one KERN_INFO line per attempt and retries. Answering with a
// handshake would be worse: a matching one makes the connection valid, and
// closing it then is a lost connection that holds quorum and can fence
// (o2quo_conn_err after O2NET_QUORUM_DELAY_MS); a mismatching one stops
// the kernel's connects for good with "Disconnecting".
//
// # How the daemon uses it
//
// A region on the userspace backend, once steady, probes every node of
// cluster.conf numbered below this node (from this node's address) and
// serves a Listener on this node's address. The first handshake either
// way (for the Listener, from the address of a node of cluster.conf: a
// kernel connects from nowhere else) means a kernel node heartbeats with
// us, and Handshake.Check against our own timeouts says whether a kernel
// would even accept this node: the writer stops, writing
// its slot one last time with generation 0, so the kernel sees this node
// go down at once (o2quo_hb_down drops the hold; o2net_disconnect_node
// stops the connects) and its mounts proceed. A Listen that fails with
// EADDRINUSE most likely means a kernel o2net listens there: this node's
// o2cb stack is registered in the kernel and the kernel backend applies. A kernel sees the writer only after two of its heartbeat
// iterations, so the first probes may get ErrNoHandshake; keep probing
// while writing, every few seconds, well within the 60 s a kernel mount
// waits.
package o2net
