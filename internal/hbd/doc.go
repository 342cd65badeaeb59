// Package hbd is the node's heartbeat daemon: the regions this node
// heartbeats on, who holds each of them, and the control socket that
// ocfs2_hb_ctl, the agents and `o2cb-ra status` speak to (the protocol
// and the client are package hbclient's).
//
//	d, err := hbd.New(hbd.Config{ClusterConf: conf, Logger: log})
//	s, err := hbd.Listen(d) // run dir, pid lock, state file, socket
//	err = s.Serve(ctx)      // until ctx ends; then every region stops cleanly
//
// The Daemon's methods (StartRegion, StopRegion, Status, Info,
// SetIOPriority, Reload) are the requests of the protocol; Handle maps a
// request to them and their errors to wire codes (errors.go). Where a
// region's device and slots are, and what heartbeats on it, is the
// Source of Config (package backend; nil: our userspace writer on OCFS2
// volumes). Where the kernel writes the heartbeat, the source is an
// observer (backend.Observer), which writes nothing: the regions' owners,
// states and live nodes are the same, a stop writes no clean-stop block,
// and Config.Backend ("userspace", "observer" or "kernel") is the
// "backend" of status.
//
// # Owners
//
// A region runs while it has at least one owner, each holding
// references:
//
//	owner                    who                                        references
//	global                   the cluster, in global heartbeat mode      one
//	pacemaker:<instance>     an ocf:ocfs2:hbregion resource             one
//	service:<name>           a local-mode consumer (mount point, fsck)  one per start
//
// A start adds a reference and returns once the region is steady; a
// failed or timed-out start drops it again, as does a client that hangs
// up while its start waits. A stop drops one; the last reference gone
// stops the region with a clean-stop block (generation 0), which peers
// take as an explicit down. The cluster and a Pacemaker resource hold one
// reference however often they start, so that their start and stop are
// idempotent.
//
// In global mode the regions are the cluster's: consumers' calls
// (Consumer in the request) succeed and change nothing, "global" may only
// start a region of cluster.conf, a Pacemaker resource may not take a
// region the cluster holds, and at most MaxGlobalRegions run. In local
// mode "global" owns nothing.
//
// # State file
//
// Every change of owners is saved atomically to state.json in the run
// directory (mode 0600):
//
//	{"version":1,"regions":[{"uuid":"0011...EEFF","device":"/dev/sdb","owners":{"global":1,"service:/mnt":2}}]}
//
// A restarted daemon resumes those regions with their owners, each with a
// new generation, searching by UUID when the device has moved. A state
// file that is a symlink, not ours or writable by others is refused
// (ErrUnsafeState): the daemon then does not start.
//
// # Recovery of failed regions
//
// A region fails when its device does not complete a write within the
// write timeout ((dead_threshold-1) intervals) or a start does not settle.
// What happens next follows the kernel's o2hb:
//
//   - Global mode: the kernel keeps heartbeating on a region that timed
//     out, as long as the node keeps its quorum of regions, and the region
//     comes back by itself when the device answers again. The daemon does
//     the same for the cluster's regions: it retries a failed region
//     (a full start with a new generation) once the failed device call
//     has returned, while this node is still seen in another steady
//     region, so that no peer ever took it for dead. When no other region
//     sees this node, nothing restarts by itself: the o2cb monitor fails
//     and the cluster manager recovers (and fences) the node.
//   - Local mode: the kernel fences the node when any region times out.
//     The daemon cannot fence; a failed region stays failed, the monitor
//     reports it, and it restarts only when an owner starts it again.
//   - A region in collision never restarts by itself: an operator must
//     find the other writer first.
//
// An owner's start (ocfs2_hb_ctl -S, o2cb start, hbregion start) always
// restarts a failed region, unless a device call of the failed engine is
// still hung: a new engine would only add a thread blocked on the device.
// While the daemon retries a region, an owner's start is one more retry.
//
// A device that stays broken (read-only, EIO) must not make the region
// flap: retries back off (package retry, Config.Retry), the region stays
// failed in status from its failure until a retry is steady (with
// retries, retry_at, next_retry_s, retrying or retry_blocked), and a
// retry that fails logs one debug line, not the lines of a start and a
// failure.
package hbd
