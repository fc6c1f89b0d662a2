package plan_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/plan"
	"github.com/tern-rollouts/tern/internal/plan/simulate"
)

// successRateTemplate is the template the analysis tests name unless they say otherwise.
func successRateTemplate() *v1alpha1.AnalysisTemplateSpec {
	return &v1alpha1.AnalysisTemplateSpec{
		Args: []v1alpha1.Argument{{Name: "hash"}},
		Metrics: []v1alpha1.Metric{{
			Name:             "success-rate",
			SuccessCondition: "result[0] >= 0.95",
			Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
				Address: "http://prometheus:9090",
				Query:   `sum(rate(http_requests_total{code!~"5..",rollouts_pod_template_hash="{{args.hash}}"}[10s]))`,
			}},
		}},
	}
}

// current is the run of a kind the rollout's status records.
func (w *world) current(k simulate.RunKind) *v1alpha1.AnalysisRun {
	w.t.Helper()
	ar, err := w.CurrentRun(k)
	w.must(err)
	return ar
}

// finish ends the current run of a kind with a phase, as the AnalysisRun controller would.
func (w *world) finish(k simulate.RunKind, phase v1alpha1.AnalysisPhase, msg string) *v1alpha1.AnalysisRun {
	w.t.Helper()
	ar, err := w.FinishRun(k, phase, msg)
	w.must(err)
	return ar
}

func (w *world) runNames() []string {
	var out []string
	for _, ar := range w.AnalysisRuns() {
		out = append(out, ar.Name)
	}
	return out
}

func (w *world) terminated() []string {
	var out []string
	for _, a := range w.Actions() {
		if t, ok := a.(plan.TerminateAnalysisRun); ok {
			out = append(out, t.Name)
		}
	}
	return out
}

func pauseReasons(w *world) []v1alpha1.PauseReason {
	var out []v1alpha1.PauseReason
	for _, pc := range w.ro.Status.PauseConditions {
		out = append(out, pc.Reason)
	}
	return out
}

const failedMsg = `Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)`

func analysisOf(names ...string) *v1alpha1.RolloutAnalysis {
	a := &v1alpha1.RolloutAnalysis{Args: []v1alpha1.AnalysisRunArgument{{Name: "hash", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: ptrTo(v1alpha1.Latest)}}}}
	for _, n := range names {
		a.Templates = append(a.Templates, v1alpha1.AnalysisTemplateRef{TemplateName: n})
	}
	return a
}

// canaryWithStepAnalysis: 5 replicas, setWeight 20, analysis, setWeight 60.
func canaryWithStepAnalysis(t *testing.T) *world {
	w := withServices(seedCanary(t))
	w.ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{
		{SetWeight: ptrTo(int32(20))},
		{Analysis: analysisOf("success-rate")},
		{SetWeight: ptrTo(int32(60))},
	}
	w.settle()
	return w
}

