// Command bench measures o2cb-ra against the performance targets of its
// design with real daemons on image files, prints a table of targets and
// measured values, and writes it to BENCHMARKS.md with the machine it ran
// on. It needs root (O_DIRECT images, the daemon's run directories) and
// ocfs2-tools; `make bench` builds the binaries and runs it.
//
//	go run ./bench -bin bin -out BENCHMARKS.md
//
// Each scenario has its file: join.go (start to steady, failure
// detection), load.go (one daemon's cost with many regions, on disk and
// on tmpfs), agents.go (the agents' latency), hung.go (monitor with a hung
// device). cluster.go holds the images, cluster.conf and daemons they
// share, made with internal/fixture and internal/clustertest (as the
// tests make theirs); report.go the table.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
