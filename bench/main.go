// Command bench measures a controller of the argoproj.io/v1alpha1 Rollout API on the local
// control plane (test/cluster, started by bench/cluster.sh): how long canary updates, steps,
// promotions and rollbacks take, how many API requests they cost, and the controller's CPU
// and memory. The controller under test is a command line, so another implementation of the
// same API can be measured the same way; two are run alternately, never at once.
//
// bench/README.md explains every figure and how to reproduce them; `make bench` and
// `make bench-short` run it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

type options struct {
	kubeconfig    string
	ctlKubeconfig string
	controllers   []controllerSpec
	scenarios     []string
	short         bool
	out           string
	runs          int
	warmup        time.Duration
	keep          bool
	reportOnly    bool
	fresh         bool
	source        string

	sizes           []int
	repeats         int
	bigRepeats      int
	referenceSize   int
	steps           int
	floorSteps      int
	promoteRepeats  int
	bluegreenRepeat int
	rollbackRepeats int
	idleSize        int
	idleDuration    time.Duration

	trafficsim string
	promDir    string
}

type scenario struct {
	name string
	// controller is false for the floor, which the harness plays alone.
	controller bool
	sizes      func(o *options) []int
	run        func(ctx context.Context, r *run) error
}

var scenarios = []scenario{
	{name: "floor", sizes: one, run: runFloor},
	{name: "step-latency", controller: true, sizes: one, run: runStepLatency},
	{name: "floor-healthy", sizes: one, run: runFloorHealthy},
	{name: "promote-healthy", controller: true, sizes: one, run: runPromoteHealthy},
	{name: "bluegreen-switch", controller: true, sizes: one, run: runBlueGreen},
	{name: "rollback-latency", controller: true, sizes: one, run: runRollback},
	{name: "canary-complete", controller: true, sizes: func(o *options) []int { return o.sizes }, run: runCanaryComplete},
	{name: "canary-reference", controller: true, sizes: func(o *options) []int { return []int{o.referenceSize} }, run: runCanaryReference},
	{name: "idle", controller: true, sizes: func(o *options) []int { return []int{o.idleSize} }, run: runIdle},
}

func one(*options) []int { return []int{1} }

