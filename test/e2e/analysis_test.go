package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/actions"
	"github.com/tern-rollouts/tern/test/e2e/fixture"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// Rollouts that run Prometheus analysis (compat.md §3.4) on the shared controller. The
// traffic simulator serves request counters for every Ready rollout pod (half of them 500s
// for images tagged bad-*) and a Prometheus of the suite scrapes it; both are started by
// the first test that needs them (fixture.NeedAnalysis) and stopped when the suite ends.

// successRateTemplate is an AnalysisTemplate measuring the success rate of one version's
// simulated traffic: count measurements interval apart, failing below 90%.
func successRateTemplate(name, prom, interval string, count int, extra string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: %[1]s}
spec:
  args:
  - name: hash
  - name: namespace
  metrics:
  - name: success-rate
    initialDelay: 5s
    interval: %[3]s
    count: %[4]d
    successCondition: result[0] >= 0.9
%[5]s
    provider:
      prometheus:
        address: %[2]s
        query: >-
          sum(rate(http_requests_total{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.hash}}",code!~"5.."}[10s]))
          / sum(rate(http_requests_total{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.hash}}"}[10s]))
`, name, prom, interval, count, framework.Indent(extra, 4))
}

// analysisRef is a rollout's analysis of a template, passing the new version's hash and
// the namespace.
func analysisRef(template string) string {
	return fmt.Sprintf(`templates: [{templateName: %s}]
args:
- name: hash
  valueFrom: {podTemplateHashValue: Latest}
- name: namespace
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}`, template)
}

// stepAnalysisCanary: 2 replicas, setWeight 50, the analysis step, then done.
func stepAnalysisCanary(name, image, template string) string {
	return framework.CanaryManifest(name, image, 2, `steps:
- setWeight: 50
- analysis:
`+framework.Indent(analysisRef(template), 4))
}

// Given a canary with an analysis step, When a good version is deployed, Then its run
// (named and labelled as the contract says) succeeds and the rollout completes by itself.
func TestAnalysisCanaryStepSucceeds(t *testing.T) {
	t.Parallel()
	prom, _ := fixture.NeedAnalysis(t)
	ns := framework.NewNamespace(t, "an-step-ok")
	framework.Apply(t, ns, []byte(successRateTemplate("success-rate", prom, "2s", 2, "")))
	r := fixture.Given(t, ns, "web", stepAnalysisCanary("web", "argoproj/rollouts-demo:blue", "success-rate"))
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)

	r.SetImage("argoproj/rollouts-demo:green")
	ro := r.Until("the step's run", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Canary.CurrentStepAnalysisRunStatus != nil
	})
	name := ro.Status.Canary.CurrentStepAnalysisRunStatus.Name
	if want := "web-" + ro.Status.CurrentPodHash + "-2-1"; name != want {
		t.Fatalf("run %s, want %s", name, want)
	}
	ar := r.AnalysisRun(name)
	for k, v := range map[string]string{"rollout-type": "Step", "step-index": "1", "rollouts-pod-template-hash": ro.Status.CurrentPodHash, "app": "web"} {
		if ar.Labels[k] != v {
			t.Fatalf("run label %s=%q, want %q (labels %v)", k, ar.Labels[k], v, ar.Labels)
		}
	}
	ro = r.Phase(v1alpha1.RolloutPhaseHealthy, 2*timeout)
	if ro.Status.StableRS != ro.Status.CurrentPodHash {
		t.Fatalf("stable %s, want %s", ro.Status.StableRS, ro.Status.CurrentPodHash)
	}
	if ar := r.AnalysisRun(name); ar.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("run %s ended %s: %s", name, ar.Status.Phase, ar.Status.Message)
	}
	r.StableServes("web-stable", ro.Status.StableRS, 2)
}

// Given the same canary, When a bad-* version (half its requests fail) is deployed, Then
// the run fails and the rollout aborts on its own, the stable version serving alone.
func TestAnalysisCanaryStepFailsAborts(t *testing.T) {
	t.Parallel()
	prom, _ := fixture.NeedAnalysis(t)
	ns := framework.NewNamespace(t, "an-step-bad")
	framework.Apply(t, ns, []byte(successRateTemplate("success-rate", prom, "2s", 2, "")))
	r := fixture.Given(t, ns, "web", stepAnalysisCanary("web", "argoproj/rollouts-demo:blue", "success-rate"))
	stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.StableRS

	r.SetImage("argoproj/rollouts-demo:bad-red")
	ro := r.Phase(v1alpha1.RolloutPhaseDegraded, 2*timeout)
	if !strings.Contains(ro.Status.Message, `RolloutAborted: Rollout aborted update to revision 2: Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)`) {
		t.Fatalf("message %q", ro.Status.Message)
	}
	if ro.Status.StableRS != stable {
		t.Fatalf("stable moved to %s", ro.Status.StableRS)
	}
	r.Until("the canary scaled away", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.UpdatedReplicas == 0 && ro.Status.AvailableReplicas == 2
	})
	r.StableServes("web-stable", stable, 2)
	r.StableServes("web-canary", stable, 2)
	if !r.HasEvent("AnalysisRunFailed") {
		t.Fatalf("no AnalysisRunFailed event: %v", r.Events())
	}
}

// Given a canary with background analysis and an indefinite pause, When a bad version is
// deployed, Then the background run fails and aborts the rollout although it waits for
// nobody to promote it.
func TestAnalysisCanaryBackgroundFailsAborts(t *testing.T) {
	t.Parallel()
	prom, _ := fixture.NeedAnalysis(t)
	ns := framework.NewNamespace(t, "an-background")
	framework.Apply(t, ns, []byte(successRateTemplate("success-rate", prom, "2s", 3, "")))
	r := fixture.Given(t, ns, "web", framework.CanaryManifest("web", "argoproj/rollouts-demo:blue", 2, `analysis:
