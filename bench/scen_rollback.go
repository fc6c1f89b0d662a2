package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// successRate is the analysis of rollback-latency: the success rate of the canary's pods
// from the traffic simulator, 1 while there is no traffic yet (so that the first failing
// measurement is the bad version's, not a missing series), failing below 0.95. Pods of an
// image tagged bad-* fail half their requests.
const successRate = `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
  - name: namespace
  - name: hash
  metrics:
  - name: success-rate
    interval: 1s
    failureLimit: 0
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        address: %q
        query: >-
          (1 - ((sum(rate(http_requests_total{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.hash}}",code=~"5.."}[10s])) or vector(0))
          / sum(rate(http_requests_total{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.hash}}"}[10s]))))
          or vector(1)
`

const backgroundAnalysis = `      analysis:
        templates: [{templateName: success-rate}]
        args:
        - {name: namespace, value: %q}
        - name: hash
          valueFrom: {podTemplateHashValue: Latest}`

// runRollback: a canary with background analysis on a Prometheus metric; each repeat
// updates to an image whose traffic fails, and times from the failing measurement (its
// AnalysisRun status seen on the watch) until the canary ReplicaSet is scaled to 0 and the
// stable Service selects only the stable pods. Then the stable image is set back.
func runRollback(ctx context.Context, r *run) error {
	const name = "rb"
	prom, stop, err := r.startPrometheus(ctx)
	if err != nil {
		return err
	}
	defer stop()
	steps := []string{setWeight(25), pauseForever}
	r.res.Params["replicas"], r.res.Params["steps"], r.res.Params["repeats"] = 4, steps, r.o.rollbackRepeats
	manifest := fmt.Sprintf(successRate, prom) + "\n---\n" +
		canaryRollout(name, 4, image("v0"), steps, fmt.Sprintf(backgroundAnalysis, r.ns))
	if err := r.k.applyYAML(ctx, r.ns, manifest); err != nil {
		return err
	}
	ro, err := r.waitRollout(ctx, name, 2*time.Minute, "Healthy", func(ro *v1alpha1.Rollout) bool { return healthyAt(ro, "") })
	if err != nil {
		return err
	}
	stableHash := ro.Status.StableRS
	for i := 1; i <= r.o.rollbackRepeats; i++ {
		if err := r.rollbackOnce(ctx, name, stableHash, fmt.Sprintf("bad-v%d", i)); err != nil {
			return fmt.Errorf("repeat %d: %w", i, err)
		}
		// back to the stable image, which a controller takes at once (no steps)
		if err := r.setImage(ctx, name, image("v0")); err != nil {
			return err
		}
		if _, err := r.waitRollout(ctx, name, time.Minute, "Healthy on the stable image again", func(ro *v1alpha1.Rollout) bool {
			return healthyAt(ro, "") && ro.Status.StableRS == stableHash && !ro.Status.Abort
		}); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) rollbackOnce(ctx context.Context, name, stableHash, tag string) error {
	// Events of different kinds come through different informers, in no guaranteed order:
	// every time is recorded on its own and compared once all are in.
	var (
		mu                            sync.Mutex
		hash                          string
		canaryUp                      bool
		failed, scaled, gone, aborted time.Time
		canSvc, stableAt              time.Time
		stableOK                      bool
		runs                          = map[string]bool{}
	)
	if s := r.w.service(ctx, r.ns, name+"-stable"); selects(s, stableHash) {
		stableOK, stableAt = true, time.Now()
	}
	canary := func(o client.Object) bool {
		return ownedBy(o, name) && hash != "" && o.GetLabels()[v1alpha1.DefaultRolloutUniqueLabelKey] == hash
	}
	unhook := r.w.hook(func(obj client.Object, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		switch o := obj.(type) {
		case *v1alpha1.Rollout:
			if o.Name != name {
				return
			}
			if hash == "" && o.Status.CurrentPodHash != "" && o.Status.CurrentPodHash != stableHash {
				hash = o.Status.CurrentPodHash
			}
			if hash != "" && aborted.IsZero() && (o.Status.Abort || o.Status.Phase == v1alpha1.RolloutPhaseDegraded) {
				aborted = at
			}
		case *v1alpha1.AnalysisRun:
			if !canary(o) {
				return
			}
			runs[o.Name] = true
			if failed.IsZero() && runFailed(o) {
				failed = at
			}
		case *appsv1.ReplicaSet:
			// The new ReplicaSet's events can come before the Rollout's status names its
			// hash: a ReplicaSet of the rollout with pods and another hash than the stable
			// one is the canary (earlier canaries are all at zero by now).
			if h := o.GetLabels()[v1alpha1.DefaultRolloutUniqueLabelKey]; hash == "" && ownedBy(o, name) && h != "" && h != stableHash && replicas(o) > 0 {
				hash = h
			}
			if !canary(o) {
				return
			}
			if replicas(o) > 0 {
				canaryUp = true
			}
			if canaryUp && scaled.IsZero() && replicas(o) == 0 {
				scaled = at
			}
			if !scaled.IsZero() && gone.IsZero() && o.Status.Replicas == 0 {
				gone = at
			}
		case *corev1.Service:
			switch o.Name {
			case name + "-stable":
				ok := selects(o, stableHash)
				if ok && !stableOK {
					stableAt = at
				}
				stableOK = ok
			case name + "-canary":
				if hash != "" && canSvc.IsZero() && selects(o, stableHash) {
					canSvc = at
				}
			}
		}
	})
	defer unhook()
	w, err := r.begin(ctx)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := r.setImage(ctx, name, image(tag)); err != nil {
		return err
	}
	state := func() string {
		ro := r.w.rollout(ctx, r.ns, name)
		msg := fmt.Sprintf("analysis runs of the update seen: %d", len(runs))
		if ro != nil {
			msg += fmt.Sprintf("; rollout phase %q message %q abort %v", ro.Status.Phase, ro.Status.Message, ro.Status.Abort)
			if bg := ro.Status.Canary.CurrentBackgroundAnalysisRunStatus; bg != nil {
				msg += fmt.Sprintf("; background run %s %s", bg.Name, bg.Status)
			}
		}
		for h, rs := range r.w.replicaSets(ctx, r.ns, name) {
			msg += fmt.Sprintf("; replicaset %s %d/%d", h, replicas(rs), rs.Status.AvailableReplicas)
		}
		if s := r.w.service(ctx, r.ns, name+"-stable"); s != nil {
			msg += "; stable service selects " + s.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]
		}
		mu.Lock()
		msg += fmt.Sprintf("; canary hash seen %q, canary seen up %v", hash, canaryUp)
		mu.Unlock()
		return msg
	}
	err = r.w.until(ctx, 90*time.Second, "a failing measurement", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !failed.IsZero()
	})
	if err != nil {
		mu.Lock()
		n := len(runs)
		mu.Unlock()
		if n == 0 {
			return fmt.Errorf("blocked: the controller created no AnalysisRun for the background analysis (%v); %s", err, state())
		}
		return fmt.Errorf("%w; %s", err, state())
	}
	err = r.w.until(ctx, time.Minute, "the canary scaled to 0 and the stable Service on the stable pods", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !scaled.IsZero() && stableOK
	})
	if err != nil {
		return fmt.Errorf("%w; %s", err, state())
	}
	mu.Lock()
	end := scaled
	if stableAt.After(end) {
		end = stableAt
	}
	// a state reached before the failure was seen counts as 0: it was not waiting on it
	after := func(t time.Time) time.Duration {
		if d := t.Sub(failed); d > 0 {
			return d
		}
		return 0
	}
	r.sample("update_to_failed_measurement", failed.Sub(t0))
	r.sample("failed_to_rolled_back", after(end))
	r.sample("failed_to_canary_scaled_0", after(scaled))
	if !aborted.IsZero() {
		r.sample("failed_to_abort_recorded", after(aborted))
	}
	if !canSvc.IsZero() {
		r.sample("failed_to_canary_service_on_stable", after(canSvc))
	}
	mu.Unlock()
	// pods gone is kube-controller-manager's and kwok's work, not the controller's: informative
	_ = r.w.until(ctx, 30*time.Second, "canary pods gone", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !gone.IsZero()
	})
	mu.Lock()
	if !gone.IsZero() {
		r.sample("failed_to_canary_pods_gone", after(gone))
	}
	mu.Unlock()
	fig, err := w.end(ctx, 1, true)
	if err != nil {
		return err
	}
	r.window(fig)
	return nil
}

