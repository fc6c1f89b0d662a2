package chaos

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/fixture"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// startPrometheus starts a Prometheus of the scenario's own (framework.StartPrometheus) and
// returns its URL and how to stop it, which the test's end does too. It skips the test
// when no Prometheus can be had, or fails it when e2e tests are required.
func startPrometheus(t *testing.T) (url string, stop func()) {
	t.Helper()
	url, down, err := framework.StartPrometheus("")
	if err != nil {
		msg := "no Prometheus: " + err.Error()
		if os.Getenv(framework.EnvRequired) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		if err := down(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return url, stop
}

// TestPrometheusDown: a canary waits on an analysis step and a blue-green on its
// pre-promotion analysis, both measuring a Prometheus that answers, when that Prometheus is
// stopped (and, for good measure, the controller killed once right after). The runs must end
// Error once consecutiveErrorLimit is passed, never Successful; each rollout must abort (or
// pause) with its Services and status.stableRS still on the previous version.
func TestPrometheusDown(t *testing.T) {
	framework.Kubeconfig(t)
	res := &result{scenario: "prometheus-down", faultKinds: "Prometheus stopped + SIGKILL"}
	recordResult(t, res)
	prom, stopProm := startPrometheus(t)

	ns, id, mon := newScenario(t, "chaos-prometheus")
	ctl := startController(t, "controller", ns, id)
	rnd := newRand(t)
	c := fixture.Client(t)
	// count is far beyond the test: only an error ends these runs.
	framework.Apply(t, ns, fmt.Appendf(nil, `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: up}
spec:
  metrics:
  - name: up
    interval: 1s
    count: 100000
    consecutiveErrorLimit: 2
    successCondition: result[0] == 1
    provider:
      prometheus: {address: %q, query: vector(1)}
`, prom))
	rollouts := givenRollouts(t, ns, id, nil,
		named{"cn", framework.CanaryManifest("cn", "nginx:1", 4, `steps:
- setWeight: 50
- analysis: {templates: [{templateName: up}]}
- setWeight: 100`)},
		named{"bg", framework.BlueGreenManifest("bg", "nginx:1", 2, `scaleDownDelaySeconds: 2
prePromotionAnalysis: {templates: [{templateName: up}]}`)})
	stable := map[string]string{}
	for _, r := range rollouts {
		stable[r.Name] = r.Get().Status.StableRS
		r.SetImage("nginx:2")
		res.attempted++
	}

	// Given runs that have measured successfully
	runOf := func(r *rollout) *v1alpha1.AnalysisRun {
		list := &v1alpha1.AnalysisRunList{}
		if err := c.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return nil
		}
		for i := range list.Items {
			run := &list.Items[i]
			for _, ref := range run.OwnerReferences {
				if ref.Name == r.Name && run.Labels[v1alpha1.DefaultRolloutUniqueLabelKey] != stable[r.Name] {
					return run
				}
			}
		}
		return nil
	}
	for _, r := range rollouts {
		framework.Eventually(t, updateTimeout, func() (bool, string) {
			run := runOf(r)
			if run == nil {
				ro, _ := r.TryGet()
				return false, fmt.Sprintf("no AnalysisRun for %s yet: %+v", r.Name, ro.Status)
			}
			return len(run.Status.MetricResults) > 0 && run.Status.MetricResults[0].Successful >= 2,
				fmt.Sprintf("run %s: %s %+v", run.Name, run.Status.Phase, run.Status.MetricResults)
		})
	}

	// When Prometheus goes away, and the controller is killed a moment later
	stopProm()
	res.faults++
	time.Sleep(rnd.duration(0, 2500*time.Millisecond))
	ctl.kill()
	res.faults++
	res.killPoints++

	// Then each run errors, and its rollout falls back to the stable version
	var outcomes []string
	for _, r := range rollouts {
		var run *v1alpha1.AnalysisRun
		framework.Eventually(t, updateTimeout, func() (bool, string) {
			run = runOf(r)
			if run == nil {
				return false, "run gone"
			}
			if run.Status.Phase == v1alpha1.AnalysisPhaseSuccessful {
				t.Fatalf("run %s of %s became Successful without its Prometheus: %s", run.Name, r.Name, run.Status.Message)
			}
			return run.Status.Phase.Completed(), fmt.Sprintf("run %s: %s %q", run.Name, run.Status.Phase, run.Status.Message)
		})
		if p := run.Status.Phase; p != v1alpha1.AnalysisPhaseError && p != v1alpha1.AnalysisPhaseInconclusive {
			t.Errorf("run %s of %s ended %s, want Error or Inconclusive: %s", run.Name, r.Name, p, run.Status.Message)
		}
		if !strings.Contains(run.Status.Message, "consecutiveErrorLimit (2)") {
			t.Errorf("run %s message %q does not name the consecutiveErrorLimit it passed", run.Name, run.Status.Message)
		}
		var how string
		framework.Eventually(t, updateTimeout, func() (bool, string) {
			ok, why := fellBack(r, stable[r.Name])
			how = why
			return ok, why
		})
		res.completed++
		outcomes = append(outcomes, fmt.Sprintf("%s %s, run %s", r.Name, how, run.Status.Phase))
	}
	// And nothing moves on afterwards (a run that errored stays the verdict).
	framework.Consistently(t, 5*time.Second, func() (bool, string) {
		for _, r := range rollouts {
			if ok, why := fellBack(r, stable[r.Name]); !ok {
				return false, r.Name + ": " + why
			}
			if run := runOf(r); run != nil && run.Status.Phase == v1alpha1.AnalysisPhaseSuccessful {
				return false, "run " + run.Name + " became Successful"
			}
		}
		return true, ""
	})
	res.violations = monitorResult(t, mon)
	res.note = strings.Join(outcomes, "; ")
}

// fellBack reports whether the rollout stopped its update on the stable version: aborted
// (or paused waiting for a user), status.stableRS unchanged and its Services on the stable
// version. how says which, or what is missing.
func fellBack(r *rollout, stableHash string) (ok bool, how string) {
	ro, err := r.TryGet()
	if err != nil {
		return false, err.Error()
	}
	st := ro.Status
	desc := fmt.Sprintf("phase=%s abort=%v stable=%s current=%s pause=%v message=%q", st.Phase, st.Abort, st.StableRS, st.CurrentPodHash, st.PauseConditions, st.Message)
	if st.StableRS != stableHash {
		return false, "stableRS moved: " + desc
	}
	switch {
	case st.Abort && st.Phase == v1alpha1.RolloutPhaseDegraded:
		how = "aborted"
	case st.Phase == v1alpha1.RolloutPhasePaused:
		how = "paused"
	default:
		return false, desc
	}
	var svcs []string
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		svcs = []string{bg.ActiveService}
		if st.Abort {
			svcs = append(svcs, bg.PreviewService)
		}
	} else {
		svcs = []string{ro.Spec.Strategy.Canary.StableService}
		if st.Abort {
			svcs = append(svcs, ro.Spec.Strategy.Canary.CanaryService)
		}
	}
	for _, name := range svcs {
		if got := r.TrySelector(name); got != stableHash {
			return false, fmt.Sprintf("service %s selects %q; %s", name, got, desc)
		}
	}
	return true, how
}
