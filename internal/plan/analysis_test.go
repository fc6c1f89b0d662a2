package plan

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/snapshot"
)

// The world's side of analysis: templates, and AnalysisRuns that the planner creates and
// whose phase a test sets, as the AnalysisRun controller would.

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

// snapshotTemplates puts the world's templates into a snapshot. A world whose test set
// none has the success-rate template that analysisSteps names.
func (w *world) snapshotTemplates(s *snapshot.Snapshot) {
	if w.ats == nil {
		t := successRateTemplate()
		t.Args[0].Value = ptrTo("unset") // analysisSteps passes no argument
		w.ats = map[string]*v1alpha1.AnalysisTemplateSpec{"success-rate": t}
	}
	s.AnalysisTemplates = map[string]*v1alpha1.AnalysisTemplate{}
	for name, spec := range w.ats {
		s.AnalysisTemplates[name] = &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: *spec.DeepCopy()}
	}
	s.ClusterAnalysisTemplates = map[string]*v1alpha1.ClusterAnalysisTemplate{}
	s.ClusterTemplatesUnreadable = w.catsUnreadable
	for name, spec := range w.cats {
		s.ClusterAnalysisTemplates[name] = &v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: *spec.DeepCopy()}
	}
}

func (w *world) applyAnalysis(a Action) {
	switch a := a.(type) {
	case CreateAnalysisRun:
		if ar := w.run(a.Run.Name); ar != nil {
			// The executor accepts this only for our own run still measuring.
			if ar.Status.Phase.Completed() || ar.Spec.Terminate {
				w.t.Fatalf("CreateAnalysisRun %s: a finished run of that name exists", a.Run.Name)
			}
			return
		}
		ar := a.Run.DeepCopy()
		w.uid++
		ar.UID = types.UID("ar-" + strconv.Itoa(w.uid))
		ar.CreationTimestamp = metav1.NewTime(w.now)
		w.runs = append(w.runs, ar)
	case TerminateAnalysisRun:
		ar := w.run(a.Name)
		if ar == nil {
			return
		}
		ar.Spec.Terminate = true
		if !ar.Status.Phase.Completed() {
			// A terminated run keeps what it measured: with no failure that is success,
			// which must never count for the rollout that stopped it.
			ar.Status.Phase, ar.Status.Message = v1alpha1.AnalysisPhaseSuccessful, "Run Terminated"
		}
	case DeleteAnalysisRun:
		for i, ar := range w.runs {
			if ar.Name == a.Name {
				if string(ar.UID) != a.UID {
					w.t.Fatalf("DeleteAnalysisRun %s: uid %s, the run has %s", a.Name, a.UID, ar.UID)
				}
				for k := runKind(0); k < numKinds; k++ {
					if rec := *record(&w.last.Status, k); rec != nil && rec.Name == a.Name && !w.last.Status.Abort {
						w.t.Fatalf("DeleteAnalysisRun %s: the rollout follows it", a.Name)
					}
				}
				w.runs = append(w.runs[:i], w.runs[i+1:]...)
				return
			}
		}
	}
}

func (w *world) run(name string) *v1alpha1.AnalysisRun {
	for _, ar := range w.runs {
		if ar.Name == name {
			return ar
		}
	}
	return nil
}

// current is the run of a kind the rollout's status records.
func (w *world) current(k runKind) *v1alpha1.AnalysisRun {
	w.t.Helper()
	rec := *record(&w.ro.Status, k)
	if rec == nil {
		w.t.Fatalf("no %s run recorded in the status", k.label())
	}
	ar := w.run(rec.Name)
	if ar == nil {
		w.t.Fatalf("the recorded %s run %s does not exist", k.label(), rec.Name)
	}
	return ar
}

// finish ends the current run of a kind with a phase, as the AnalysisRun controller would.
func (w *world) finish(k runKind, phase v1alpha1.AnalysisPhase, msg string) *v1alpha1.AnalysisRun {
	w.t.Helper()
	ar := w.current(k)
	ar.Status.Phase, ar.Status.Message = phase, msg
	return ar
}

