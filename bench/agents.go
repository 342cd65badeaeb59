package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// minimalGo is the reference the agents' start-up is held against: a
// static Go program that writes one line, built as our binaries are.
const minimalGo = `package main

import "os"

func main() { os.Stdout.WriteString("ok\n") }
`

// buildMinimal builds minimalGo in dir and returns the binary's path.
func buildMinimal(dir string) string {
	src := filepath.Join(dir, "minimal")
	if err := os.MkdirAll(src, 0o755); err != nil {
		die("%v", err)
	}
	for name, text := range map[string]string{"main.go": minimalGo, "go.mod": "module minimal\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			die("%v", err)
		}
	}
	bin := filepath.Join(src, "minimal")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		die("building the minimal Go program: %v\n%s", err, out)
	}
	return bin
}

// probe is one program the agent measurement runs.
type probe struct {
	env  []string
	path string
	args []string
	// check: the exit code must be 0.
	check      bool
	wall, cpus []time.Duration
}

// agentLatency runs `o2cb-ra version`, meta-data, validate-all and
// monitor as whole processes against the running daemon, beside a
// minimal static Go program and resource-agents' Dummy, all in turn in
// one loop, so that each meets the same load of the machine.
func (b *bench) agentLatency(dir, conf string, n *node) []row {
	link := filepath.Join(dir, "o2cb")
	os.Symlink(filepath.Join(b.bin, "o2cb-ra"), link)
	env := []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESKEY_cluster_conf=" + conf, "OCF_RESKEY_node_name=n1",
		"OCF_RESKEY_run_dir=" + n.Run, "OCF_RESKEY_devices=" + dir + "/*.img", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	dummy := "/usr/lib/ocf/resource.d/heartbeat/Dummy"
	dummyEnv := []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESKEY_state=" + filepath.Join(dir, "dummy.state"), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	_, err := os.Stat(dummy)
	haveDummy := err == nil
	minimal := &probe{env: env, path: buildMinimal(dir), check: true}
	version := &probe{env: env, path: filepath.Join(b.bin, "o2cb-ra"), args: []string{"version"}, check: true}
	probes := []*probe{minimal, version}
	actions := []string{"meta-data", "validate-all", "monitor"}
	ours, theirs := map[string]*probe{}, map[string]*probe{}
	for _, a := range actions {
		ours[a] = &probe{env: env, path: link, args: []string{a}, check: true}
		probes = append(probes, ours[a])
		if haveDummy {
			theirs[a] = &probe{env: dummyEnv, path: dummy, args: []string{a}}
			probes = append(probes, theirs[a])
		}
	}
	const warm, runs = 5, 101
	for i := range warm + runs {
		// Each round starts with another program, so that none is
		// always the one after the bench's own work.
		for k := range probes {
			p := probes[(i+k)%len(probes)]
			w, c, code := runProcess(p.env, p.path, p.args...)
			if p.check && code != 0 {
				die("%s %s exited %d", p.path, strings.Join(p.args, " "), code)
			}
			if i >= warm {
				p.wall, p.cpus = append(p.wall, w), append(p.cpus, c)
			}
		}
	}
	ref := median(minimal.wall)
	ratio := func(p *probe, to time.Duration) float64 { return float64(median(p.wall)) / float64(to) }
	title := fmt.Sprintf("(median of %d after %d warm-up runs, all programs in turn)", runs, warm)
	rows := []row{
		{"reference: a minimal static Go program (writes one line), whole process " + title, "(reference)",
			fmt.Sprintf("%s ms, CPU %s ms", msText(ref), msText(median(minimal.cpus))), true},
		{"`o2cb-ra version`, whole process " + title, "≤ 1.2× the minimal Go program",
			fmt.Sprintf("%s ms, CPU %s ms: %.2f×", msText(median(version.wall)), msText(median(version.cpus)), ratio(version, ref)), ratio(version, ref) <= 1.2},
	}
	for _, a := range actions {
		p := ours[a]
		measured := fmt.Sprintf("%s ms, CPU %s ms: %.2f× minimal", msText(median(p.wall)), msText(median(p.cpus)), ratio(p, ref))
		ok := ratio(p, ref) <= 1.3
		if d := theirs[a]; d != nil {
			measured += fmt.Sprintf(", %.2f× Dummy (Dummy %s ms, CPU %s ms)", ratio(p, median(d.wall)), msText(median(d.wall)), msText(median(d.cpus)))
			ok = ok && ratio(p, median(d.wall)) <= 0.8
		} else {
			measured += " (Dummy not installed)"
			ok = false
		}
		rows = append(rows, row{fmt.Sprintf("o2cb %s, whole process, 32 regions up %s", a, title),
			"≤ 1.3× the minimal Go program and ≤ 0.8× Dummy", measured, ok})
	}
	return rows
}

// runProcess runs path with args and env, output discarded, and returns
// its wall time, its CPU time (user and system, from the kernel's
// accounting of the child, which the machine's other load hardly
// changes) and its exit code.
func runProcess(env []string, path string, args ...string) (wall, cpu time.Duration, code int) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	begin := time.Now()
	err := cmd.Run()
	wall = time.Since(begin)
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		die("%s %s: %v", path, strings.Join(args, " "), err)
	}
	cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return wall, cpu, code
}
