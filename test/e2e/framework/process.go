package framework

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Process is a program an e2e suite started (a controller, a simulator); only it is
// ever signalled, by its own PID.
type Process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// BuildBinary builds a main package of this module into dir and returns its path.
func BuildBinary(dir, pkg string) (string, error) {
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s: %w", pkg, err)
	}
	return out, nil
}

// StartProcess starts bin with args, its output appended to logPath.
func StartProcess(logPath, bin string, args ...string) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &Process{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// Stop ends the process gracefully (SIGTERM), killing it if it lingers.
func (p *Process) Stop() { p.end(syscall.SIGTERM, 10*time.Second) }

// Kill ends the process at once (SIGKILL), as a crash would.
func (p *Process) Kill() { p.end(syscall.SIGKILL, 10*time.Second) }

func (p *Process) end(sig syscall.Signal, grace time.Duration) {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// DumpLog prints the last lines of the process's output to stderr.
func (p *Process) DumpLog(lines int) {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return
	}
	all := strings.Split(string(data), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	fmt.Fprintf(os.Stderr, "---- last %d lines of %s ----\n%s\n", lines, p.log, strings.Join(all, "\n"))
}

// ControllerArgs are the flags an e2e suite starts tern-controller with: no leader
// election and no listening ports unless the test asks for them.
func ControllerArgs(kubeconfig string, extra ...string) []string {
	return append([]string{
		"--kubeconfig", kubeconfig,
		"--leader-elect=false",
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "0",
		"--zap-log-level", "debug",
	}, extra...)
}
