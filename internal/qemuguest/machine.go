package qemuguest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultAppend is the kernel command line when Options.Append is empty:
// the console on ttyS0, and any panic or oops ends qemu (with -no-reboot).
const DefaultAppend = "console=ttyS0 loglevel=6 panic=-1 oops=panic"

// Options say how to start a guest.
type Options struct {
	Kernel *Kernel
	Initrd string
	Dir    string   // where the console log and qemu's stderr go (required)
	Append string   // kernel command line; DefaultAppend if empty
	Memory string   // -m; "512" if empty
	Args   []string // more qemu arguments (drives, network), after -append
	// OnLine is called from the reader goroutine with every line the
	// guest writes to ttyS1, without its line end, after the line went
	// into the transcript.
	OnLine func(line string, at time.Time)
	// OnExit is called once when qemu has exited, before Exited is closed.
	OnExit func(err error)
}

// Machine is a running qemu: TCG, one CPU, no reboot (a reboot or a
// fence ends qemu), ttyS0 to Console, ttyS1 on qemu's stdin and stdout.
type Machine struct {
	Console string    // file with the guest's ttyS0
	Begin   time.Time // when qemu was started

	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stderr   *os.File
	onLine   func(string, time.Time)
	onExit   func(error)
	exitedCh chan struct{}

	mu         sync.Mutex
	transcript strings.Builder
	exitErr    error
}

// Start starts qemu. qemu gets SIGKILL when the test process dies.
func Start(o Options) (*Machine, error) {
	if o.Append == "" {
		o.Append = DefaultAppend
	}
	if o.Memory == "" {
		o.Memory = "512"
	}
	m := &Machine{Console: filepath.Join(o.Dir, "console.log"), onLine: o.OnLine, onExit: o.OnExit, exitedCh: make(chan struct{})}
	args := []string{"-accel", "tcg", "-cpu", "max", "-m", o.Memory, "-smp", "1",
		"-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none",
		"-kernel", o.Kernel.Boot, "-initrd", o.Initrd,
		"-append", o.Append}
	args = append(args, o.Args...)
	args = append(args, "-serial", "file:"+m.Console, "-serial", "stdio")
	m.cmd = exec.Command("qemu-system-x86_64", args...)
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	if m.stderr, err = os.Create(filepath.Join(o.Dir, "qemu.stderr")); err != nil {
		return nil, err
	}
	m.cmd.Stderr = m.stderr
	if m.stdin, err = m.cmd.StdinPipe(); err != nil {
		m.stderr.Close()
		return nil, err
	}
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		m.stderr.Close()
		return nil, err
	}
	m.Begin = time.Now()
	if err := m.cmd.Start(); err != nil {
		m.stderr.Close()
		return nil, fmt.Errorf("qemu: %v", err)
	}
	go m.read(stdout)
	return m, nil
}

// PID returns qemu's process id.
func (m *Machine) PID() int { return m.cmd.Process.Pid }

func (m *Machine) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		now := time.Now()
		m.mu.Lock()
		fmt.Fprintf(&m.transcript, "%8.3fs %s\n", now.Sub(m.Begin).Seconds(), line)
		m.mu.Unlock()
		if m.onLine != nil {
			m.onLine(line, now)
		}
	}
	err := m.cmd.Wait()
	m.stderr.Close()
	m.mu.Lock()
	m.exitErr = err
	fmt.Fprintf(&m.transcript, "%8.3fs qemu exited: %v\n", time.Since(m.Begin).Seconds(), err)
	m.mu.Unlock()
	if m.onExit != nil {
		m.onExit(err)
	}
	close(m.exitedCh)
}

// Send writes one line to the guest's ttyS1.
func (m *Machine) Send(line string) error {
	_, err := fmt.Fprintf(m.stdin, "%s\n", line)
	return err
}

// Exited is closed when qemu has exited.
func (m *Machine) Exited() <-chan struct{} { return m.exitedCh }

// ExitErr returns how qemu exited, once Exited is closed.
func (m *Machine) ExitErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.exitErr
}

// Kill sends SIGKILL to qemu by its pid and waits up to 10 s for it to
// exit; nothing when it has exited already.
func (m *Machine) Kill() error {
	select {
	case <-m.exitedCh:
		return nil
	default:
	}
	m.cmd.Process.Kill()
	select {
	case <-m.exitedCh:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("qemu (pid %d) did not exit after SIGKILL", m.cmd.Process.Pid)
	}
}

// Transcript returns every channel line so far, each with the seconds
// since qemu started.
func (m *Machine) Transcript() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.transcript.String()
}

// ConsoleText returns the kernel's console so far.
func (m *Machine) ConsoleText() string {
	b, _ := os.ReadFile(m.Console)
	return string(b)
}

// Stderr returns what qemu wrote to its stderr so far.
func (m *Machine) Stderr() string {
	b, _ := os.ReadFile(m.stderr.Name())
	return string(b)
}
