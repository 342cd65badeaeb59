// Package version holds the version string both binaries print; the
// Makefile sets it at link time from git describe.
package version

// Version is the release, or "dev" for a build outside the Makefile.
var Version = "dev"