func runFailed(ar *v1alpha1.AnalysisRun) bool {
	if ar.Status.Phase == v1alpha1.AnalysisPhaseFailed {
		return true
	}
	for _, m := range ar.Status.MetricResults {
		for _, x := range m.Measurements {
			if x.Phase == v1alpha1.AnalysisPhaseFailed {
				return true
			}
		}
	}
	return false
}

// startPrometheus starts the traffic simulator for this run's namespace only and a
// Prometheus scraping it (test/prometheus/up.sh), both on free ports.
func (r *run) startPrometheus(ctx context.Context) (string, func(), error) {
	simAddr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	logPath, _ := filepath.Abs(filepath.Join(r.o.out, "runs", r.ns+"-trafficsim.log"))
	f, err := os.Create(logPath)
	if err != nil {
		return "", nil, err
	}
	sim := exec.Command(r.o.trafficsim, "--kubeconfig", r.o.kubeconfig, "--listen", simAddr, "--namespace", r.ns)
	sim.Stdout, sim.Stderr = f, f
	if err := sim.Start(); err != nil {
		f.Close()
		return "", nil, fmt.Errorf("traffic simulator (%s; make bench builds it): %w", r.o.trafficsim, err)
	}
	simDone := make(chan struct{})
	go func() { _ = sim.Wait(); f.Close(); close(simDone) }()
	stopSim := func() {
		_ = sim.Process.Signal(syscall.SIGTERM)
		select {
		case <-simDone:
		case <-time.After(10 * time.Second):
			_ = sim.Process.Kill()
			<-simDone
		}
		_ = os.Remove(logPath)
	}
	if err := waitHTTP(ctx, "http://"+simAddr+"/healthz", 30*time.Second, simDone); err != nil {
		stopSim()
		return "", nil, fmt.Errorf("traffic simulator: %w\n%s", err, tail(logPath, 10))
	}
	promAddr, err := freeAddr()
	if err != nil {
		stopSim()
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "tern-bench-prometheus-")
	if err != nil {
		stopSim()
		return "", nil, err
	}
	env := append(os.Environ(), "PROMETHEUS_PORT="+strings.TrimPrefix(promAddr, "127.0.0.1:"), "PROMETHEUS_DIR="+dir, "TRAFFICSIM_ADDR="+simAddr)
	up := exec.CommandContext(ctx, filepath.Join(r.o.promDir, "up.sh"))
	var stderr bytes.Buffer
	up.Env, up.Stderr = env, &stderr
	out, err := up.Output()
	stopProm := func() {
		down := exec.Command(filepath.Join(r.o.promDir, "down.sh"), "--purge")
		down.Env = env
		_ = down.Run()
		_ = os.RemoveAll(dir)
	}
	if err != nil {
		stopProm()
		stopSim()
		return "", nil, fmt.Errorf("%s/up.sh: %w\n%s", r.o.promDir, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), func() { stopProm(); stopSim() }, nil
}
