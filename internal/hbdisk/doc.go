// Package hbdisk is a userspace disk heartbeat that reads and writes the
// kernel o2hb's exact on-disk slots, so that our nodes and Linux kernel
// nodes see each other on one region.
//
// # On-disk slot
//
// A region is Blocks slots of BlockBytes bytes (the device's logical
// sector size) from StartBlock; node n owns the slot at byte
// (StartBlock+n)*BlockBytes. Each slot holds, little-endian:
//
//	offset  size  field          meaning
//	0       8     hb_seq         wall-clock seconds; ours always advances
//	8       1     hb_node        the writer's node number
//	9       3     pad            zero
//	12      4     hb_cksum       crc32_le(0, slot) with this field zero
//	16      8     hb_generation  random per start; 0 in a clean-stop block
//	24      4     hb_dead_ms     dead_threshold * 2000
//	28      ...   zero           to the end of the slot
//
// # Pieces
//
// Geometry places the slots on the device, and Geometry.WriteInside is
// the check every write passes first: inside the slots and the extent
// that holds them. The kernel's limits (MaxNodes, MaxRegions) and the
// bounds of the heartbeat timing (CheckInterval, CheckDeadThreshold) are
// defined here, once, for every package that takes a node number, a
// region count or a timing.
//
// Slot encodes and decodes a slot in place. Tracker is the kernel's
// liveness rule as a pure state machine. Region runs the loop of one node
// on one device: every interval it reads the configured slots in one
// read, checks that its own slot holds what it wrote last (else another
// writer has our node number: collision), writes its slot, and feeds the
// tracker. Every device call is bounded by the write timeout: a watchdog
// fails the region when a call outlives it, so a hung device fails its
// region and nothing else. The loop is pinned to one OS thread once an
// I/O priority is set for it (SetIOPriority, ocfs2_hb_ctl -P); until then
// it runs unpinned, which costs fewer thread switches.
//
//	r, err := hbdisk.NewRegion(hbdisk.Config{
//		UUID:     "C213A5E1913B4A38A17101E81BDC2267",
//		Device:   "/dev/sdb1",
//		Geometry: hbdisk.Geometry{BlockBytes: 512, StartBlock: 2184, Blocks: 255},
//		Node:     1,
//		Nodes:    []int{1, 2, 3},
//	})
//	if err != nil { ... }
//	if err := r.Start(ctx); err != nil { ... } // returns once steady
//	fmt.Println(r.Status().LiveNodes)
//	r.Stop(ctx) // writes the clean-stop block
package hbdisk