// The run of an analysis step carries the contract's name, labels, annotations, owner
// and the arguments resolved from the rollout.
func TestAnalysisRunMade(t *testing.T) {
	w := withServices(seedCanary(t))
	w.ro.Labels = map[string]string{v1alpha1.LabelKeyControllerInstanceID: "blue-team"}
	w.SetAnalysisTemplate("success-rate", successRateTemplate())
	w.SetAnalysisTemplate("base", &v1alpha1.AnalysisTemplateSpec{
		Args:    []v1alpha1.Argument{{Name: "stable"}, {Name: "image"}, {Name: "fixed", Value: ptrTo("from-template")}},
		Metrics: []v1alpha1.Metric{{Name: "web", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x/{{args.stable}}/{{args.image}}"}}}},
	})
	w.AnalysisTemplate("success-rate").Templates = []v1alpha1.AnalysisTemplateRef{{TemplateName: "base"}}
	a := analysisOf("success-rate")
	a.Args = append(a.Args,
		v1alpha1.AnalysisRunArgument{Name: "stable", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: ptrTo(v1alpha1.Stable)}},
		v1alpha1.AnalysisRunArgument{Name: "image", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "spec.template.spec.containers[0].image"}}},
		v1alpha1.AnalysisRunArgument{Name: "unused", Value: "x"})
	a.DryRun = []v1alpha1.DryRun{{MetricName: "web"}}
	a.MeasurementRetention = []v1alpha1.MeasurementRetention{{MetricName: "success-rate", Limit: 3}}
	a.AnalysisRunMetadata = v1alpha1.AnalysisRunMetadata{
		Labels:      map[string]string{"team": "web", v1alpha1.LabelKeyControllerInstanceID: "other"},
		Annotations: map[string]string{"note": "canary"},
	}
	w.ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{SetWeight: ptrTo(int32(20))}, {Analysis: a}}
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	green := w.currentHash()
	name := "rollouts-demo-" + green + "-2-1"
	wantEqual(t, "runs", w.runNames(), []string{name})
	ar := w.AnalysisRun(name)
	wantEqual(t, "labels", ar.Labels, map[string]string{
		"rollout-type": "Step", "step-index": "1", hashKey: green, "app": "rollouts-demo", "team": "web",
		v1alpha1.LabelKeyControllerInstanceID: "blue-team",
	})
	wantEqual(t, "annotations", ar.Annotations, map[string]string{v1alpha1.RevisionAnnotation: "2", "note": "canary"})
	owner := metav1.GetControllerOf(ar)
	if owner == nil || owner.UID != w.ro.UID || owner.Kind != "Rollout" || owner.Name != "rollouts-demo" || owner.APIVersion != "argoproj.io/v1alpha1" {
		t.Fatalf("owner = %+v", ar.OwnerReferences)
	}
	wantEqual(t, "namespace", ar.Namespace, "default")
	args := map[string]string{}
	for _, arg := range ar.Spec.Args {
		args[arg.Name] = *arg.Value
	}
	wantEqual(t, "args", args, map[string]string{"hash": green, "stable": blueHash, "image": "argoproj/rollouts-demo:green", "fixed": "from-template"})
	wantEqual(t, "metrics", []string{ar.Spec.Metrics[0].Name, ar.Spec.Metrics[1].Name}, []string{"success-rate", "web"})
	wantEqual(t, "dryRun", ar.Spec.DryRun, a.DryRun)
	wantEqual(t, "measurementRetention", ar.Spec.MeasurementRetention, a.MeasurementRetention)
	wantEqual(t, "recorded", *w.ro.Status.Canary.CurrentStepAnalysisRunStatus, v1alpha1.RolloutAnalysisRunStatus{Name: name})
}

// A rollout without the instance label makes runs without it, whatever the metadata says.
func TestAnalysisRunNoInstanceLabel(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.ro.Spec.Strategy.Canary.Steps[1].Analysis.AnalysisRunMetadata.Labels = map[string]string{v1alpha1.LabelKeyControllerInstanceID: "other"}
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	if _, ok := w.current(simulate.StepRun).Labels[v1alpha1.LabelKeyControllerInstanceID]; ok {
		t.Fatal("the run would be measured by another controller instance")
	}
}

func TestCanaryStepAnalysisSucceeds(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	green := w.currentHash()
	wantEqual(t, "at the analysis step", w.stepIndex(), int32(1))
	wantEqual(t, "one run", len(w.AnalysisRuns()), 1)
	w.ClearEvents()
	w.current(simulate.StepRun).Status.Phase = v1alpha1.AnalysisPhaseRunning
	w.settle()
	wantEqual(t, "recorded", w.ro.Status.Canary.CurrentStepAnalysisRunStatus.Status, v1alpha1.AnalysisPhaseRunning)
	wantEqual(t, "events", w.eventMessages("AnalysisRunRunning"), []string{"Step Analysis Run 'rollouts-demo-" + green + "-2-1' Status New: 'Running' Previous: ''"})
	w.finish(simulate.StepRun, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "stable", w.ro.Status.StableRS, green)
	wantEqual(t, "record cleared", w.ro.Status.Canary.CurrentStepAnalysisRunStatus == nil, true)
	wantEqual(t, "nothing terminated", w.terminated(), []string(nil))
	wantEqual(t, "run kept", len(w.AnalysisRuns()), 1)
}