`+framework.Indent(analysisRef("success-rate"), 2)+`
steps:
- setWeight: 50
- pause: {}`))
	stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.StableRS

	r.SetImage("argoproj/rollouts-demo:bad-red")
	ro := r.Until("the background run", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Canary.CurrentBackgroundAnalysisRunStatus != nil
	})
	if want := "web-" + ro.Status.CurrentPodHash + "-2"; ro.Status.Canary.CurrentBackgroundAnalysisRunStatus.Name != want {
		t.Fatalf("background run %s, want %s", ro.Status.Canary.CurrentBackgroundAnalysisRunStatus.Name, want)
	}
	ro = r.Phase(v1alpha1.RolloutPhaseDegraded, 2*timeout)
	if !strings.Contains(ro.Status.Message, `assessed Failed`) {
		t.Fatalf("message %q", ro.Status.Message)
	}
	r.Until("the canary scaled away", timeout, func(ro *v1alpha1.Rollout) bool { return ro.Status.UpdatedReplicas == 0 })
	r.StableServes("web-stable", stable, 2)
}

// Given a blue-green with pre-promotion analysis, When a bad version comes up behind the
// preview Service, Then the run fails, the rollout aborts, and the active Service never
// selects the bad version.
func TestAnalysisBlueGreenPrePromotionFails(t *testing.T) {
	t.Parallel()
	prom, _ := fixture.NeedAnalysis(t)
	ns := framework.NewNamespace(t, "an-bg-pre")
	framework.Apply(t, ns, []byte(successRateTemplate("success-rate", prom, "2s", 2, "")))
	r := fixture.Given(t, ns, "web", bgManifest("web", "argoproj/rollouts-demo:blue", 2, "prePromotionAnalysis:\n"+framework.Indent(analysisRef("success-rate"), 2), ""))
	stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.StableRS

	r.SetImage("argoproj/rollouts-demo:bad-red")
	bad := ""
	ro := r.Until("the abort, the active Service on the stable version throughout", 2*timeout, func(ro *v1alpha1.Rollout) bool {
		bad = ro.Status.CurrentPodHash
		if got := r.Selector("web-active"); got != stable {
			t.Fatalf("the active Service selects %q, not the stable %q", got, stable)
		}
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded
	})
	if !strings.Contains(ro.Status.Message, "Blue/green pre-promotion analysis phase error/failed: Metric \"success-rate\" assessed Failed") {
		t.Fatalf("message %q", ro.Status.Message)
	}
	if pre := ro.Status.BlueGreen.PrePromotionAnalysisRunStatus; pre == nil || pre.Name != "web-"+bad+"-2-pre" || pre.Status != v1alpha1.AnalysisPhaseFailed {
		t.Fatalf("prePromotionAnalysisRunStatus %+v", pre)
	}
	r.StableServes("web-active", stable, 2)
}

// Given a blue-green with post-promotion analysis, When a bad version is switched to, Then
// the run fails and the active Service goes back to the stable version, which stayed up.
func TestAnalysisBlueGreenPostPromotionFailsSwitchesBack(t *testing.T) {
	t.Parallel()
	prom, _ := fixture.NeedAnalysis(t)
	ns := framework.NewNamespace(t, "an-bg-post")
	framework.Apply(t, ns, []byte(successRateTemplate("success-rate", prom, "2s", 2, "")))
	r := fixture.Given(t, ns, "web", bgManifest("web", "argoproj/rollouts-demo:blue", 2, "postPromotionAnalysis:\n"+framework.Indent(analysisRef("success-rate"), 2), ""))
	stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.StableRS

	r.SetImage("argoproj/rollouts-demo:bad-red")
	ro := r.Until("the switch to the new version", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.CurrentPodHash != stable && r.Selector("web-active") == ro.Status.CurrentPodHash
	})
	if ro.Status.StableRS != stable {
		t.Fatalf("stableRS %s moved before the verification", ro.Status.StableRS)
	}
	ro = r.Phase(v1alpha1.RolloutPhaseDegraded, 2*timeout)
	if !strings.Contains(ro.Status.Message, "Blue/green post-promotion analysis phase error/failed") {
		t.Fatalf("message %q", ro.Status.Message)
	}
	r.Until("the active Service back on the stable version", timeout, func(*v1alpha1.Rollout) bool {
		return r.Selector("web-active") == stable
	})
	r.StableServes("web-active", stable, 2)
	if ro := r.Get(); ro.Status.StableRS != stable {
		t.Fatalf("stableRS %s", ro.Status.StableRS)
	}
}

// Given a canary whose analysis measures through a Prometheus that stops mid-analysis,
// Then the measurements error, the run ends in Error and the rollout aborts: an analysis
// that cannot measure never promotes.
func TestAnalysisPrometheusDownAborts(t *testing.T) {
	t.Parallel()
	_, simAddr := fixture.NeedAnalysis(t)
	prom, stop, err := framework.StartPrometheus(simAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ns := framework.NewNamespace(t, "an-prom-down")
	framework.Apply(t, ns, []byte(successRateTemplate("success-rate", prom, "1s", 120, "consecutiveErrorLimit: 1")))
	r := fixture.Given(t, ns, "web", stepAnalysisCanary("web", "argoproj/rollouts-demo:blue", "success-rate"))
	stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.StableRS

	r.SetImage("argoproj/rollouts-demo:green")
	ro := r.Until("the step's run", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Canary.CurrentStepAnalysisRunStatus != nil
	})
	name := ro.Status.Canary.CurrentStepAnalysisRunStatus.Name
	framework.Eventually(t, timeout, func() (bool, string) {
		ar := r.AnalysisRun(name)
		for _, m := range ar.Status.MetricResults {
			if m.Successful > 0 {
				return true, ""
			}
		}
		return false, fmt.Sprintf("waiting for a successful measurement; run %s %+v", ar.Status.Phase, ar.Status.MetricResults)
	})
	stop()
	ro = r.Until("the abort", timeout, func(ro *v1alpha1.Rollout) bool {
		if ro.Status.StableRS != stable {
			t.Fatalf("promoted to %s while Prometheus was down", ro.Status.StableRS)
		}
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded
	})
	if !strings.Contains(ro.Status.Message, `assessed Error`) {
		t.Fatalf("message %q", ro.Status.Message)
	}
	if ar := r.AnalysisRun(name); ar.Status.Phase != v1alpha1.AnalysisPhaseError {
		t.Fatalf("run %s", ar.Status.Phase)
	}
	r.Until("the canary scaled away", timeout, func(ro *v1alpha1.Rollout) bool { return ro.Status.UpdatedReplicas == 0 })
	r.StableServes("web-stable", stable, 2)
}

// Given an analysis step whose result satisfies neither condition, Then the rollout pauses
// (InconclusiveAnalysisRun) and stays at the step until promoted, then completes.
func TestAnalysisInconclusivePausesUntilPromote(t *testing.T) {
	t.Parallel()
	prom, _ := fixture.NeedAnalysis(t)
	ns := framework.NewNamespace(t, "an-inconclusive")
	framework.Apply(t, ns, []byte(strings.Replace(successRateTemplate("undecided", prom, "1s", 1, "failureCondition: result[0] < 0"),
		"successCondition: result[0] >= 0.9", "successCondition: result[0] > 2", 1)))
	r := fixture.Given(t, ns, "web", stepAnalysisCanary("web", "argoproj/rollouts-demo:blue", "undecided"))
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)

	r.SetImage("argoproj/rollouts-demo:green")
	ro := r.Phase(v1alpha1.RolloutPhasePaused, 2*timeout)
	if ro.Status.Message != "InconclusiveAnalysisRun" || fixture.StepIndex(ro) != 1 {
		t.Fatalf("paused with %q at step %d", ro.Status.Message, fixture.StepIndex(ro))
	}
	framework.Consistently(t, 3*time.Second, func() (bool, string) {
		ro := r.Get()
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && fixture.StepIndex(ro) == 1, fmt.Sprintf("phase %s step %d", ro.Status.Phase, fixture.StepIndex(ro))
	})
	if _, err := actions.Promote(context.Background(), r.C, client.ObjectKey{Namespace: ns, Name: "web"}, false); err != nil {
		t.Fatal(err)
	}
	ro = r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if ro.Status.StableRS != ro.Status.CurrentPodHash {
		t.Fatalf("stable %s, want %s", ro.Status.StableRS, ro.Status.CurrentPodHash)
	}
}

// Given a canary whose analysis names a template that does not exist, Then it is
// InvalidSpec naming the template, and recovers when the template is created.
func TestAnalysisMissingTemplateRecovers(t *testing.T) {
	t.Parallel()
	prom, _ := fixture.NeedAnalysis(t)
	ns := framework.NewNamespace(t, "an-missing")
	r := fixture.Given(t, ns, "web", stepAnalysisCanary("web", "argoproj/rollouts-demo:blue", "later"))
	ro := r.Phase(v1alpha1.RolloutPhaseDegraded, timeout)
	if !strings.Contains(ro.Status.Message, `analysistemplates.argoproj.io "later" not found`) {
		t.Fatalf("message %q", ro.Status.Message)
	}
	framework.Apply(t, ns, []byte(successRateTemplate("later", prom, "2s", 2, "")))
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
}
