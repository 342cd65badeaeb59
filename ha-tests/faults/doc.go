// Package faults is the fault suite: real daemons, agents and
// ocfs2_hb_ctl on images made by mkfs.ocfs2, some behind a FUSE-backed
// loop device whose I/O fails, stalls or goes stale on command
// (internal/faultdev), others with corrupt and foreign slots written
// beside them, daemons killed at awkward moments, hostile clients and
// hostile run directories.
//
// Every test records what it injected, what was expected and what was
// observed; `run.sh` (and `make fault-test`) writes them to FAULTS.md
// at the top of the checkout. Each image used is hashed outside its
// heartbeat slot area before the test and checked after it: nothing may
// be written outside the slots.
//
// It needs root, ocfs2-tools and FUSE; run.sh installs what is missing.
package faults