// Abort on a failed step run, then retry: the update starts over and the analysis step
// gets a fresh run, named <name>.1, while the failed one stays as history.
func TestCanaryStepAnalysisFailsThenRetry(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	green := w.currentHash()
	name := "rollouts-demo-" + green + "-2-1"
	w.ClearEvents()
	w.finish(simulate.StepRun, v1alpha1.AnalysisPhaseFailed, failedMsg)
	w.settle()
	wantEqual(t, "message", w.ro.Status.Message, "RolloutAborted: Rollout aborted update to revision 2: "+failedMsg)
	wantEqual(t, "events", w.eventReasons()[:2], []string{"AnalysisRunFailed", "ScalingReplicaSet"})
	for _, e := range w.Events() {
		if e.Reason == "AnalysisRunFailed" && e.Type != "Warning" {
			t.Fatalf("AnalysisRunFailed is a %s event", e.Type)
		}
	}
	wantEqual(t, "status shows the failed run", *w.ro.Status.Canary.CurrentStepAnalysisRunStatus,
		v1alpha1.RolloutAnalysisRunStatus{Name: name, Status: v1alpha1.AnalysisPhaseFailed, Message: failedMsg})

	w.ro.Status.Abort = false
	w.settle()
	wantEqual(t, "at the step again", w.stepIndex(), int32(1))
	wantEqual(t, "runs", w.runNames(), []string{name, name + ".1"})
	wantEqual(t, "follows the new run", w.current(simulate.StepRun).Name, name+".1")
	wantEqual(t, "waiting", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
	w.finish(simulate.StepRun, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}

// A promote past a running analysis step stops its run; so do an abort and a full
// promotion.
func TestCanaryStepAnalysisStoppedWhenLeft(t *testing.T) {
	for _, how := range []string{"promote", "abort", "promote-full"} {
		t.Run(how, func(t *testing.T) {
			w := canaryWithStepAnalysis(t)
			w.SetImage("argoproj/rollouts-demo:green")
			w.settle()
			ar := w.current(simulate.StepRun)
			ar.Status.Phase = v1alpha1.AnalysisPhaseRunning
			w.settle()
			switch how {
			case "promote": // what `kubectl argo rollouts promote` writes at a step without a pause
				w.ro.Status.CurrentStepIndex = ptrTo(int32(2))
			case "abort":
				w.ro.Status.Abort = true
			case "promote-full":
				w.ro.Status.PromoteFull = true
			}
			w.settle()
			wantEqual(t, "terminated", w.terminated(), []string{ar.Name})
			if how == "abort" {
				wantEqual(t, "aborted", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
			} else {
				wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
			}
			wantEqual(t, "no other run", len(w.AnalysisRuns()), 1)
		})
	}
}

// An inconclusive step pauses; a resume (pause conditions cleared) runs the analysis
// again, a promote (the plugin also moves past the step) goes on.
func TestCanaryStepAnalysisInconclusive(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	name := w.current(simulate.StepRun).Name
	w.finish(simulate.StepRun, v1alpha1.AnalysisPhaseInconclusive, "")
	w.settle()
	wantEqual(t, "paused", w.ro.Status.Message, "InconclusiveAnalysisRun")
	w.Promote()
	w.settle()
	wantEqual(t, "rerun", w.current(simulate.StepRun).Name, name+".1")
	wantEqual(t, "running again", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
	wantEqual(t, "resume used up", w.ro.Status.ControllerPause, false)
	w.finish(simulate.StepRun, v1alpha1.AnalysisPhaseInconclusive, "")
	w.settle()
	wantEqual(t, "paused again", w.ro.Status.Message, "InconclusiveAnalysisRun")
	// kubectl argo rollouts promote on an inconclusive step.
	w.ro.Status.PauseConditions, w.ro.Status.ControllerPause, w.ro.Status.CurrentStepIndex = nil, false, ptrTo(int32(2))
	w.settle()
	wantEqual(t, "promoted past the step", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "two runs", len(w.AnalysisRuns()), 2)
}

// The status write of the decision that created a run was lost: the planner follows the
// newest run of the step still measuring rather than starting another, and never one of
// another rollout.
func TestCanaryStepRunAdoptedAfterLostStatus(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	first := w.current(simulate.StepRun)
	first.Status.Phase, first.CreationTimestamp = v1alpha1.AnalysisPhaseFailed, metav1.NewTime(epoch)
	second := first.DeepCopy()
	second.Name, second.UID = first.Name+".1", "second"
	second.Status.Phase, second.CreationTimestamp = v1alpha1.AnalysisPhaseRunning, metav1.NewTime(epoch.Add(time.Minute))
	foreign := first.DeepCopy()
	foreign.Name, foreign.UID, foreign.OwnerReferences[0].UID = first.Name+".2", "foreign", "someone-else"
	foreign.Status.Phase, foreign.CreationTimestamp = v1alpha1.AnalysisPhaseRunning, metav1.NewTime(epoch.Add(time.Hour))
	w.AddAnalysisRun(second)
	w.AddAnalysisRun(foreign)
	w.ro.Status.Canary.CurrentStepAnalysisRunStatus = nil
	w.settle()
	wantEqual(t, "newest own run followed", w.ro.Status.Canary.CurrentStepAnalysisRunStatus.Name, second.Name)
	wantEqual(t, "not aborted", w.ro.Status.Abort, false)
	wantEqual(t, "no run created", len(w.AnalysisRuns()), 3)
}

// canaryWithBackground: the seed canary with a background analysis from step 2 on.
func canaryWithBackground(t *testing.T) *world {
	w := withServices(seedCanary(t))
	w.ro.Spec.Strategy.Canary.Analysis = &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: *analysisOf("success-rate"), StartingStep: ptrTo(int32(2))}
	w.settle()
	return w
}

func TestCanaryBackgroundAnalysis(t *testing.T) {
	w := canaryWithBackground(t)
	if len(w.AnalysisRuns()) != 0 {
		t.Fatal("the initial deploy ran analysis")
	}
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellow := w.currentHash()
	wantEqual(t, "paused at step 1", w.stepIndex(), int32(1))
	wantEqual(t, "no run before startingStep", len(w.AnalysisRuns()), 0)
	w.Promote()
	w.settle()
	name := "rollouts-demo-" + yellow + "-2"
	wantEqual(t, "run", w.runNames(), []string{name})
	ar := w.current(simulate.BackgroundRun)
	wantEqual(t, "label", ar.Labels["rollout-type"], "Background")
	if _, ok := ar.Labels["step-index"]; ok {
		t.Fatal("a background run has no step index")
	}
	ar.Status.Phase = v1alpha1.AnalysisPhaseRunning
	w.advance(10 * time.Second)
	w.advance(10 * time.Second)
	wantEqual(t, "at step 7", w.stepIndex(), int32(7))
	wantEqual(t, "still running across steps", w.terminated(), []string(nil))
	wantEqual(t, "recorded", *w.ro.Status.Canary.CurrentBackgroundAnalysisRunStatus, v1alpha1.RolloutAnalysisRunStatus{Name: name, Status: v1alpha1.AnalysisPhaseRunning})
	w.advance(10 * time.Second)
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "terminated on completion", w.terminated(), []string{name})
	wantEqual(t, "record cleared", w.ro.Status.Canary.CurrentBackgroundAnalysisRunStatus == nil, true)
}

func TestCanaryBackgroundFailureAborts(t *testing.T) {
	for _, phase := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError} {
		t.Run(string(phase), func(t *testing.T) {
			w := canaryWithBackground(t)
			w.ro.Spec.Strategy.Canary.Analysis.StartingStep = nil
			w.SetImage("argoproj/rollouts-demo:yellow")
			w.settle()
			yellowRS := w.rsOf(w.currentHash())
			w.ClearEvents()
			msg := `Metric "success-rate" assessed ` + string(phase) + ` due to failed (1) > failureLimit (0)`
			w.finish(simulate.BackgroundRun, phase, msg)
			w.settle()
			wantEqual(t, "message", w.ro.Status.Message, "RolloutAborted: Rollout aborted update to revision 2: "+msg)
			wantEqual(t, "first event", w.Events()[0].Reason, "AnalysisRun"+string(phase))
			wantEqual(t, "warning", w.Events()[0].Type, "Warning")
			wantEqual(t, "canary gone", w.Replicas(), map[string]int32{canaryBlue: 5, yellowRS: 0})
			wantEqual(t, "stable serves", w.Selector(stableSvc), blueHash)
			wantEqual(t, "canary svc on stable", w.Selector(canarySvc), blueHash)
		})
	}
}

// An inconclusive background run holds the update at its step, however long; a resume
// starts it again.
func TestCanaryBackgroundInconclusive(t *testing.T) {
	w := canaryWithBackground(t)
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	w.Promote()
	w.settle()
	name := w.current(simulate.BackgroundRun).Name
	wantEqual(t, "at step 3", w.stepIndex(), int32(3))
	w.finish(simulate.BackgroundRun, v1alpha1.AnalysisPhaseInconclusive, "")
	w.settle()
	wantEqual(t, "paused", pauseReasons(w), []v1alpha1.PauseReason{v1alpha1.PauseReasonCanaryPauseStep, v1alpha1.PauseReasonInconclusiveAnalysis})
	w.advance(time.Hour)
	wantEqual(t, "held at step 3", w.stepIndex(), int32(3))
	wantEqual(t, "still paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	w.ro.Status.PauseConditions = nil // kubectl argo rollouts promote: no inconclusive step
	w.settle()
	wantEqual(t, "rerun", w.current(simulate.BackgroundRun).Name, name+".1")
	wantEqual(t, "steps go on", w.stepIndex(), int32(5))
}

// A blue-green whose new version must pass a pre-promotion analysis.
func blueGreenWithPre(t *testing.T) *world {
	w := seedBlueGreen(t)
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = nil
	w.ro.Spec.Strategy.BlueGreen.PrePromotionAnalysis = analysisOf("success-rate")
	w.settle()
	return w
}

func TestBlueGreenPrePromotionAnalysis(t *testing.T) {
	w := blueGreenWithPre(t)
	wantEqual(t, "no analysis on the initial deploy", len(w.AnalysisRuns()), 0)
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellow := w.currentHash()
	name := "rollout-bluegreen-" + yellow + "-2-pre"
	wantEqual(t, "run", w.runNames(), []string{name})
	wantEqual(t, "label", w.current(simulate.PrePromotionRun).Labels["rollout-type"], "PrePromotion")
	wantEqual(t, "preview", w.Selector(previewSvc), yellow)
	w.advance(time.Hour)
	wantEqual(t, "active waits", w.Selector(activeSvc), "558dcdc6d")
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
	wantEqual(t, "message", w.ro.Status.Message, "active service cutover pending")
	w.finish(simulate.PrePromotionRun, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "active switched", w.Selector(activeSvc), yellow)
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}

// With previewReplicaCount the analysis judges the reduced preview; the full scale-up
// follows its success.
func TestBlueGreenPrePromotionWithPreviewReplicaCount(t *testing.T) {
	w := blueGreenWithPre(t)
	w.ro.Spec.Strategy.BlueGreen.PreviewReplicaCount = ptrTo(int32(1))
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellowRS := "rollout-bluegreen-" + w.currentHash()
	wantEqual(t, "preview at 1", w.Replicas(), map[string]int32{blueRS: 2, yellowRS: 1})
	wantEqual(t, "run started", len(w.AnalysisRuns()), 1)
	w.finish(simulate.PrePromotionRun, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "full size", w.Replicas()[yellowRS], int32(2))
}

func TestBlueGreenPrePromotionFailureNeverSwitches(t *testing.T) {
	w := blueGreenWithPre(t)
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellowRS := "rollout-bluegreen-" + w.currentHash()
	w.finish(simulate.PrePromotionRun, v1alpha1.AnalysisPhaseFailed, failedMsg)
	w.settleChecking(func() {
		if w.Selector(activeSvc) != "558dcdc6d" {
			t.Fatal("the active Service moved")
		}
	})
	wantEqual(t, "message", w.ro.Status.Message,
		"RolloutAborted: Rollout aborted update to revision 2: Blue/green pre-promotion analysis phase error/failed: "+failedMsg)
	wantEqual(t, "event", len(w.eventMessages("AnalysisRunFailed")), 1)
	w.advance(30 * time.Second)
	wantEqual(t, "preview scaled down after the abort delay", w.Replicas(), map[string]int32{blueRS: 2, yellowRS: 0})
	wantEqual(t, "active", w.Selector(activeSvc), "558dcdc6d")
	wantEqual(t, "stable", w.ro.Status.StableRS, "558dcdc6d")
}

// Promote --full skips the pre-promotion analysis, stopping its run.
func TestBlueGreenPrePromotionPromoteFull(t *testing.T) {
	w := blueGreenWithPre(t)
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	name := w.current(simulate.PrePromotionRun).Name
	w.ro.Status.PromoteFull = true
	w.settle()
	wantEqual(t, "switched", w.Selector(activeSvc), w.currentHash())
	wantEqual(t, "terminated", w.terminated(), []string{name})
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}

// An inconclusive pre-promotion pauses; a promote (which clears the pause) runs it again.
func TestBlueGreenPrePromotionInconclusive(t *testing.T) {
	w := blueGreenWithPre(t)
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = ptrTo(false)
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	name := w.current(simulate.PrePromotionRun).Name
	w.finish(simulate.PrePromotionRun, v1alpha1.AnalysisPhaseInconclusive, "")
	w.settle()
	wantEqual(t, "pauses", pauseReasons(w), []v1alpha1.PauseReason{v1alpha1.PauseReasonBlueGreenPause, v1alpha1.PauseReasonInconclusiveAnalysis})
	w.Promote()
	w.settle()
	wantEqual(t, "rerun", w.current(simulate.PrePromotionRun).Name, name+".1")
	wantEqual(t, "active waits for it", w.Selector(activeSvc), "558dcdc6d")
	wantEqual(t, "no pause re-added", len(w.ro.Status.PauseConditions), 0)
	w.finish(simulate.PrePromotionRun, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "switched", w.Selector(activeSvc), w.currentHash())
}

// A blue-green that verifies the new version after the switch.
func blueGreenWithPost(t *testing.T) *world {
	w := seedBlueGreen(t)
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = nil
	w.ro.Spec.Strategy.BlueGreen.PostPromotionAnalysis = analysisOf("success-rate")
	w.settle()
	return w
}

func TestBlueGreenPostPromotionAnalysis(t *testing.T) {
	w := blueGreenWithPost(t)
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellow := w.currentHash()
	yellowRS := "rollout-bluegreen-" + yellow
	wantEqual(t, "active switched", w.Selector(activeSvc), yellow)
	wantEqual(t, "run", w.runNames(), []string{"rollout-bluegreen-" + yellow + "-2-post"})
	wantEqual(t, "label", w.current(simulate.PostPromotionRun).Labels["rollout-type"], "PostPromotion")
	wantEqual(t, "stable not yet", w.ro.Status.StableRS, "558dcdc6d")
	// The run is still going (compat.md §2.2 rule 8: "waiting for analysis to complete" until it completes).
	wantEqual(t, "message", w.ro.Status.Message, "waiting for analysis to complete")
	w.advance(time.Hour)
	wantEqual(t, "old version kept up while it runs", w.Replicas(), map[string]int32{blueRS: 2, yellowRS: 2})
	if _, ok := w.ReplicaSet(blueRS).Annotations[v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey]; ok {
		t.Fatal("the stable version got a scale-down deadline before the verification")
	}
	w.finish(simulate.PostPromotionRun, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "stable", w.ro.Status.StableRS, yellow)
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "old kept for its delay", w.Replicas()[blueRS], int32(2))
	w.advance(30 * time.Second)
	wantEqual(t, "old scaled down", w.Replicas()[blueRS], int32(0))
}

func TestBlueGreenPostPromotionFailureSwitchesBack(t *testing.T) {
	for _, phase := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError} {
		t.Run(string(phase), func(t *testing.T) {
			w := blueGreenWithPost(t)
			w.SetImage("argoproj/rollouts-demo:yellow")
			w.settle()
			w.advance(time.Minute)
			w.finish(simulate.PostPromotionRun, phase, "boom")
			w.settle()
			wantEqual(t, "active back on stable", w.Selector(activeSvc), "558dcdc6d")
			wantEqual(t, "stable", w.ro.Status.StableRS, "558dcdc6d")
			wantEqual(t, "message", w.ro.Status.Message,
				"RolloutAborted: Rollout aborted update to revision 2: Blue/green post-promotion analysis phase error/failed: boom")
			wantEqual(t, "stable at full size", w.Replicas()[blueRS], int32(2))
		})
	}
}

