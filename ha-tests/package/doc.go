// Package pkgtest is the Debian package suite: `make deb`'s package is
// built twice (the bytes must match), checked with lintian, then installed
// with apt-get into two copies of this machine, with and without
// ocfs2-tools. Each copy is an overlay of the root file system in a mount
// namespace of its own, so the machine itself never changes. There the
// installed agents pass ocf-tester at their installed paths, crmsh and pcs
// read their meta-data, man finds every page, removal is refused while the
// heartbeat daemon runs, and a purge leaves no file of ours behind.
//
// Run it with run.sh (root).
package pkgtest
