package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// options are the command line's.
type options struct {
	bin, out, only string
	quick, tmpfs   bool
}

// scenarios are the names -only takes, in the order they run.
var scenarios = []string{"join", "load32", "agents", "tmpfs", "breakdown", "load256", "hung", "scale255", "scale32x64"}

// checkOnly refuses a name -only does not know: a typo would otherwise
// run nothing and write an empty report over the last one.
func (o options) checkOnly() error {
	if o.only == "" {
		return nil
	}
	for _, n := range strings.Split(o.only, ",") {
		if !slices.Contains(scenarios, n) {
			return fmt.Errorf("-only: unknown scenario %q (known: %s)", n, strings.Join(scenarios, ", "))
		}
	}
	return nil
}

// want reports whether scenario name is to run.
func (o options) want(name string) bool {
	if o.only == "" {
		return (name != "tmpfs" || o.tmpfs) && name != "scale255" && name != "scale32x64"
	}
	return slices.Contains(strings.Split(o.only, ","), name)
}

// run is the command: it returns the exit status, 2 for bad flags and 1
// when a measurement could not be made.
func run(args []string, stdout, stderr io.Writer) (code int) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bin, "bin", "bin", "directory with o2cb-ra and ocfs2_hb_ctl")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write (empty: none)")
	fs.BoolVar(&o.quick, "quick", false, "shorter measurement windows")
	fs.StringVar(&o.only, "only", "", "comma-separated scenarios to run (join, load32, agents, tmpfs, breakdown, load256, hung, scale255, scale32x64); empty: all but scale255 and scale32x64 (tmpfs as -tmpfs says)")
	fs.BoolVar(&o.tmpfs, "tmpfs", true, "also run the 32-region load with its images on tmpfs, to tell the device's cost from ours")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := o.checkOnly(); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	logger := log.New(stderr, "", 0)
	if os.Geteuid() != 0 {
		logger.Print("bench: needs root (O_DIRECT on image files, daemon run directories)")
		return 1
	}
	for _, tool := range []string{"mkfs.ocfs2", "tunefs.ocfs2"} {
		if _, err := exec.LookPath(tool); err != nil {
			logger.Printf("bench: %s not found (make deps installs ocfs2-tools)", tool)
			return 1
		}
	}
	abs, err := filepath.Abs(o.bin)
	if err != nil {
		logger.Print(err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "o2cb-bench")
	if err != nil {
		logger.Print(err)
		return 1
	}
	os.Chmod(tmp, 0o755)
	b := &bench{dir: tmp, bin: abs, log: logger}
	defer b.cleanup()
	// A step that fails dies (die); the cleanup above still runs.
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			logger.Print(string(f))
			code = 1
		}
	}()

	window := 30 * time.Second
	if o.quick {
		window = 10 * time.Second
	}
	var rows []row
	if o.want("join") {
		rows = append(rows, b.startAndDetect(100*time.Millisecond, 31, 5)...)
		rows = append(rows, b.startAndDetect(2*time.Second, 5, 3)...)
	}
	if o.want("load32") || o.want("agents") {
		load32, agentRows := b.daemonLoad(32, 255, 2*time.Second, window, o.want("agents"), "")
		if o.want("load32") {
			rows = append(rows, load32...)
		}
		rows = append(rows, agentRows...)
	}
	if o.want("tmpfs") {
		rows = append(rows, b.tmpfsLoad(window)...)
	}
	if o.want("breakdown") {
		rows = append(rows, b.breakdown(window)...)
	}
	if o.want("load256") {
		// Local mode, one region per mounted volume (seed 001): a
		// cluster of 32 nodes, each region reading their 32 slots.
		load256, _ := b.daemonLoad(256, 32, 200*time.Millisecond, window/2, false, "")
		rows = append(rows, load256...)
	}
	if o.want("hung") {
		rows = append(rows, b.hungMonitor()...)
	}
	if o.want("scale255") {
		// 255 daemons, one per node of the largest cluster, on one
		// region, at the kernel's interval and at a quarter of it.
		rows = append(rows, b.scaleCluster(255, 1, 25, 2*time.Second, window/3, false)...)
		rows = append(rows, b.scaleCluster(255, 1, 25, 500*time.Millisecond, window/3, false)...)
	}
	if o.want("scale32x64") {
		rows = append(rows, b.scaleCluster(64, 32, 6, 2*time.Second, window/3, true)...)
	}

	report := render(rows)
	fmt.Fprint(stdout, report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			die("%v", err)
		}
	}
	return 0
}

// bench holds what the measurements share: the work directory, the
// binaries, every daemon started (stopped by PID at the end), and what
// else cleanup must undo.
type bench struct {
	dir    string
	bin    string // absolute directory of o2cb-ra and ocfs2_hb_ctl
	log    *log.Logger
	mu     sync.Mutex
	pids   []int
	mounts []string
	// undo holds what a scenario must undo after its daemon has stopped,
	// run last first: hungMonitor's loop device, then its FUSE mount.
	undo []func()
	n    int
}

func (b *bench) sub(name string) string {
	b.n++
	d := filepath.Join(b.dir, fmt.Sprintf("%02d-%s", b.n, name))
	if err := os.MkdirAll(d, 0o755); err != nil {
		die("%v", err)
	}
	return d
}

// cleanup stops every daemon, undoes what the scenarios set up and
// removes the work directory.
func (b *bench) cleanup() {
	b.stopAll()
	for i := len(b.undo) - 1; i >= 0; i-- {
		b.undo[i]()
	}
	b.undo = nil
	b.unmountAll()
	os.RemoveAll(b.dir)
}

// failure is what die panics with; run recovers it, and parallel carries
// it from its goroutines to its caller.
type failure string

// die ends the measurements with a message: run logs it, cleans up and
// exits 1.
func die(format string, a ...any) { panic(failure(fmt.Sprintf(format, a...))) }

// parallel runs fn(0) to fn(n-1), at most limit at a time, and returns
// when all have; if any died, it dies with the first failure.
func parallel(n, limit int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	var mu sync.Mutex
	var first *failure
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			defer func() {
				if r := recover(); r != nil {
					f, ok := r.(failure)
					if !ok {
						panic(r)
					}
					mu.Lock()
					if first == nil {
						first = &f
					}
					mu.Unlock()
				}
			}()
			fn(i)
		})
	}
	wg.Wait()
	if first != nil {
		panic(*first)
	}
}