// Design invariant 5: whatever path an analysis takes, a failed, errored or inconclusive
// run never promotes the new version, however long the rollout is left alone.
func TestAnalysisNeverPromotesOnBadResult(t *testing.T) {
	type path struct {
		kind  simulate.RunKind
		setup func(t *testing.T) *world
	}
	paths := []path{
		{simulate.StepRun, canaryWithStepAnalysis},
		{simulate.BackgroundRun, func(t *testing.T) *world {
			w := canaryWithBackground(t)
			w.ro.Spec.Strategy.Canary.Analysis.StartingStep = nil
			return w
		}},
		{simulate.PrePromotionRun, blueGreenWithPre},
		{simulate.PostPromotionRun, blueGreenWithPost},
	}
	for _, pt := range paths {
		for _, phase := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive} {
			t.Run(string(pt.kind)+"/"+string(phase), func(t *testing.T) {
				w := pt.setup(t)
				w.SetImage("argoproj/rollouts-demo:bad-red")
				w.settle()
				bad := w.currentHash()
				w.finish(pt.kind, phase, "bad")
				check := func() {
					if w.ro.Status.StableRS == bad {
						t.Fatalf("promoted after a %s run", phase)
					}
					if bg := w.ro.Spec.Strategy.BlueGreen; bg != nil && pt.kind == simulate.PrePromotionRun && w.Selector(activeSvc) == bad {
						t.Fatalf("active switched after a %s run", phase)
					}
				}
				w.settleChecking(check)
				for i := 0; i < 5; i++ {
					w.SetNow(w.Now().Add(10 * time.Minute))
					w.settleChecking(check)
				}
				switch phase {
				case v1alpha1.AnalysisPhaseInconclusive:
					if findPause(w.ro.Status.PauseConditions, v1alpha1.PauseReasonInconclusiveAnalysis) == nil {
						t.Fatalf("not paused for the inconclusive run: %+v", w.ro.Status.PauseConditions)
					}
				default:
					wantEqual(t, "aborted", w.ro.Status.Abort, true)
					if w.ro.Spec.Strategy.BlueGreen != nil {
						wantEqual(t, "active on stable", w.Selector(activeSvc), "558dcdc6d")
					}
				}
			})
		}
	}
}

