package process

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestRunning(t *testing.T) {
	if !Running(os.Getpid()) {
		t.Fatal("Running(own pid) = false")
	}
	for _, pid := range []int{0, -1} {
		if Running(pid) {
			t.Errorf("Running(%d) = true", pid)
		}
	}
	// A child that has exited but is not yet reaped is a zombie: it
	// passes kill -0, and it does not run.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); Running(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the exited child still counts as running")
		}
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("kill -0 of the zombie = %v: the test shows nothing", err)
	}
	cmd.Wait()
	if Running(pid) {
		t.Fatal("Running(reaped pid) = true")
	}
}

func TestStopped(t *testing.T) {
	if Stopped(os.Getpid()) || Stopped(0) {
		t.Fatal("Stopped(own pid) or Stopped(0) = true")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if Stopped(pid) {
		t.Fatal("Stopped(a sleeping child) = true")
	}
	wait := func(want bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); Stopped(pid) != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("Stopped(child) not %v within 10s", want)
			}
		}
	}
	syscall.Kill(pid, syscall.SIGSTOP)
	wait(true)
	syscall.Kill(pid, syscall.SIGCONT)
	wait(false)
}
