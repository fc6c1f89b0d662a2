package plan_test

import (
	"testing"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/plan"
)

// Plan itself holds a change of counts alone back when the snapshot says the status was
// written a moment ago, and asks to look again when the interval is over.
func TestPlanHoldsCountsBack(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	w.NeverReady("argoproj/rollouts-demo:yellow")
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	if w.ro.Status.Phase != v1alpha1.RolloutPhaseProgressing {
		t.Fatalf("phase %s, want Progressing mid-update", w.ro.Status.Phase)
	}
	// One canary pod turns ready (not yet available): only the counts move.
	w.byHash(w.ro.Status.CurrentPodHash).Status.ReadyReplicas++

	s := w.Snapshot()
	s.LastStatusWrite = w.Now().Add(-300 * time.Millisecond)
	d := plan.Plan(s)
	wantEqual(t, "status held back", d.Status, w.ro.Status)
	wantEqual(t, "requeue when the interval is over", d.RequeueAfter, plan.CountsInterval-300*time.Millisecond)

	s = w.Snapshot()
	s.LastStatusWrite = w.Now().Add(-plan.CountsInterval)
	if d := plan.Plan(s); d.Status.ReadyReplicas != w.ro.Status.ReadyReplicas+1 {
		t.Fatalf("counts not written once the interval passed: ready %d", d.Status.ReadyReplicas)
	}
	s = w.Snapshot()
	if d := plan.Plan(s); d.Status.ReadyReplicas != w.ro.Status.ReadyReplicas+1 {
		t.Fatalf("counts not written with no write on record: ready %d", d.Status.ReadyReplicas)
	}
}