// Completed runs beyond the history limits go, oldest first; so do runs of versions
// whose ReplicaSet is gone; the run the rollout follows stays.
func TestAnalysisRunHistory(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.ro.Spec.Analysis = &v1alpha1.AnalysisRunStrategy{SuccessfulRunHistoryLimit: ptrTo(int32(1)), UnsuccessfulRunHistoryLimit: ptrTo(int32(2))}
	isController := true
	add := func(name, hash string, phase v1alpha1.AnalysisPhase, age time.Duration) {
		ar := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default", UID: types.UID("old-" + name), CreationTimestamp: metav1.NewTime(epoch.Add(-age)),
			Labels:          map[string]string{hashKey: hash},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Rollout", Name: w.ro.Name, UID: w.ro.UID, Controller: &isController}},
		}}
		ar.Status.Phase = phase
		w.AddAnalysisRun(ar)
	}
	for i := 1; i <= 3; i++ {
		add(fmt.Sprintf("ok-%d", i), blueHash, v1alpha1.AnalysisPhaseSuccessful, time.Duration(i)*time.Hour)
		add(fmt.Sprintf("bad-%d", i), blueHash, v1alpha1.AnalysisPhaseFailed, time.Duration(i)*time.Hour)
	}
	add("error-4", blueHash, v1alpha1.AnalysisPhaseError, 4*time.Hour)
	add("gone-version", "0123456789", v1alpha1.AnalysisPhaseSuccessful, time.Minute)
	add("running", blueHash, v1alpha1.AnalysisPhaseRunning, 5*time.Hour)
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	cur := w.current(simulate.StepRun).Name
	wantEqual(t, "kept", w.runNames(), []string{"ok-1", "bad-1", "bad-2", cur})
	wantEqual(t, "the running one was stopped first", w.terminated(), []string{"running"})
}