const defaultController = "tern=bin/bench/tern-controller --kubeconfig={kubeconfig} --leader-elect=false " +
	"--metrics-bind-address={metrics} --health-probe-bind-address={health} --qps=40 --burst=80"

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctrllog.SetLogger(discardLogger())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := benchMain(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := &options{}
	var ctls listFlag
	var scen, sizes string
	fs.StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "Admin kubeconfig of the bench cluster (bench/cluster.sh up prints it).")
	fs.StringVar(&o.ctlKubeconfig, "controller-kubeconfig", os.Getenv("CONTROLLER_KUBECONFIG"), "Kubeconfig of the controller's own API user (bench/cluster.sh), substituted for {kubeconfig}.")
	fs.Var(&ctls, "controller", "NAME=COMMAND of a controller under test; {kubeconfig}, {metrics}, {health} are substituted. Twice for an A/B comparison. Default: "+defaultController)
	fs.StringVar(&scen, "scenarios", "all", "Comma-separated scenarios, or all: "+scenarioNames())
	fs.BoolVar(&o.short, "short", false, "Every scenario at a small size (under 5 minutes); explicit flags still win.")
	fs.StringVar(&o.out, "out", "bench/results/latest", "Directory for the JSON of each run, summary.md and the plots.")
	fs.IntVar(&o.runs, "runs", 1, "Runs of each scenario per controller (alternating A/B, B/A, ...).")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "Wait after starting a controller whose command has no {health}.")
	fs.BoolVar(&o.keep, "keep", false, "Keep each run's namespace (and objects) instead of deleting it.")
	fs.BoolVar(&o.reportOnly, "report", false, "Only rebuild summary.md and the plots from the JSON files in -out.")
	fs.BoolVar(&o.fresh, "fresh", false, "Delete the results already in -out first; without it this invocation's runs join them (and replace runs of the same name).")
	fs.StringVar(&sizes, "sizes", "", "canary-complete sizes (rollouts updated at once); default 1,100,1000, short 1,10")
	fs.IntVar(&o.repeats, "repeats", 0, "canary-complete and canary-reference updates per run for sizes under 1000; default 3, short 1")
	fs.IntVar(&o.bigRepeats, "big-repeats", 0, "canary-complete updates per run for sizes of 1000 and more; default 1")
	fs.IntVar(&o.referenceSize, "reference-size", 0, "canary-reference size (2 replicas, 25/75 steps); default 50, short 10")
	fs.IntVar(&o.steps, "steps", 0, "step-latency promotes; default 50, short 10")
	fs.IntVar(&o.floorSteps, "floor-steps", 0, "floor steps; default 50, short 10")
	fs.IntVar(&o.promoteRepeats, "promote-repeats", 0, "promote-healthy repeats; default 20, short 3")
	fs.IntVar(&o.bluegreenRepeat, "bluegreen-repeats", 0, "bluegreen-switch repeats; default 20, short 3")
	fs.IntVar(&o.rollbackRepeats, "rollback-repeats", 0, "rollback-latency repeats; default 5, short 1")
	fs.IntVar(&o.idleSize, "idle-size", 0, "idle rollouts; default 1000, short 20")
	fs.StringVar(&o.source, "source", "", "What the controller under test was built from, for the record (make bench sets it).")
	fs.DurationVar(&o.idleDuration, "idle-duration", 0, "idle window; default 10m, short 15s")
	fs.StringVar(&o.trafficsim, "trafficsim", "bin/bench/tern-trafficsim", "The traffic simulator binary (test/trafficsim), for rollback-latency.")
	fs.StringVar(&o.promDir, "prometheus-scripts", "test/prometheus", "Directory of up.sh/down.sh starting Prometheus, for rollback-latency.")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	def := func(p *int, full, short int) {
		if *p == 0 {
			*p = full
			if o.short {
				*p = short
			}
		}
	}
	def(&o.repeats, 3, 1)
	def(&o.bigRepeats, 1, 1)
	def(&o.referenceSize, 50, 10)
	def(&o.steps, 50, 10)
	def(&o.floorSteps, 50, 10)
	def(&o.promoteRepeats, 20, 3)
	def(&o.bluegreenRepeat, 20, 3)
	def(&o.rollbackRepeats, 5, 1)
	def(&o.idleSize, 1000, 20)
	if o.idleDuration == 0 {
		o.idleDuration = 10 * time.Minute
		if o.short {
			o.idleDuration = 15 * time.Second
		}
	}
	if sizes == "" {
		sizes = "1,100,1000"
		if o.short {
			sizes = "1,10"
		}
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sizes: %q is not a positive number", s)
		}
		o.sizes = append(o.sizes, n)
	}
	if len(ctls) == 0 {
		ctls = listFlag{defaultController}
	}
	if len(ctls) > 2 {
		return nil, errors.New("at most two -controller (A and B)")
	}
	for _, c := range ctls {
		spec, err := parseControllerSpec(c)
		if err != nil {
			return nil, err
		}
		o.controllers = append(o.controllers, spec)
	}
	if len(o.controllers) == 2 && o.controllers[0].Name == o.controllers[1].Name {
		return nil, errors.New("the two controllers need different names")
	}
	if scen == "all" {
		for _, s := range scenarios {
			o.scenarios = append(o.scenarios, s.name)
		}
	} else {
		for _, s := range strings.Split(scen, ",") {
			if findScenario(s) == nil {
				return nil, fmt.Errorf("unknown scenario %q (have %s)", s, scenarioNames())
			}
			o.scenarios = append(o.scenarios, s)
		}
	}
	if !o.reportOnly && (o.kubeconfig == "" || o.ctlKubeconfig == "") {
		return nil, errors.New("-kubeconfig and -controller-kubeconfig are needed (eval $(bench/cluster.sh up))")
	}
	return o, nil
}

func scenarioNames() string {
	var n []string
	for _, s := range scenarios {
		n = append(n, s.name)
	}
	return strings.Join(n, ",")
}

func findScenario(name string) *scenario {
	for i := range scenarios {
		if scenarios[i].name == name {
			return &scenarios[i]
		}
	}
	return nil
}

// runner runs the scenarios and keeps their results.
type runner struct {
	o       *options
	k       *kube
	machine machine
}

// run is one scenario run: one namespace, one controller process (none for the floor).
type run struct {
	*runner
	k   *kube
	ns  string
	ctl *controller
	w   *watcher
	res *runResult
	// lostPromotes counts promotes the controller undid (see promoteAndWait).
	lostPromotes int
}

// runResult is the JSON written per run.
type runResult struct {
	Scenario   string         `json:"scenario"`
	Size       int            `json:"size"`
	Controller controllerSpec `json:"controller"`
	Run        int            `json:"run"`
	Namespace  string         `json:"namespace"`
	Params     map[string]any `json:"params"`
	Started    time.Time      `json:"started"`
	Finished   time.Time      `json:"finished"`
	LoadBefore string         `json:"loadavg_before"`
	LoadAfter  string         `json:"loadavg_after"`
	// Samples are the measured latencies, in seconds, by name.
	Samples map[string][]float64 `json:"samples_s"`
	Windows []figures            `json:"windows"`
	Total   figures              `json:"total"`
	// Series is the controller's CPU and RSS over the window of the idle scenario.
	Series []procSample `json:"series,omitempty"`
	Notes  []string     `json:"notes,omitempty"`
	Error  string       `json:"error,omitempty"`
}