func (w *world) runNames() []string {
	var out []string
	for _, ar := range w.runs {
		out = append(out, ar.Name)
	}
	return out
}

func (w *world) terminated() []string {
	var out []string
	for _, a := range w.actions {
		if t, ok := a.(TerminateAnalysisRun); ok {
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
	w.ats = map[string]*v1alpha1.AnalysisTemplateSpec{
		"success-rate": successRateTemplate(),
		"base": {
			Args:    []v1alpha1.Argument{{Name: "stable"}, {Name: "image"}, {Name: "fixed", Value: ptrTo("from-template")}},
			Metrics: []v1alpha1.Metric{{Name: "web", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x/{{args.stable}}/{{args.image}}"}}}},
		},
	}
	w.ats["success-rate"].Templates = []v1alpha1.AnalysisTemplateRef{{TemplateName: "base"}}
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
	w.setImage("argoproj/rollouts-demo:green")
	w.settle()
	green := w.currentHash()
	name := "rollouts-demo-" + green + "-2-1"
	wantEqual(t, "runs", w.runNames(), []string{name})
	ar := w.run(name)
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
	w.setImage("argoproj/rollouts-demo:green")
	w.settle()
	if _, ok := w.current(kindStep).Labels[v1alpha1.LabelKeyControllerInstanceID]; ok {
		t.Fatal("the run would be measured by another controller instance")
	}
}

func TestCanaryStepAnalysisSucceeds(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.setImage("argoproj/rollouts-demo:green")
	w.settle()
	green := w.currentHash()
	wantEqual(t, "at the analysis step", w.stepIndex(), int32(1))
	wantEqual(t, "one run", len(w.runs), 1)
	w.clearEvents()
	w.current(kindStep).Status.Phase = v1alpha1.AnalysisPhaseRunning
	w.settle()
	wantEqual(t, "recorded", w.ro.Status.Canary.CurrentStepAnalysisRunStatus.Status, v1alpha1.AnalysisPhaseRunning)
	wantEqual(t, "events", w.eventMessages("AnalysisRunRunning"), []string{"Step Analysis Run 'rollouts-demo-" + green + "-2-1' Status New: 'Running' Previous: ''"})
	w.finish(kindStep, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "stable", w.ro.Status.StableRS, green)
	wantEqual(t, "record cleared", w.ro.Status.Canary.CurrentStepAnalysisRunStatus == nil, true)
	wantEqual(t, "nothing terminated", w.terminated(), []string(nil))
	wantEqual(t, "run kept", len(w.runs), 1)
}

// Abort on a failed step run, then retry: the update starts over and the analysis step
// gets a fresh run, named <name>.1, while the failed one stays as history.
func TestCanaryStepAnalysisFailsThenRetry(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.setImage("argoproj/rollouts-demo:green")
	w.settle()
	green := w.currentHash()
	name := "rollouts-demo-" + green + "-2-1"
	w.clearEvents()
	w.finish(kindStep, v1alpha1.AnalysisPhaseFailed, failedMsg)
	w.settle()
	wantEqual(t, "message", w.ro.Status.Message, "RolloutAborted: Rollout aborted update to revision 2: "+failedMsg)
	wantEqual(t, "events", w.eventReasons()[:2], []string{"AnalysisRunFailed", "ScalingReplicaSet"})
	for _, e := range w.events {
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
	wantEqual(t, "follows the new run", w.current(kindStep).Name, name+".1")
	wantEqual(t, "waiting", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
	w.finish(kindStep, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}

// A promote past a running analysis step stops its run; so do an abort and a full
// promotion.
func TestCanaryStepAnalysisStoppedWhenLeft(t *testing.T) {
	for _, how := range []string{"promote", "abort", "promote-full"} {
		t.Run(how, func(t *testing.T) {
			w := canaryWithStepAnalysis(t)
			w.setImage("argoproj/rollouts-demo:green")
			w.settle()
			ar := w.current(kindStep)
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
			wantEqual(t, "no other run", len(w.runs), 1)
		})
	}
}

// An inconclusive step pauses; a resume (pause conditions cleared) runs the analysis
// again, a promote (the plugin also moves past the step) goes on.
func TestCanaryStepAnalysisInconclusive(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.setImage("argoproj/rollouts-demo:green")
	w.settle()
	name := w.current(kindStep).Name
	w.finish(kindStep, v1alpha1.AnalysisPhaseInconclusive, "")
	w.settle()
	wantEqual(t, "paused", w.ro.Status.Message, "InconclusiveAnalysisRun")
	w.promote()
	w.settle()
	wantEqual(t, "rerun", w.current(kindStep).Name, name+".1")
	wantEqual(t, "running again", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
	wantEqual(t, "resume used up", w.ro.Status.ControllerPause, false)
	w.finish(kindStep, v1alpha1.AnalysisPhaseInconclusive, "")
	w.settle()
	wantEqual(t, "paused again", w.ro.Status.Message, "InconclusiveAnalysisRun")
	// kubectl argo rollouts promote on an inconclusive step.
	w.ro.Status.PauseConditions, w.ro.Status.ControllerPause, w.ro.Status.CurrentStepIndex = nil, false, ptrTo(int32(2))
	w.settle()
	wantEqual(t, "promoted past the step", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "two runs", len(w.runs), 2)
}

// The status write of the decision that created a run was lost: the planner follows the
// newest run of the step still measuring rather than starting another, and never one of
// another rollout.
func TestCanaryStepRunAdoptedAfterLostStatus(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.setImage("argoproj/rollouts-demo:green")
	w.settle()
	first := w.current(kindStep)
	first.Status.Phase, first.CreationTimestamp = v1alpha1.AnalysisPhaseFailed, metav1.NewTime(epoch)
	second := first.DeepCopy()
	second.Name, second.UID = first.Name+".1", "second"
	second.Status.Phase, second.CreationTimestamp = v1alpha1.AnalysisPhaseRunning, metav1.NewTime(epoch.Add(time.Minute))
	foreign := first.DeepCopy()
	foreign.Name, foreign.UID, foreign.OwnerReferences[0].UID = first.Name+".2", "foreign", "someone-else"
	foreign.Status.Phase, foreign.CreationTimestamp = v1alpha1.AnalysisPhaseRunning, metav1.NewTime(epoch.Add(time.Hour))
	w.runs = append(w.runs, second, foreign)
	w.ro.Status.Canary.CurrentStepAnalysisRunStatus = nil
	w.settle()
	wantEqual(t, "newest own run followed", w.ro.Status.Canary.CurrentStepAnalysisRunStatus.Name, second.Name)
	wantEqual(t, "not aborted", w.ro.Status.Abort, false)
	wantEqual(t, "no run created", len(w.runs), 3)
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
	if len(w.runs) != 0 {
		t.Fatal("the initial deploy ran analysis")
	}
	w.setImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellow := w.currentHash()
	wantEqual(t, "paused at step 1", w.stepIndex(), int32(1))
	wantEqual(t, "no run before startingStep", len(w.runs), 0)
	w.promote()
	w.settle()
	name := "rollouts-demo-" + yellow + "-2"
	wantEqual(t, "run", w.runNames(), []string{name})
	ar := w.current(kindBackground)
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
			w.setImage("argoproj/rollouts-demo:yellow")
			w.settle()
			yellowRS := w.rsOf(w.currentHash())
			w.clearEvents()
			msg := `Metric "success-rate" assessed ` + string(phase) + ` due to failed (1) > failureLimit (0)`
			w.finish(kindBackground, phase, msg)
			w.settle()
			wantEqual(t, "message", w.ro.Status.Message, "RolloutAborted: Rollout aborted update to revision 2: "+msg)
			wantEqual(t, "first event", w.events[0].Reason, "AnalysisRun"+string(phase))
			wantEqual(t, "warning", w.events[0].Type, "Warning")
			wantEqual(t, "canary gone", w.replicas(), map[string]int32{canaryBlue: 5, yellowRS: 0})
			wantEqual(t, "stable serves", w.selector(stableSvc), blueHash)
			wantEqual(t, "canary svc on stable", w.selector(canarySvc), blueHash)
		})
	}
}

// An inconclusive background run holds the update at its step, however long; a resume
// starts it again.
func TestCanaryBackgroundInconclusive(t *testing.T) {
	w := canaryWithBackground(t)
	w.setImage("argoproj/rollouts-demo:yellow")
	w.settle()
	w.promote()
	w.settle()
	name := w.current(kindBackground).Name
	wantEqual(t, "at step 3", w.stepIndex(), int32(3))
	w.finish(kindBackground, v1alpha1.AnalysisPhaseInconclusive, "")
	w.settle()
	wantEqual(t, "paused", pauseReasons(w), []v1alpha1.PauseReason{v1alpha1.PauseReasonCanaryPauseStep, v1alpha1.PauseReasonInconclusiveAnalysis})
	w.advance(time.Hour)
	wantEqual(t, "held at step 3", w.stepIndex(), int32(3))
	wantEqual(t, "still paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	w.ro.Status.PauseConditions = nil // kubectl argo rollouts promote: no inconclusive step
	w.settle()
	wantEqual(t, "rerun", w.current(kindBackground).Name, name+".1")
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
	wantEqual(t, "no analysis on the initial deploy", len(w.runs), 0)
	w.setImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellow := w.currentHash()
	name := "rollout-bluegreen-" + yellow + "-2-pre"
	wantEqual(t, "run", w.runNames(), []string{name})
	wantEqual(t, "label", w.current(kindPre).Labels["rollout-type"], "PrePromotion")
	wantEqual(t, "preview", w.selector(previewSvc), yellow)
	w.advance(time.Hour)
	wantEqual(t, "active waits", w.selector(activeSvc), "558dcdc6d")
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
	wantEqual(t, "message", w.ro.Status.Message, "active service cutover pending")
	w.finish(kindPre, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "active switched", w.selector(activeSvc), yellow)
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}

// With previewReplicaCount the analysis judges the reduced preview; the full scale-up
// follows its success.
func TestBlueGreenPrePromotionWithPreviewReplicaCount(t *testing.T) {
	w := blueGreenWithPre(t)
	w.ro.Spec.Strategy.BlueGreen.PreviewReplicaCount = ptrTo(int32(1))
	w.setImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellowRS := "rollout-bluegreen-" + w.currentHash()
	wantEqual(t, "preview at 1", w.replicas(), map[string]int32{blueRS: 2, yellowRS: 1})
	wantEqual(t, "run started", len(w.runs), 1)
	w.finish(kindPre, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "full size", w.replicas()[yellowRS], int32(2))
}

func TestBlueGreenPrePromotionFailureNeverSwitches(t *testing.T) {
	w := blueGreenWithPre(t)
	w.setImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellowRS := "rollout-bluegreen-" + w.currentHash()
	w.finish(kindPre, v1alpha1.AnalysisPhaseFailed, failedMsg)
	w.settleChecking(func() {
		if w.selector(activeSvc) != "558dcdc6d" {
			t.Fatal("the active Service moved")
		}
	})
	wantEqual(t, "message", w.ro.Status.Message,
		"RolloutAborted: Rollout aborted update to revision 2: Blue/green pre-promotion analysis phase error/failed: "+failedMsg)
	wantEqual(t, "event", len(w.eventMessages("AnalysisRunFailed")), 1)
	w.advance(30 * time.Second)
	wantEqual(t, "preview scaled down after the abort delay", w.replicas(), map[string]int32{blueRS: 2, yellowRS: 0})
	wantEqual(t, "active", w.selector(activeSvc), "558dcdc6d")
	wantEqual(t, "stable", w.ro.Status.StableRS, "558dcdc6d")
}

// Promote --full skips the pre-promotion analysis, stopping its run.
func TestBlueGreenPrePromotionPromoteFull(t *testing.T) {
	w := blueGreenWithPre(t)
	w.setImage("argoproj/rollouts-demo:yellow")
	w.settle()
	name := w.current(kindPre).Name
	w.ro.Status.PromoteFull = true
	w.settle()
	wantEqual(t, "switched", w.selector(activeSvc), w.currentHash())
	wantEqual(t, "terminated", w.terminated(), []string{name})
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}

// An inconclusive pre-promotion pauses; a promote (which clears the pause) runs it again.
func TestBlueGreenPrePromotionInconclusive(t *testing.T) {
	w := blueGreenWithPre(t)
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = ptrTo(false)
	w.setImage("argoproj/rollouts-demo:yellow")
	w.settle()
	name := w.current(kindPre).Name
	w.finish(kindPre, v1alpha1.AnalysisPhaseInconclusive, "")
	w.settle()
	wantEqual(t, "pauses", pauseReasons(w), []v1alpha1.PauseReason{v1alpha1.PauseReasonBlueGreenPause, v1alpha1.PauseReasonInconclusiveAnalysis})
	w.promote()
	w.settle()
	wantEqual(t, "rerun", w.current(kindPre).Name, name+".1")
	wantEqual(t, "active waits for it", w.selector(activeSvc), "558dcdc6d")
	wantEqual(t, "no pause re-added", len(w.ro.Status.PauseConditions), 0)
	w.finish(kindPre, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "switched", w.selector(activeSvc), w.currentHash())
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
	w.setImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellow := w.currentHash()
	yellowRS := "rollout-bluegreen-" + yellow
	wantEqual(t, "active switched", w.selector(activeSvc), yellow)
	wantEqual(t, "run", w.runNames(), []string{"rollout-bluegreen-" + yellow + "-2-post"})
	wantEqual(t, "label", w.current(kindPost).Labels["rollout-type"], "PostPromotion")
	wantEqual(t, "stable not yet", w.ro.Status.StableRS, "558dcdc6d")
	// The run is still going (compat.md §2.2 rule 8: "waiting for analysis to complete" until it completes).
	wantEqual(t, "message", w.ro.Status.Message, "waiting for analysis to complete")
	w.advance(time.Hour)
	wantEqual(t, "old version kept up while it runs", w.replicas(), map[string]int32{blueRS: 2, yellowRS: 2})
	if _, ok := w.rss[blueRS].Annotations[v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey]; ok {
		t.Fatal("the stable version got a scale-down deadline before the verification")
	}
	w.finish(kindPost, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	wantEqual(t, "stable", w.ro.Status.StableRS, yellow)
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "old kept for its delay", w.replicas()[blueRS], int32(2))
	w.advance(30 * time.Second)
	wantEqual(t, "old scaled down", w.replicas()[blueRS], int32(0))
}

func TestBlueGreenPostPromotionFailureSwitchesBack(t *testing.T) {
	for _, phase := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError} {
		t.Run(string(phase), func(t *testing.T) {
			w := blueGreenWithPost(t)
			w.setImage("argoproj/rollouts-demo:yellow")
			w.settle()
			w.advance(time.Minute)
			w.finish(kindPost, phase, "boom")
			w.settle()
			wantEqual(t, "active back on stable", w.selector(activeSvc), "558dcdc6d")
			wantEqual(t, "stable", w.ro.Status.StableRS, "558dcdc6d")
			wantEqual(t, "message", w.ro.Status.Message,
				"RolloutAborted: Rollout aborted update to revision 2: Blue/green post-promotion analysis phase error/failed: boom")
			wantEqual(t, "stable at full size", w.replicas()[blueRS], int32(2))
		})
	}
}

// Design invariant 5: whatever path an analysis takes, a failed, errored or inconclusive
// run never promotes the new version, however long the rollout is left alone.
func TestAnalysisNeverPromotesOnBadResult(t *testing.T) {
	type path struct {
		kind  runKind
		setup func(t *testing.T) *world
	}
	paths := []path{
		{kindStep, canaryWithStepAnalysis},
		{kindBackground, func(t *testing.T) *world {
			w := canaryWithBackground(t)
			w.ro.Spec.Strategy.Canary.Analysis.StartingStep = nil
			return w
		}},
		{kindPre, blueGreenWithPre},
		{kindPost, blueGreenWithPost},
	}
	for _, pt := range paths {
		for _, phase := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive} {
			t.Run(pt.kind.label()+"/"+string(phase), func(t *testing.T) {
				w := pt.setup(t)
				w.setImage("argoproj/rollouts-demo:bad-red")
				w.settle()
				bad := w.currentHash()
				w.finish(pt.kind, phase, "bad")
				check := func() {
					if w.ro.Status.StableRS == bad {
						t.Fatalf("promoted after a %s run", phase)
					}
					if bg := w.ro.Spec.Strategy.BlueGreen; bg != nil && pt.kind == kindPre && w.selector(activeSvc) == bad {
						t.Fatalf("active switched after a %s run", phase)
					}
				}
				w.settleChecking(check)
				for i := 0; i < 5; i++ {
					w.now = w.now.Add(10 * time.Minute)
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
						wantEqual(t, "active on stable", w.selector(activeSvc), "558dcdc6d")
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
		w.runs = append(w.runs, ar)
	}
	for i := 1; i <= 3; i++ {
		add(fmt.Sprintf("ok-%d", i), blueHash, v1alpha1.AnalysisPhaseSuccessful, time.Duration(i)*time.Hour)
		add(fmt.Sprintf("bad-%d", i), blueHash, v1alpha1.AnalysisPhaseFailed, time.Duration(i)*time.Hour)
	}
	add("error-4", blueHash, v1alpha1.AnalysisPhaseError, 4*time.Hour)
	add("gone-version", "0123456789", v1alpha1.AnalysisPhaseSuccessful, time.Minute)
	add("running", blueHash, v1alpha1.AnalysisPhaseRunning, 5*time.Hour)
	w.setImage("argoproj/rollouts-demo:green")
	w.settle()
	cur := w.current(kindStep).Name
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
			fix:     func(w *world) { w.ats["nope"] = successRateTemplate() },
			message: `spec.strategy.canary.steps[1].analysis.templates[0].templateName: Invalid value: "nope": analysistemplates.argoproj.io "nope" not found`,
		},
		{
			name: "nested template",
			edit: func(w *world) {
				w.ats["success-rate"].Templates = []v1alpha1.AnalysisTemplateRef{{TemplateName: "inner", ClusterScope: true}}
			},
			fix: func(w *world) {
				w.cats = map[string]*v1alpha1.AnalysisTemplateSpec{"inner": {Metrics: []v1alpha1.Metric{{Name: "other", Provider: successRateTemplate().Metrics[0].Provider}}}}
			},
			message: `spec.strategy.canary.steps[1].analysis.templates[0].templateName: Invalid value: "success-rate": clusteranalysistemplates.argoproj.io "inner" not found`,
		},
		{
			name: "cluster template, namespaced install",
			edit: func(w *world) {
				w.ats["success-rate"].Templates = []v1alpha1.AnalysisTemplateRef{{TemplateName: "inner", ClusterScope: true}}
				w.catsUnreadable = true
			},
			fix: func(w *world) {
				w.catsUnreadable = false
				w.cats = map[string]*v1alpha1.AnalysisTemplateSpec{"inner": {Metrics: []v1alpha1.Metric{{Name: "other", Provider: successRateTemplate().Metrics[0].Provider}}}}
			},
			message: `spec.strategy.canary.steps[1].analysis.templates[0].templateName: Invalid value: "success-rate": clusteranalysistemplates.argoproj.io "inner" cannot be read: ` +
				`this controller watches only its namespace and is not granted cluster-scoped templates; use an AnalysisTemplate in namespace default, or a cluster-wide install`,
		},
		{
			name: "argument",
			edit: func(w *world) {
				w.ro.Spec.Strategy.Canary.Steps[1].Analysis.Args = nil
				w.ats["success-rate"].Args[0].Value = nil
			},
			fix:     func(w *world) { w.ats["success-rate"].Args[0].Value = ptrTo("fixed") },
			message: `spec.strategy.canary.steps[1].analysis: Invalid value: "success-rate": args.hash was not resolved: AnalysisTemplate "success-rate" declares it without a value and none was given`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := canaryWithStepAnalysis(t)
			c.edit(w)
			w.setImage("argoproj/rollouts-demo:green")
			w.settle()
			wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
			wantEqual(t, "message", w.ro.Status.Message, `InvalidSpec: The Rollout "rollouts-demo" is invalid: `+c.message)
			wantEqual(t, "nothing touched", w.replicas(), map[string]int32{canaryBlue: 5})
			c.fix(w)
			w.settle()
			if w.condition(v1alpha1.InvalidSpec) != nil {
				t.Fatal("InvalidSpec kept once the template exists")
			}
			wantEqual(t, "update goes on", w.stepIndex(), int32(1))
			wantEqual(t, "run created", len(w.runs), 1)
		})
	}
}

// Re-running a decision whose actions were carried out (the status write lost) creates
// nothing twice: the run it records is taken as existing.
func TestAnalysisRunCreationIdempotent(t *testing.T) {
	w := canaryWithStepAnalysis(t)
	w.setImage("argoproj/rollouts-demo:green")
	w.settle()
	before := w.ro.Status.DeepCopy()
	w.ro.Status = *before
	d := Plan(w.snapshot())
	for _, a := range d.Actions {
		if _, ok := a.(CreateAnalysisRun); ok {
			t.Fatalf("a run exists and is recorded, yet the plan creates one: %+v", d.Actions)
		}
	}
	// The recorded run is missing from the cache (not seen yet, or deleted): it is
	// created again under the same name, never under a new one.
	name := w.current(kindStep).Name
	w.runs = nil
	d = Plan(w.snapshot())
	var created []string
	for _, a := range d.Actions {
		if c, ok := a.(CreateAnalysisRun); ok {
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
	w.ats["success-rate"].Metrics[0].Provider = v1alpha1.MetricProvider{}
	w.setImage("argoproj/rollouts-demo:green")
	w.settle()
	wantEqual(t, "message", w.ro.Status.Message, `InvalidSpec: The Rollout "rollouts-demo" is invalid: `+
		`spec.strategy.canary.steps[1].analysis.templates[success-rate].metrics[0].provider: Required value: no provider specified`)
	wantEqual(t, "no run", len(w.runs), 0)
}

// Background analysis edited out of the spec mid-update: its run stops.
func TestCanaryBackgroundRemovedMidUpdate(t *testing.T) {
	w := canaryWithBackground(t)
	w.ro.Spec.Strategy.Canary.Analysis.StartingStep = nil
	w.setImage("argoproj/rollouts-demo:yellow")
	w.settle()
	name := w.current(kindBackground).Name
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
	w.setImage("argoproj/rollouts-demo:green")
	w.settle()
	w.finish(kindPre, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	w.finish(kindPost, v1alpha1.AnalysisPhaseSuccessful, "")
	w.settle()
	green := w.currentHash()
	wantEqual(t, "green stable", w.ro.Status.StableRS, green)
	wantEqual(t, "blue waits out its delay", w.replicas()[blueRS], int32(2))
	runs := len(w.runs)
	w.setImage("argoproj/rollouts-demo:blue")
	w.settle()
	wantEqual(t, "active", w.selector(activeSvc), "558dcdc6d")
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "no new run", len(w.runs), runs)
}
