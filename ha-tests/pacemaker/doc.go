// Package pacemaker is the "Pacemaker for real" suite (DESIGN tier 4):
// corosync and pacemakerd, started by hand, run the agents of a
// `make install DESTDIR=...` tree on file-backed OCFS2 regions.
//
//   - TestOneNode: one node without fencing (o2cb is told so,
//     allow_stonith_disabled); the o2cb clone (global mode, two regions of
//     cluster.conf), an hbregion resource for a third region ordered
//     after it and colocated with it, `pcs resource disable`/`enable`,
//     the daemon SIGKILLed ten times in a row (each time both resources
//     recovered, no fail count INFINITY, the time to recovery measured),
//     and a clean stop.
//   - TestThreeNodes: three nodes on one machine. With fencing (a
//     fence_dummy device per node, observed through the fencer's history
//     and the devices' status files): one node's cluster.conf broken (its
//     monitor fails naming file and line, the others keep running, nobody
//     is fenced; repaired and cleaned up, all three run), the ten kills
//     with hbregion, and parameter changes (dead_threshold restarts
//     every instance; region_quorum only reloads, the daemons untouched).
//     Then without fencing: a node cut off (its daemon killed, its link
//     down) and rejoined, and a region device that fails on one node only.
//
// The monitors run every 3 s (o2cb) and 1 s (hbregion): after a daemon
// dies, hbregion's monitor notices first as a rule, the recovery order
// that once made hbregion's start fail for good; the suites assert that
// recovery works whatever the order.
//
// Every node is a set of namespaces held by one process: a PID namespace
// (its init reaps the detached heartbeat daemon, and killing it kills
// everything the node ran), mount namespace (private tmpfs /run and
// /dev/shm, private /etc/corosync, /var/lib/{corosync,pacemaker},
// /var/log/{corosync,pacemaker}, and the provider ocfs2 of the install
// tree under /usr/lib/ocf/resource.d), UTS (host name nodeN: the agents'
// default node name), IPC and network namespace (libqb's abstract sockets,
// corosync's traffic). The three-node suite adds a switch: a network
// namespace with a bridge and one veth per node; addresses exist only
// inside these namespaces. Nothing on the host is changed but loop devices
// (three-node suite), all removed when a test ends, pass or fail.
//
// Run it with run.sh (installs corosync and pacemaker if missing, prints
// "N passed, N failed"), or `go test -count=1 -v ./ha-tests/pacemaker/` as
// root. Without root or the tools the tests skip, and fail under CI=true.
package pacemaker
