package backend

// Observer runs regions read-only: the slots of every configured node are
// read and tracked each interval as our writer does (the same tracker,
// the same status), but nothing is ever written to the device. It is the
// backend of nodes where the kernel's o2hb writes the heartbeat, and of
// nodes that must not write because kernel nodes share the regions.
//
// Resolve is Userspace's: the device search and the superblock reads open
// devices read-only. The engines are hbdisk regions with Config.ReadOnly:
// devices opened O_DIRECT and O_RDONLY (hbdisk.OpenDirectReadOnly) unless
// Open is set; Start returns once every slot has been sampled twice after
// the first read (hbdisk.SteadyReads), so that a node heartbeating there
// is already live; Stop writes no clean-stop block. This node's own slot
// is tracked like a peer's: the engine's status counts this node live
// when someone (the kernel) heartbeats in its slot.
type Observer struct {
	// Userspace resolves regions; its Open, if set, opens the devices
	// (tests put faults there), else hbdisk.OpenDirectReadOnly does.
	Userspace
}

// Run returns an observer of spec's device, ready to Start.
func (o Observer) Run(spec Spec, p Params) (Engine, error) {
	return o.run(spec, p, true)
}
