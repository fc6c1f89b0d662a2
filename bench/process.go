package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// controllerSpec is a controller under test: a name for the tables and a command line in
// which {kubeconfig}, {metrics} and {health} are replaced by the kubeconfig of the controller's
// dedicated API user and by free host:port addresses for its metrics and health endpoints.
type controllerSpec struct {
	Name    string `json:"name"`
	Command string `json:"command"`
}

func parseControllerSpec(s string) (controllerSpec, error) {
	name, cmd, ok := strings.Cut(s, "=")
	if !ok || strings.ContainsAny(name, " /") || name == "" {
		return controllerSpec{}, fmt.Errorf("controller %q: want NAME=COMMAND", s)
	}
	return controllerSpec{Name: name, Command: strings.TrimSpace(cmd)}, nil
}

// controller is one started controller process.
type controller struct {
	spec       controllerSpec
	cmd        *exec.Cmd
	logPath    string
	metricsURL string // "" when the command line has no {metrics}
	done       chan struct{}
	sampler    *sampler
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startController starts spec with its output in logPath and waits until it is ready: its
// /readyz answers when the command has {health}, else for warmup.
func startController(ctx context.Context, spec controllerSpec, kubeconfig, logPath string, warmup time.Duration) (*controller, error) {
	metrics, err := freeAddr()
	if err != nil {
		return nil, err
	}
	health, err := freeAddr()
	if err != nil {
		return nil, err
	}
	line := strings.NewReplacer("{kubeconfig}", kubeconfig, "{metrics}", metrics, "{health}", health).Replace(spec.Command)
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	// exec: the shell is replaced by the controller, so the PID we hold (and read /proc of)
	// is the controller's own.
	cmd := exec.Command("/bin/sh", "-c", "exec "+line)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", spec.Name, err)
	}
	c := &controller{spec: spec, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	if strings.Contains(spec.Command, "{metrics}") {
		c.metricsURL = "http://" + metrics + "/metrics"
	}
	go func() { _ = cmd.Wait(); f.Close(); close(c.done) }()
	c.sampler = newSampler(cmd.Process.Pid, 500*time.Millisecond)
	if strings.Contains(spec.Command, "{health}") {
		err = waitHTTP(ctx, "http://"+health+"/readyz", 60*time.Second, c.done)
	} else {
		select {
		case <-time.After(warmup):
		case <-c.done:
			err = fmt.Errorf("exited")
		}
	}
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("controller %s not ready: %w (log %s)\n%s", spec.Name, err, logPath, tail(logPath, 20))
	}
	return c, nil
}

