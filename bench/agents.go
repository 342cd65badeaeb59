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

// agentLatency runs meta-data, validate-all and monitor as whole
// processes against the running daemon, beside resource-agents' Dummy.
func (b *bench) agentLatency(dir, conf string, n *node) []row {
	link := filepath.Join(dir, "o2cb")
	os.Symlink(filepath.Join(b.bin, "o2cb-ra"), link)
	env := []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESKEY_cluster_conf=" + conf, "OCF_RESKEY_node_name=n1",
		"OCF_RESKEY_run_dir=" + n.Run, "OCF_RESKEY_devices=" + dir + "/*.img", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	dummy := "/usr/lib/ocf/resource.d/heartbeat/Dummy"
	dummyEnv := []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESKEY_state=" + filepath.Join(dir, "dummy.state"), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	_, err := os.Stat(dummy)
	haveDummy := err == nil
	const warm, runs = 5, 101
	var rows []row
	for _, action := range []string{"meta-data", "validate-all", "monitor"} {
		// Warm up both (page cache, the daemon's socket), then run
		// them in turn, each first every other time, so that both meet
		// the same load of the machine.
		var ours, oursCPU, theirs, theirsCPU []time.Duration
		for i := range warm + runs {
			for k := range 2 {
				if (i+k)%2 == 0 {
					w, c, code := runProcess(env, link, action)
					if code != 0 {
						die("o2cb %s exited %d", action, code)
					}
					if i >= warm {
						ours, oursCPU = append(ours, w), append(oursCPU, c)
					}
				} else if haveDummy {
					w, c, _ := runProcess(dummyEnv, dummy, action)
					if i >= warm {
						theirs, theirsCPU = append(theirs, w), append(theirsCPU, c)
					}
				}
			}
		}
		dummyText := "Dummy not installed"
		if haveDummy {
			dummyText = fmt.Sprintf("Dummy %s ms, CPU %s ms", msText(median(theirs)), msText(median(theirsCPU)))
		}
		m := median(ours)
		rows = append(rows, row{fmt.Sprintf("o2cb %s, whole process, 32 regions up (median of %d after %d warm-up runs, interleaved with Dummy)", action, runs, warm),
			"< 10 ms", fmt.Sprintf("%s ms, CPU %s ms (%s)", msText(m), msText(median(oursCPU)), dummyText), m < 10*time.Millisecond})
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
