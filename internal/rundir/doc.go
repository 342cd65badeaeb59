// Package rundir is the heartbeat daemon's run directory: the names of
// the files in it, the rule that keeps it safe from other users, and the
// pid file's lock that tells whether a daemon holds it.
//
//	if err := rundir.PrepareRunDir(dir); errors.Is(err, rundir.ErrUnsafeRunDir) {
//		// someone other than root (or us) could replace the directory
//	}
//	lock, err := rundir.LockPID(dir) // the daemon; ErrAlreadyRunning if another holds it
//	defer lock.Close()
//
//	if rundir.Held(dir) {            // anyone: does a daemon hold it?
//		pid := rundir.ReadPID(dir)
//	}
//
// # Layout
//
//	name                mode  written by  content
//	o2hbd.sock          0600  daemon      control socket (see package hbclient)
//	o2hbd.pid           0600  daemon      its pid; locked (flock, exclusive) while it runs
//	state.json          0600  daemon      regions and their owners, resumed on restart
//	o2hbd.log           0600  daemon      its log when there is no syslog
//
// The directory is 0700, owned by the daemon's user; every directory
// above it is owned by root or that user and not writable by group or
// others unless sticky. Files in it are opened with OpenOwn: never
// through a symlink, and only if they are regular files of ours that
// group and others cannot write.
package rundir
