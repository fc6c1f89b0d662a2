package plan_test

import (
	"strings"
	"testing"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// An experiment step is accepted but not run: the rollout waits there, says why once, and a
// promote moves past it.
func TestCanaryExperimentStepWaitsAndSaysWhy(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	w.ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{
		{SetWeight: ptrTo(int32(20))},
		{Experiment: &v1alpha1.RolloutExperimentStep{Templates: []v1alpha1.RolloutExperimentTemplate{{Name: "a", SpecRef: "canary"}}}},
	}
	w.ClearEvents()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	w.advance(10 * 60 * 1e9)
	w.settle()
	wantEqual(t, "waits at the experiment", w.stepIndex(), int32(1))
	var told []string
	for _, e := range w.Events() {
		if e.Reason == v1alpha1.EventReasonStepNotRun {
			told = append(told, e.Message)
		}
	}
	if len(told) != 1 || !strings.Contains(told[0], "step 2/2 (experiment) waits") || !strings.Contains(told[0], "promote") {
		t.Fatalf("StepNotRun events %q: want one that says which step and how to go on", told)
	}
	if c := w.condition(v1alpha1.RolloutProgressing); c == nil || c.Reason == v1alpha1.TimedOutReason {
		t.Fatalf("a step that waits on something else ran out the progress deadline: %+v", c)
	}
	// What `promote` writes when no pause is recorded: the next step index.
	w.ro.Status.CurrentStepIndex = ptrTo(int32(2))
	w.settle()
	wantEqual(t, "promoted past it", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}
