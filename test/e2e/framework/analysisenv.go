package framework

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// What e2e suites need to run Prometheus analysis against the local control plane, whose
// pods run nothing: the traffic simulator (test/trafficsim) serving request counters
// for every Ready rollout pod, and a Prometheus (test/prometheus) scraping it.

// FreeAddr returns a 127.0.0.1 address with a port free right now.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// WaitHTTP waits until GET u answers 200.
func WaitHTTP(u string, timeout time.Duration) error {
	end := time.Now().Add(timeout)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s: %w", u, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartTrafficSim builds the traffic simulator into dir, starts it for the cluster of
// kubeconfig and waits until it serves; it returns the process and its address.
func StartTrafficSim(dir, kubeconfig string) (*Process, string, error) {
	bin, err := BuildBinary(dir, "github.com/tern-rollouts/tern/test/trafficsim")
	if err != nil {
		return nil, "", err
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, "", err
	}
	p, err := StartProcess(filepath.Join(dir, "trafficsim.log"), bin, "--kubeconfig", kubeconfig, "--listen", addr)
	if err != nil {
		return nil, "", err
	}
	if err := WaitHTTP("http://"+addr+"/healthz", 30*time.Second); err != nil {
		p.DumpLog(50)
		p.Stop()
		return nil, "", fmt.Errorf("traffic simulator: %w", err)
	}
	return p, addr, nil
}

// StartPrometheus starts a Prometheus of its own (test/prometheus/up.sh, installing the
// binary first if needed) on a free port, scraping the traffic simulator at simAddr ("" for
// none). It tries three times, each on a fresh port: the port found free may be taken by
// another program of a busy machine before Prometheus binds it. It returns the server's URL
// and a function that stops it and removes its state (safe to call more than once; the
// first call returns down.sh's error).
func StartPrometheus(simAddr string) (string, func() error, error) {
	scripts := prometheusScripts()
	var msgs []string
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := FreeAddr()
		if err != nil {
			return "", nil, err
		}
		port := addr[strings.LastIndex(addr, ":")+1:]
		dir, err := os.MkdirTemp("", "tern-e2e-prometheus-")
		if err != nil {
			return "", nil, err
		}
		env := append(os.Environ(), "PROMETHEUS_PORT="+port, "PROMETHEUS_DIR="+dir, "TRAFFICSIM_ADDR="+simAddr)
		down := func() error {
			cmd := exec.Command(filepath.Join(scripts, "down.sh"), "--purge")
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("test/prometheus/down.sh: %w\n%s", err, out)
			}
			return nil
		}
		up := exec.Command(filepath.Join(scripts, "up.sh"))
		up.Env = env
		var stderr strings.Builder
		up.Stderr = &stderr
		out, err := up.Output()
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("test/prometheus/up.sh on port %s: %v: %s", port, err, strings.TrimSpace(stderr.String())))
			// A server that started but never became ready is still ours to stop.
			_ = down()
			os.RemoveAll(dir)
			continue
		}
		var once sync.Once
		var downErr error
		stop := func() error {
			once.Do(func() { downErr = down() })
			return downErr
		}
		return strings.TrimSpace(string(out)), stop, nil
	}
	return "", nil, errors.New(strings.Join(msgs, "; "))
}

// prometheusScripts is test/prometheus of this module.
func prometheusScripts() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "prometheus")
}