func TestAnalysisMissingTemplateIsInvalidSpec(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(w *world)
		fix     func(w *world)
		message string
	}{
		{
			name:    "step template",
			edit:    func(w *world) { w.ro.Spec.Strategy.Canary.Steps[1].Analysis.Templates[0].TemplateName = "nope" },
			fix:     func(w *world) { w.SetAnalysisTemplate("nope", successRateTemplate()) },
			message: `spec.strategy.canary.steps[1].analysis.templates[0].templateName: Invalid value: "nope": analysistemplates.argoproj.io "nope" not found`,
		},
		{
			name: "nested template",
			edit: func(w *world) {
				w.AnalysisTemplate("success-rate").Templates = []v1alpha1.AnalysisTemplateRef{{TemplateName: "inner", ClusterScope: true}}
			},
			fix: func(w *world) {
				w.SetClusterAnalysisTemplate("inner", &v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{Name: "other", Provider: successRateTemplate().Metrics[0].Provider}}})
			},
			message: `spec.strategy.canary.steps[1].analysis.templates[0].templateName: Invalid value: "success-rate": clusteranalysistemplates.argoproj.io "inner" not found`,
		},
		{
			name: "cluster template, namespaced install",
			edit: func(w *world) {
				w.AnalysisTemplate("success-rate").Templates = []v1alpha1.AnalysisTemplateRef{{TemplateName: "inner", ClusterScope: true}}
				w.SetClusterTemplatesUnreadable(true)
			},
			fix: func(w *world) {
				w.SetClusterTemplatesUnreadable(false)
				w.SetClusterAnalysisTemplate("inner", &v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{Name: "other", Provider: successRateTemplate().Metrics[0].Provider}}})
			},
			message: `spec.strategy.canary.steps[1].analysis.templates[0].templateName: Invalid value: "success-rate": clusteranalysistemplates.argoproj.io "inner" cannot be read: ` +
				`this controller watches only its namespace and is not granted cluster-scoped templates; use an AnalysisTemplate in namespace default, or a cluster-wide install`,
		},
		{
			name: "argument",
			edit: func(w *world) {
				w.ro.Spec.Strategy.Canary.Steps[1].Analysis.Args = nil
				w.AnalysisTemplate("success-rate").Args[0].Value = nil
			},
			fix:     func(w *world) { w.AnalysisTemplate("success-rate").Args[0].Value = ptrTo("fixed") },
			message: `spec.strategy.canary.steps[1].analysis: Invalid value: "success-rate": args.hash was not resolved: AnalysisTemplate "success-rate" declares it without a value and none was given`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := canaryWithStepAnalysis(t)
			c.edit(w)
			w.SetImage("argoproj/rollouts-demo:green")
			w.settle()
			wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
			wantEqual(t, "message", w.ro.Status.Message, `InvalidSpec: The Rollout "rollouts-demo" is invalid: `+c.message)
			wantEqual(t, "nothing touched", w.Replicas(), map[string]int32{canaryBlue: 5})
			c.fix(w)
			w.settle()
			if w.condition(v1alpha1.InvalidSpec) != nil {
				t.Fatal("InvalidSpec kept once the template exists")
			}
			wantEqual(t, "update goes on", w.stepIndex(), int32(1))
			wantEqual(t, "run created", len(w.AnalysisRuns()), 1)
		})
	}
}

