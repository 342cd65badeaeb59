// Package kernelpeer is the "kernel as a peer" suite (DESIGN tier 5):
// Debian's kernel, booted under qemu (TCG) from a small initramfs, runs
// o2hb as node 1 of a global-heartbeat cluster on an image made by
// mkfs.ocfs2, while our o2cb-ra daemon on the host heartbeats as node 2 on
// the same image file. Each must see the other live and each must see the
// other die.
//
// Everything is in the tests; run them with run.sh, which installs qemu,
// busybox-static and cpio, downloads the kernel package into
// /var/cache/o2cb-ra-tests and points O2CB_TEST_KERNEL_DEB at it.
package kernelpeer