func waitHTTP(ctx context.Context, u string, timeout time.Duration, died <-chan struct{}) error {
	end := time.Now().Add(timeout)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s not ready after %v", u, timeout)
		}
		select {
		case <-died:
			return fmt.Errorf("process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the controller by its PID: SIGTERM, SIGKILL after 15 s.
func (c *controller) stop() {
	c.sampler.close()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func (c *controller) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// scrape reads the controller's own Prometheus metrics, if it has an endpoint.
func (c *controller) scrape() (map[string][]sample, error) {
	if c.metricsURL == "" {
		return nil, nil
	}
	return scrapeURL(http.DefaultClient, c.metricsURL)
}

// throttleMessages counts client-go's "client-side throttling" messages in the log: each is
// a request that waited on the controller's own QPS limit.
func (c *controller) throttleMessages() int {
	data, err := os.ReadFile(c.logPath)
	if err != nil {
		return 0
	}
	return bytes.Count(data, []byte("client-side throttling"))
}

func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sample is one series of a Prometheus text exposition.
type sample struct {
	labels map[string]string
	value  float64
}

func scrapeURL(hc *http.Client, u string) (map[string][]sample, error) {
	resp, err := hc.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the Prometheus text format: enough of it for counters and gauges.
func parseMetrics(r io.Reader) (map[string][]sample, error) {
	out := map[string][]sample{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, rest, err := splitSeries(line)
		if err != nil {
			return nil, err
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("metrics line without value: %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		out[name] = append(out[name], sample{labels: labels, value: v})
	}
	return out, sc.Err()
}

func splitSeries(line string) (name string, labels map[string]string, rest string, err error) {
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return "", nil, "", fmt.Errorf("metrics line %q", line)
	}
	name, labels = line[:i], map[string]string{}
	if line[i] == ' ' {
		return name, labels, line[i+1:], nil
	}
	s := line[i+1:]
	for {
		s = strings.TrimLeft(s, ", ")
		if strings.HasPrefix(s, "}") {
			return name, labels, s[1:], nil
		}
		eq := strings.Index(s, "=\"")
		if eq < 0 {
			return "", nil, "", fmt.Errorf("metrics line %q: bad labels", line)
		}
		key := s[:eq]
		s = s[eq+2:]
		var val strings.Builder
		for {
			if s == "" {
				return "", nil, "", fmt.Errorf("metrics line %q: unterminated label", line)
			}
			c := s[0]
			s = s[1:]
			if c == '\\' && s != "" {
				switch s[0] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[0])
				}
				s = s[1:]
				continue
			}
			if c == '"' {
				break
			}
			val.WriteByte(c)
		}
		labels[key] = val.String()
	}
}

// sampler reads the CPU time and resident memory of a process tree from /proc at a fixed
// interval. The tree: a controller started through a wrapper still gets measured.
type sampler struct {
	pid  int
	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	series []procSample
}

type procSample struct {
	At     time.Time `json:"at"`
	CPU    float64   `json:"cpu_s"`
	RSSMiB float64   `json:"rss_mib"`
}

func newSampler(pid int, every time.Duration) *sampler {
	s := &sampler{pid: pid, stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.take()
			select {
			case <-t.C:
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

func (s *sampler) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

func (s *sampler) take() procSample {
	cpu, rss, _ := treeUsage(s.pid)
	p := procSample{At: time.Now(), CPU: cpu, RSSMiB: rss / (1 << 20)}
	if cpu > 0 || rss > 0 {
		s.mu.Lock()
		s.series = append(s.series, p)
		s.mu.Unlock()
	}
	return p
}

// since returns the samples taken from t on.
func (s *sampler) since(t time.Time) []procSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []procSample
	for _, p := range s.series {
		if !p.At.Before(t) {
			out = append(out, p)
		}
	}
	return out
}

// resetPeak zeroes the kernel's peak-RSS mark (VmHWM) of the process tree, so that the next
// reading of VmHWM is the peak of the window about to start. Needs to own the processes.
func (s *sampler) resetPeak() bool {
	ok := true
	for _, pid := range tree(s.pid) {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			ok = false
		}
	}
	return ok
}

// peakMiB is the summed VmHWM of the tree, in MiB.
func (s *sampler) peakMiB() float64 {
	var sum float64
	for _, pid := range tree(s.pid) {
		st := procStatus(pid)
		sum += st["VmHWM"]
	}
	return sum / (1 << 20)
}

var clockTicks = 100.0 // USER_HZ: 100 on every Linux architecture Go supports

// treeUsage sums user+system CPU seconds and resident bytes over pid and its descendants.
func treeUsage(pid int) (cpu, rss float64, err error) {
	for _, p := range tree(pid) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		// the command name (field 2) may hold spaces: fields are counted after its ")"
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		cpu += (ut + st) / clockTicks
		rss += procStatus(p)["VmRSS"]
	}
	return cpu, rss, nil
}

// procStatus reads the kB fields of /proc/PID/status, in bytes.
func procStatus(pid int) map[string]float64 {
	out := map[string]float64{}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.HasSuffix(v, " kB") {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, " kB")), 64)
		if err == nil {
			out[k] = n * 1024
		}
	}
	return out
}

// tree lists pid and its living descendants (from /proc/PID/task/TID/children, which is
// far cheaper than scanning every process twice a second).
func tree(pid int) []int {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return nil
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", out[i]))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			for _, c := range strings.Fields(string(data)) {
				if n, err := strconv.Atoi(c); err == nil {
					out = append(out, n)
				}
			}
		}
	}
	return out
}
