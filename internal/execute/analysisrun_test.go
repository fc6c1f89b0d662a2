package execute

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
	"github.com/tern-rollouts/tern/internal/analysis/providers"
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

// fakeProviders builds providers that succeed or panic, and records what it built;
// datadog metrics go to the real registry.
type fakeProviders struct {
	panics bool
	built  []string
}

func (f *fakeProviders) New(m v1alpha1.Metric) (providers.Provider, error) {
	if m.Provider.Datadog != nil {
		return (&providers.Factory{}).New(m)
	}
	f.built = append(f.built, m.Name)
	return providers.Synchronous(panicker{panics: f.panics}), nil
}

type panicker struct{ panics bool }

func (panicker) Type() string { return "Panicker" }
func (p panicker) Run(context.Context, *v1alpha1.AnalysisRun, v1alpha1.Metric) v1alpha1.Measurement {
	if p.panics {
		panic("boom")
	}
	return v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseSuccessful, Value: "1"}
}
func (panicker) Metadata(v1alpha1.Metric) map[string]string { return map[string]string{"k": "v"} }

// Every task is measured, in the order given; a provider that cannot be built or panics
// is an Error measurement, never a lost one.
func TestAnalysisRunExecutorMeasure(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	web := v1alpha1.Metric{Name: "web", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}}
	dd := v1alpha1.Metric{Name: "dd", Provider: v1alpha1.MetricProvider{Datadog: &v1alpha1.DatadogMetric{}}}
	tasks := []analysis.Task{{Kind: analysis.Measure, Metric: web}, {Kind: analysis.Measure, Metric: dd}}
	e := &AnalysisRunExecutor{Providers: &fakeProviders{}, Clock: clocktesting.NewFakePassiveClock(now)}
	outs := e.Measure(context.Background(), &v1alpha1.AnalysisRun{}, tasks)
	if len(outs) != 2 || outs[0].Metric != "web" || outs[0].Measurement.Phase != v1alpha1.AnalysisPhaseSuccessful || outs[0].Metadata["k"] != "v" {
		t.Fatalf("outcomes %+v", outs)
	}
	if m := outs[1].Measurement; outs[1].Metric != "dd" || m.Phase != v1alpha1.AnalysisPhaseError ||
		m.Message != `metric provider "datadog" is not supported by tern (supported: prometheus, web, job)` || !m.FinishedAt.Time.Equal(now) {
		t.Errorf("unsupported provider: %+v", m)
	}
	e.Providers = &fakeProviders{panics: true}
	outs = e.Measure(context.Background(), &v1alpha1.AnalysisRun{}, tasks[:1])
	if m := outs[0].Measurement; m.Phase != v1alpha1.AnalysisPhaseError || m.Message != "metric provider panicked: boom" {
		t.Errorf("panicking provider: %+v", m)
	}
}

// Only sources whose measurements leave objects behind are asked to collect them.
func TestAnalysisRunExecutorCollect(t *testing.T) {
	f := &fakeProviders{}
	e := &AnalysisRunExecutor{Providers: f, Clock: clocktesting.NewFakePassiveClock(time.Now())}
	web := v1alpha1.Metric{Name: "web", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}}
	job := v1alpha1.Metric{Name: "job", Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{}}}
	tasks := []analysis.Task{{Metric: web}, {Metric: job}}
	e.Collect(context.Background(), &v1alpha1.AnalysisRun{}, tasks, map[string]int{"web": 1})
	e.Collect(context.Background(), &v1alpha1.AnalysisRun{}, tasks, map[string]int{"job": 1})
	if len(f.built) != 1 || f.built[0] != "job" {
		t.Errorf("providers built to collect: %v", f.built)
	}
}

// The status is patched only when it changed; an expired run already gone is no error.
func TestAnalysisRunExecutorWriteStatusAndDelete(t *testing.T) {
	run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: "ns", UID: "u"}}
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(run).WithStatusSubresource(&v1alpha1.AnalysisRun{}).Build()
	e := &AnalysisRunExecutor{Client: c}
	orig := getRun(t, c, "run")
	if written, err := e.WriteStatus(context.Background(), orig, orig.DeepCopy()); written || err != nil {
		t.Fatalf("unchanged status written: %v %v", written, err)
	}
	next := orig.DeepCopy()
	next.Status.Phase = v1alpha1.AnalysisPhaseRunning
	if written, err := e.WriteStatus(context.Background(), orig, next); !written || err != nil {
		t.Fatalf("changed status: %v %v", written, err)
	}
	if next.ResourceVersion == orig.ResourceVersion || getRun(t, c, "run").Status.Phase != v1alpha1.AnalysisPhaseRunning {
		t.Errorf("status not patched, or resourceVersion not returned: %s", next.ResourceVersion)
	}
	// Written on a stale read, the patch fails rather than erase what was written since.
	if _, err := e.WriteStatus(context.Background(), orig, next.DeepCopy()); !apierrors.IsConflict(err) {
		t.Errorf("patch on a stale read: %v", err)
	}
	for range 2 {
		if err := e.DeleteExpired(context.Background(), next); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "run"}, &v1alpha1.AnalysisRun{}); !apierrors.IsNotFound(err) {
		t.Errorf("expired run: %v", err)
	}
}