func (r *run) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.res.Notes = append(r.res.Notes, msg)
	logf("  note: %s", msg)
}

func (r *run) sample(name string, d time.Duration) {
	r.res.Samples[name] = append(r.res.Samples[name], d.Seconds())
}

func (r *run) window(f figures) {
	r.res.Windows = append(r.res.Windows, f)
	r.res.Total = r.res.Total.add(f)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func benchMain(ctx context.Context, o *options) error {
	if o.fresh {
		old, _ := filepath.Glob(filepath.Join(o.out, "runs", "*"))
		for _, f := range append(old, filepath.Join(o.out, "machine.json")) {
			_ = os.Remove(f)
		}
	}
	if err := os.MkdirAll(filepath.Join(o.out, "runs"), 0o755); err != nil {
		return err
	}
	if o.reportOnly {
		results, ms, err := loadResults(o.out)
		if err != nil {
			return err
		}
		return report(o.out, results, ms)
	}
	k, err := newKube(o.kubeconfig)
	if err != nil {
		return err
	}
	rn := &runner{o: o, k: k, machine: describeMachine(ctx, k, o)}
	started := time.Now()
	var failed []string
	// Runs outermost: with -runs 2 and more every scenario comes round again after the others,
	// so that the floor and step-latency, A and B, see the same stretches of machine load.
	for idx := 0; idx < o.runs; idx++ {
		for _, name := range o.scenarios {
			sc := findScenario(name)
			for _, size := range sc.sizes(o) {
				ctls := o.controllers
				if !sc.controller {
					ctls = []controllerSpec{{Name: "none", Command: "(the harness writes alone)"}}
				} else if idx%2 == 1 && len(ctls) == 2 {
					// ABBA order: a drift of the machine during the runs hits both alike
					ctls = []controllerSpec{ctls[1], ctls[0]}
				}
				for _, spec := range ctls {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					res := rn.do(ctx, sc, spec, size, idx)
					if res.Error != "" {
						failed = append(failed, fmt.Sprintf("%s n=%d %s: %s", sc.name, size, spec.Name, res.Error))
					}
				}
			}
		}
	}
	rn.machine.Seconds = time.Since(started).Seconds()
	rn.machine.LoadAfter = loadavg()
	// this invocation joins those whose runs are already in -out (make bench runs two)
	results, ms, _ := loadResults(o.out)
	ms = append(ms, rn.machine)
	if err := writeJSON(filepath.Join(o.out, "machine.json"), ms); err != nil {
		return err
	}
	if err := report(o.out, results, ms); err != nil {
		return err
	}
	logf("done in %s: %s/summary.md", time.Since(started).Round(time.Second), o.out)
	if len(failed) > 0 {
		return fmt.Errorf("%d run(s) failed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

// do runs one scenario with one controller and writes its JSON.
func (rn *runner) do(ctx context.Context, sc *scenario, spec controllerSpec, size, idx int) *runResult {
	ns := dnsName(fmt.Sprintf("b-%s-%d-%s-%d-%d", sc.name, size, spec.Name, idx, time.Now().Unix()%100000))
	res := &runResult{Scenario: sc.name, Size: size, Controller: spec, Run: idx, Namespace: ns,
		Params: map[string]any{}, Samples: map[string][]float64{}, Started: time.Now(), LoadBefore: loadavg()}
	r := &run{runner: rn, k: rn.k, ns: ns, res: res}
	logf("%s n=%d controller=%s run=%d (namespace %s, load %s)", sc.name, size, spec.Name, idx, ns, res.LoadBefore)
	err := r.execute(ctx, sc, spec, size)
	if err != nil {
		res.Error = err.Error()
		logf("  FAILED: %v", err)
	}
	res.Finished, res.LoadAfter = time.Now(), loadavg()
	logf("  %s", oneLine(res))
	file := filepath.Join(rn.o.out, "runs", fmt.Sprintf("%s-n%d-%s-%d.json", sc.name, size, spec.Name, idx))
	if err := writeJSON(file, res); err != nil {
		logf("  writing %s: %v", file, err)
	}
	return res
}

func (r *run) execute(ctx context.Context, sc *scenario, spec controllerSpec, size int) (err error) {
	if err := r.k.createNamespace(ctx, r.ns); err != nil {
		return fmt.Errorf("namespace: %w", err)
	}
	defer func() {
		if r.ctl != nil {
			if !r.ctl.alive() {
				r.note("the controller had exited; last lines of its log:\n%s", tail(r.ctl.logPath, 15))
			}
			r.ctl.stop()
		}
		if r.w != nil {
			r.w.stop()
		}
		if r.o.keep {
			return
		}
		// the controller is stopped first: it would otherwise fight the namespace's deletion
		if derr := r.k.deleteNamespace(context.Background(), r.ns, 15*time.Minute); derr != nil && err == nil {
			err = fmt.Errorf("deleting namespace %s: %w", r.ns, derr)
		}
	}()
	if r.w, err = newWatcher(ctx, r.k, r.ns); err != nil {
		return err
	}
	// the floor too: a controller acting on its rollout would spoil it
	if err := r.checkUserIdle(ctx); err != nil {
		return err
	}
	if sc.controller {
		logPath, _ := filepath.Abs(filepath.Join(r.o.out, "runs", fmt.Sprintf("%s-n%d-%s-%d.log", sc.name, size, spec.Name, r.res.Run)))
		if r.ctl, err = startController(ctx, spec, r.o.ctlKubeconfig, logPath, r.o.warmup); err != nil {
			return err
		}
		r.res.Params["controller_log"] = logPath
	}
	r.res.Params["size"] = size
	err = sc.run(ctx, r)
	r.res.Params["lost_promotes"] = r.lostPromotes
	r.checkCollisions(ctx)
	return err
}

// checkCollisions notes the ReplicaSet name collisions the controller recorded: each one
// means a ReplicaSet made under another name for a template it already had.
func (r *run) checkCollisions(ctx context.Context) {
	list := &v1alpha1.RolloutList{}
	if err := r.w.cache.List(ctx, list, client.InNamespace(r.ns)); err != nil {
		return
	}
	var n, total int32
	for _, ro := range list.Items {
		if c := ro.Status.CollisionCount; c != nil && *c > 0 {
			n++
			total += *c
		}
	}
	r.res.Params["collision_count"] = total
	if total > 0 {
		r.note("%d of %d rollouts have status.collisionCount > 0 (%d in all): ReplicaSets re-created under new names", n, len(list.Items), total)
	}
}

func dnsName(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, c := range s {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteRune('-')
		}
	}
	out := b.String()
	if len(out) > 63 {
		out = out[:63]
	}
	return strings.Trim(out, "-")
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machine is the state of the machine and cluster the figures were taken on.
type machine struct {
	Date         time.Time         `json:"date"`
	CPUs         int               `json:"cpus"`
	Kernel       string            `json:"kernel"`
	GoVersion    string            `json:"go"`
	Commit       string            `json:"commit"`
	Dirty        bool              `json:"dirty_tree"`
	Source       string            `json:"controller_source,omitempty"`
	LoadBefore   string            `json:"loadavg_before"`
	LoadAfter    string            `json:"loadavg_after"`
	Nodes        int               `json:"nodes"`
	StateDirFS   string            `json:"state_dir_fs"`
	Short        bool              `json:"short"`
	Controllers  []controllerSpec  `json:"controllers"`
	Seconds      float64           `json:"seconds"`
	ControlPlane map[string]string `json:"control_plane"`
}

func describeMachine(ctx context.Context, k *kube, o *options) machine {
	m := machine{Date: time.Now().UTC(), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadBefore: loadavg(),
		Short: o.short, Controllers: o.controllers, ControlPlane: map[string]string{}, Source: o.source}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--", "cmd", "internal", "api").Output(); err == nil {
		m.Dirty = len(strings.TrimSpace(string(out))) > 0
	}
	nodes := &corev1.NodeList{}
	if err := k.c.List(ctx, nodes); err == nil {
		m.Nodes = len(nodes.Items)
	}
	m.StateDirFS = fsType(filepath.Dir(o.kubeconfig))
	// what makes the control plane fast enough not to be measured instead of the controller
	for _, p := range []struct{ name, want string }{
		{"kube-controller-manager", "--kube-api-qps"}, {"kube-scheduler", "--kube-api-qps"}, {"etcd", "--unsafe-no-fsync"},
	} {
		m.ControlPlane[p.name] = procArgs(p.name, p.want)
	}
	return m
}

// procArgs finds a running process whose command (argv[0]) ends in name and uses the same
// state directory as this cluster, and returns its arguments starting with want.
func procArgs(name, want string) string {
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if filepath.Base(args[0]) != name || !strings.Contains(string(data), benchStateDir()) {
			continue
		}
		var got []string
		for _, a := range args[1:] {
			if strings.HasPrefix(a, want) {
				got = append(got, a)
			}
		}
		for i, a := range args[1:] {
			if strings.HasPrefix(a, "--kube-api-burst") {
				got = append(got, args[1+i])
			}
		}
		return strings.Join(got, " ")
	}
	return "not found"
}

func benchStateDir() string {
	if d := os.Getenv("BENCH_STATE_DIR"); d != "" {
		return d
	}
	return "/dev/shm/tern-bench"
}

func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "?"
	}
	switch st.Type {
	case 0x01021994:
		return "tmpfs"
	case 0xEF53:
		return "ext4"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("0x%x", st.Type)
}
