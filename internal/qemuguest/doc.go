// Package qemuguest boots Debian's kernel under qemu for the suites that
// run the kernel's own o2cb stack (ha-tests/kernelpeer, kernelstack). It
// is test support: production code never imports it.
//
//	k, err := qemuguest.Unpack(deb, dir)     // dpkg -x, the PVH vmlinux
//	mods, err := k.Modules([]string{"ocfs2"}) // with their dependencies
//	w := qemuguest.NewCPIO(gz)                // the initramfs
//	w.Dir("bin"); w.File("init", 0o755, script); w.Close()
//	m, err := qemuguest.Start(qemuguest.Options{Kernel: k, Initrd: path, Dir: dir, OnLine: f})
//	m.Send("a command line")                  // to the guest's ttyS1
//	m.Kill()                                  // SIGKILL by pid, waits
//
// The guest's ttyS0 (the kernel's console) goes to a file, its ttyS1 is
// qemu's stdin and stdout: a line channel to the test, every line of it
// kept in a transcript with the time since qemu started.
package qemuguest
