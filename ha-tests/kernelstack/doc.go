// Package kernelstack is the "kernel's own o2cb stack" suite: two qemu
// guests (TCG) boot Debian's kernel from a small initramfs, share raw
// images made by mkfs.ocfs2 as virtio disks, talk o2net over a qemu link
// that never leaves the machine, and mount OCFS2 on both with
// ocfs2-tools' mount.ocfs2; then one guest is killed and the other must
// evict it and write again without fencing.
//
// The guest's /init (init.sh) is a remote shell: the tests send scripts
// and read back their output, exit status and duration. The initramfs
// also holds our static o2cb-ra and ocfs2_hb_ctl as make install lays
// them out, for the tests that will drive the cluster with our agents.
//
// Run it with run.sh, which installs qemu, busybox-static, cpio and
// ocfs2-tools, downloads the kernel package into /var/cache/o2cb-ra-tests
// and points O2CB_TEST_KERNEL_DEB at it.
package kernelstack