// Re-running a decision whose actions were carried out (the status write lost) creates
// nothing twice: the run it records is taken as existing.
func TestAnalysisRunCreationIdempotent(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	before := w.ro.Status.DeepCopy()
	w.ro.Status = *before
	d := plan.Plan(w.Snapshot())
	for _, a := range d.Actions {
		if _, ok := a.(plan.CreateAnalysisRun); ok {
			t.Fatalf("a run exists and is recorded, yet the plan creates one: %+v", d.Actions)
		}
	}
	// The recorded run is missing from the cache (not seen yet, or deleted): it is
	// created again under the same name, never under a new one.
	name := w.current(simulate.StepRun).Name
	for _, ar := range w.AnalysisRuns() {
		w.RemoveAnalysisRun(ar.Name)
	}
	d = plan.Plan(w.Snapshot())
	var created []string
	for _, a := range d.Actions {
		if c, ok := a.(plan.CreateAnalysisRun); ok {
			created = append(created, c.Run.Name)
		}
	}
	wantEqual(t, "recreated", created, []string{name})
	if !strings.HasSuffix(name, "-2-1") {
		t.Fatalf("name %s", name)
	}
}

// A template the engine could not run is InvalidSpec before any run is made of it.
func TestAnalysisInvalidTemplateIsInvalidSpec(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.AnalysisTemplate("success-rate").Metrics[0].Provider = v1alpha1.MetricProvider{}
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	wantEqual(t, "message", w.ro.Status.Message, `InvalidSpec: The Rollout "rollouts-demo" is invalid: `+
		`spec.strategy.canary.steps[1].analysis.templates[success-rate].metrics[0].provider: Required value: no provider specified`)
	wantEqual(t, "no run", len(w.AnalysisRuns()), 0)
}

