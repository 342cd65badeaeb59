package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// floorCPU is the floor a daemon's CPU per region-iteration is held
// against: the same iteration run in a loop on a file of dir's medium,
// one pread of 255 slots and one pwrite of one through the kernel
// (internal/hbdisk's BenchmarkIterationFile255). It returns the median
// of three runs of the process's CPU per iteration and the system part
// of it. name is the benchmark's, without "Benchmark".
func (b *bench) floorCPU(dir, name string) (cpu, sys time.Duration) {
	test := b.floorTest()
	var cpus, syss []time.Duration
	cmd := exec.Command(test, "-test.run", "^$", "-test.bench", "^Benchmark"+name+"$",
		"-test.benchtime", "2000x", "-test.count", "3")
	cmd.Env = append(os.Environ(), "O2CB_BENCH_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		die("the floor benchmark: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || benchName(f[0]) != "Benchmark"+name {
			continue
		}
		// name N ns ns/op cpu cpu-ns/op sys sys-ns/op
		for i := 1; i+1 < len(f); i++ {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "cpu-ns/op":
				cpus = append(cpus, time.Duration(v))
			case "sys-ns/op":
				syss = append(syss, time.Duration(v))
			}
		}
	}
	if len(cpus) != 3 || len(syss) != 3 {
		die("the floor benchmark: want 3 runs with cpu-ns/op and sys-ns/op, got:\n%s", out)
	}
	return median(cpus), median(syss)
}

// benchName is a go test -bench result's name without its -N
// (GOMAXPROCS) suffix, which it has unless GOMAXPROCS is 1.
func benchName(s string) string {
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i]
		}
	}
	return s
}

// floorTest builds internal/hbdisk's test binary once, from the module
// the bench runs in, and returns its path.
func (b *bench) floorTest() string {
	path := filepath.Join(b.dir, "hbdisk.test")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	cmd := exec.Command("go", "test", "-c", "-o", path, "./internal/hbdisk")
	cmd.Dir = moduleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		die("building internal/hbdisk's tests: %v\n%s", err, out)
	}
	return path
}

// us is d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// moduleRoot is the directory of the source tree the bench runs in.
func moduleRoot() string {
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	path := strings.TrimSpace(string(mod))
	if err != nil || filepath.Base(path) != "go.mod" {
		die("the bench builds from the source tree: run it there (go env GOMOD: %q, %v)", path, err)
	}
	return filepath.Dir(path)
}
