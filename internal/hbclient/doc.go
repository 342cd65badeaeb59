// Package hbclient is the control protocol of the node's heartbeat
// daemon and its client: what the agents, ocfs2_hb_ctl and `o2cb-ra
// status` say to the daemon, and how they wait for it and stop it.
//
//	c := hbclient.NewClient(rundir.DefaultRunDir)
//	_, err := c.Do(ctx, hbclient.Request{Op: hbclient.OpStart, UUID: uuid, Owner: "service:/mnt"})
//	switch {
//	case errors.Is(err, hbclient.ErrNotRunning):                  // no daemon on the socket
//	case errors.Is(err, hbclient.ErrCode(hbclient.CodeCollision)): // the daemon said why
//	}
//	st, err := c.Status(ctx)
//	for _, r := range st.Regions {
//		if r.State == hbclient.StateSteady { ... }
//	}
//
// # Protocol
//
// JSON lines over the unix socket rundir.SocketName in the run
// directory, mode 0600; the daemon answers only root and its own user
// (SO_PEERCRED) and tells others CodePermission. One connection carries
// one request line and one answer line, then closes. Every request
// carries the version ("v": ProtocolVersion): a request of another
// version is refused with CodeVersion, as is one with an unknown field
// with CodeBadRequest.
//
//	{"v":1,"op":"start","uuid":"00112233445566778899AABBCCDDEEFF","owner":"service:/mnt","timeout_ms":9000}
//	{"v":1,"ok":true,"region":{"uuid":"00112233...","state":"steady",...}}
//	{"v":1,"ok":false,"error":{"code":"collision","message":"stopped after a collision: ...","region":"00112233..."}}
//
// An error about one region names it in the field region, not in its
// message; Error.Error puts the two together.
//
//	op      request fields                       answer
//	ping    -                                    status: node, cluster, mode, pid
//	start   uuid, device?, owner, consumer?      region, once steady; or a note (global mode, consumer)
//	stop    uuid, owner, consumer?               -; or a note; the last owner gone stops the region
//	info    uuid                                 region
//	status  -                                    status: every region, the union of live nodes
//	health  -                                    health: node, backend, interval; each region's state,
//	                                             error, live nodes, owners, own-slot age (what monitors judge)
//	ioprio  uuid, priority (0..7)                -
//	reload  -                                    -; cluster.conf re-read
//
// A request waits at most timeout_ms (the client sets it from its
// deadline); a client that hangs up cancels its request (a start waiting
// for steady drops its reference again). A daemon that hangs up without
// answering, as it does when it dies, is ErrNoAnswer: the request may or
// may not have taken effect.
//
// # Owners
//
// An owner is "global" (OwnerGlobal: the cluster, in global mode),
// "pacemaker:<instance>" or "service:<name>"; ValidOwner checks a name.
// The cluster and a Pacemaker resource hold one reference each, a
// service one a start.
//
// # Codes
//
//	code             meaning
//	bad_request      malformed or unknown request
//	version          protocol version not spoken
//	permission       peer is neither root nor the daemon's user
//	unknown_region   no such region, or no device found for the UUID
//	device_mismatch  the device does not hold the region's UUID
//	not_steady       the region did not settle in time
//	collision        another writer uses our node number
//	global_owned     the region belongs to the cluster (global mode)
//	limit            too many regions
//	io               the device failed
//	config           cluster.conf problem
//	stopping         the daemon is shutting down
//	not_owner        stop for an owner that holds no reference
//
// A failed request is an *Error; errors.Is(err, ErrCode(code)) tests its
// code.
//
// # Limits
//
// A request line is under MaxMessageBytes (64 KiB), an answer under
// MaxResponseBytes (16 MiB: a status of hundreds of regions of 255 live
// nodes each is a few hundred KiB). A longer line is refused without
// being read whole (ErrTooLong). The daemon gives a client 5 s to send
// its request; the client gives a call 10 s unless its context ends
// sooner.
//
// # Lifecycle
//
// Client.WaitAnswering waits for a daemon that is starting; StopDaemon
// signals one and waits until its process is gone and it no longer holds
// the run directory's pid lock.
package hbclient