// Background analysis edited out of the spec mid-update: its run stops.
func TestCanaryBackgroundRemovedMidUpdate(t *testing.T) {
	w := canaryWithBackground(t)
	w.ro.Spec.Strategy.Canary.Analysis.StartingStep = nil
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	name := w.current(simulate.BackgroundRun).Name
	w.ro.Spec.Strategy.Canary.Analysis = nil
	w.ro.Generation++
	w.settle()
	wantEqual(t, "terminated", w.terminated(), []string{name})
	wantEqual(t, "record cleared", w.ro.Status.Canary.CurrentBackgroundAnalysisRunStatus == nil, true)
}

// A rollback to a version still inside its scale-down delay is fast-tracked: no
// pre- or post-promotion analysis judges it again.
func TestBlueGreenFastTrackSkipsAnalysis(t *testing.T) {
	w := seedBlueGreen(t)
	bg := w.ro.Spec.Strategy.BlueGreen
	bg.AutoPromotionEnabled = nil
	bg.PrePromotionAnalysis, bg.PostPromotionAnalysis = analysisOf("success-rate"), analysisOf("success-rate")
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	w.finish(simulate.PrePromotionRun, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	w.finish(simulate.PostPromotionRun, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	green := w.currentHash()
	wantEqual(t, "green stable", w.ro.Status.StableRS, green)
	wantEqual(t, "blue waits out its delay", w.Replicas()[blueRS], int32(2))
	runs := len(w.AnalysisRuns())
	w.SetImage("argoproj/rollouts-demo:blue")
	w.settle()
	wantEqual(t, "active", w.Selector(activeSvc), "558dcdc6d")
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "no new run", len(w.AnalysisRuns()), runs)
}
