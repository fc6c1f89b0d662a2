package execute

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/plan"
)

func testRun(name string, owner *v1alpha1.Rollout) *v1alpha1.AnalysisRun {
	isController := true
	return &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: owner.Name, UID: owner.UID, Controller: &isController}}},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{Name: "m"}}},
	}
}

func getRun(t *testing.T, c client.Client, name string) *v1alpha1.AnalysisRun {
	t.Helper()
	ar := &v1alpha1.AnalysisRun{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: name}, ar); err != nil {
		t.Fatal(err)
	}
	return ar
}

func TestCreateAnalysisRun(t *testing.T) {
	ro := testRollout()
	c, _, e := setup(t, ro)
	d := plan.Decision{Actions: []plan.Action{plan.CreateAnalysisRun{Run: testRun("ro-abc-2-1", ro)}}, Status: ro.Status}
	if _, err := e.Apply(context.Background(), ro, d); err != nil {
		t.Fatal(err)
	}
	if got := getRun(t, c, "ro-abc-2-1"); metav1.GetControllerOf(got).UID != ro.UID {
		t.Fatalf("owner %+v", got.OwnerReferences)
	}
	// Planned again on a cache that has not seen it: our own run, still measuring.
	if _, err := e.Apply(context.Background(), ro, d); err != nil {
		t.Fatalf("creating our own running run again: %v", err)
	}
}

// A run of that name that is finished, or not ours, is not the one meant: the decision
// stops so that the next plan, seeing it, picks another name.
func TestCreateAnalysisRunConflicts(t *testing.T) {
	ro := testRollout()
	done := testRun("done", ro)
	done.Status.Phase = v1alpha1.AnalysisPhaseFailed
	terminated := testRun("terminated", ro)
	terminated.Spec.Terminate = true
	foreign := testRun("foreign", &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "other", UID: "other-uid"}})
	_, _, e := setup(t, ro, done, terminated, foreign)
	for _, name := range []string{"done", "terminated", "foreign"} {
		status := ro.Status.DeepCopy()
		status.Phase = v1alpha1.RolloutPhaseProgressing
		d := plan.Decision{Actions: []plan.Action{plan.CreateAnalysisRun{Run: testRun(name, ro)}}, Status: *status}
		res, err := e.Apply(context.Background(), ro, d)
		if err == nil || !strings.Contains(err.Error(), "exists already") {
			t.Fatalf("%s: err = %v", name, err)
		}
		if res.StatusWritten != nil {
			t.Fatalf("%s: the status was written", name)
		}
	}
}

func TestTerminateAndDeleteAnalysisRun(t *testing.T) {
	ro := testRollout()
	running := testRun("running", ro)
	old := testRun("old", ro)
	old.UID = "old-uid"
	c, _, e := setup(t, ro, running, old)
	d := plan.Decision{Actions: []plan.Action{
		plan.TerminateAnalysisRun{Name: "running"},
		plan.TerminateAnalysisRun{Name: "gone"},
		plan.DeleteAnalysisRun{Name: "old", UID: "old-uid"},
		plan.DeleteAnalysisRun{Name: "gone", UID: "x"},
	}, Status: ro.Status}
	if _, err := e.Apply(context.Background(), ro, d); err != nil {
		t.Fatal(err)
	}
	if !getRun(t, c, "running").Spec.Terminate {
		t.Fatal("not terminated")
	}
	err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "old"}, &v1alpha1.AnalysisRun{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("old run: %v", err)
	}
}
