package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/rolloutinfo/fixture"
)

func TestGetExperimentAndAnalysisRunMatchGoldens(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		args    []string
	}{
		{"experiment-running", []string{"get", "experiment", "web-experiment", "-n", "default", "--no-color"}},
		{"experiment-running", []string{"get", "exp", "web-experiment", "-n", "default"}},
		{"analysisrun-failed", []string{"get", "analysisrun", "web-check-x7k2p", "-n", "shop", "--no-color"}},
		{"analysisrun-failed", []string{"get", "ar", "web-check-x7k2p", "-n", "shop"}},
	} {
		h := newHarness(t, tc.fixture)
		if err := h.run(tc.args...); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got, want := h.out.String(), golden(t, tc.fixture); got != want {
			t.Errorf("%v:\n--- got ---\n%s--- want ---\n%s", tc.args, got, want)
		}
	}
}

func TestGetExperimentAndAnalysisRunNotFound(t *testing.T) {
	for args, want := range map[string]string{
		"get experiment nope -n shop":  `experiments.argoproj.io "nope" not found in namespace "shop"`,
		"get analysisrun nope -n shop": `analysisruns.argoproj.io "nope" not found in namespace "shop"`,
		"terminate ar nope -n shop":    `analysisruns.argoproj.io "nope" not found in namespace "shop"`,
		"terminate exp nope -n shop":   `experiments.argoproj.io "nope" not found in namespace "shop"`,
	} {
		h := newHarness(t, "experiment-running")
		if err := h.run(strings.Fields(args)...); err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %s", args, err, want)
		}
	}
}

// The watch of a run redraws when a measurement arrives.
func TestGetAnalysisRunWatchRedraws(t *testing.T) {
	h := newHarness(t, "analysisrun-failed")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.runCtx(ctx, "get", "ar", "web-check-x7k2p", "-n", "shop", "-w") }()
	waitFor(t, h.out, "Metric:          saturation (dry run)")
	time.Sleep(200 * time.Millisecond)
	run := &v1alpha1.AnalysisRun{}
	if err := h.client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web-check-x7k2p"}, run); err != nil {
		t.Fatal(err)
	}
	mr := &run.Status.MetricResults[2]
	mr.Measurements[0].Phase, mr.Measurements[0].Value = v1alpha1.AnalysisPhaseSuccessful, "[0.42]"
	mr.Measurements[0].FinishedAt = &metav1.Time{Time: fixture.Now}
	mr.Successful, mr.Count = 1, 1
	if err := h.client.Status().Update(ctx, run); err != nil {
		t.Fatal(err)
	}
	waitFor(t, h.out, "[0.42]")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestGetExperimentWatchTimeout(t *testing.T) {
	h := newHarness(t, "experiment-running")
	if err := h.run("get", "experiment", "web-experiment", "-n", "default", "-w", "--timeout-seconds", "1"); err != nil {
		t.Fatal(err)
	}
	if got, want := h.out.String(), golden(t, "experiment-running"); got != want {
		t.Errorf("watch drew:\n%s\nwant one picture:\n%s", got, want)
	}
}

func TestListExperiments(t *testing.T) {
	other := &v1alpha1.Experiment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "pricing",
		CreationTimestamp: metav1.Time{Time: fixture.Now.Add(-3 * time.Hour)}}}
	h := newHarness(t, "experiment-running", other)
	if err := h.run("list", "experiments", "-n", "default"); err != nil {
		t.Fatal(err)
	}
	want := "NAME            STATUS   AGE\n" +
		"web-experiment  Running  10m\n"
	if h.out.String() != want {
		t.Errorf("list experiments =\n%s\nwant\n%s", h.out.String(), want)
	}

	h = newHarness(t, "experiment-running", other)
	if err := h.run("list", "exp", "-A"); err != nil {
		t.Fatal(err)
	}
	want = "NAMESPACE  NAME            STATUS   AGE\n" +
		"default    web-experiment  Running  10m\n" +
		"shop       pricing         Pending  3h\n"
	if h.out.String() != want {
		t.Errorf("list experiments -A =\n%s\nwant\n%s", h.out.String(), want)
	}

	h = newHarness(t, "experiment-running")
	if err := h.run("list", "experiments", "-n", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if h.out.String() != "" || h.errOut.String() != "No resources found.\n" {
		t.Errorf("empty list: stdout %q stderr %q", h.out.String(), h.errOut.String())
	}
}

func TestTerminate(t *testing.T) {
	h := newHarness(t, "experiment-running")
	if err := h.run("terminate", "analysisrun", "web-experiment-error-rate", "-n", "default"); err != nil {
		t.Fatal(err)
	}
	if err := h.run("terminate", "experiment", "web-experiment", "-n", "default"); err != nil {
		t.Fatal(err)
	}
	want := "analysisrun 'web-experiment-error-rate' terminated\nexperiment 'web-experiment' terminated\n"
	if h.out.String() != want {
		t.Errorf("printed %q, want %q", h.out.String(), want)
	}
	ctx := context.Background()
	run := &v1alpha1.AnalysisRun{}
	if err := h.client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web-experiment-error-rate"}, run); err != nil || !run.Spec.Terminate {
		t.Errorf("run: terminate=%v err=%v", run.Spec.Terminate, err)
	}
	if run.Status.Phase != v1alpha1.AnalysisPhaseRunning || len(run.Spec.Metrics) != 1 {
		t.Errorf("terminate changed more than spec.terminate: %+v", run)
	}
	exp := &v1alpha1.Experiment{}
	if err := h.client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web-experiment"}, exp); err != nil || !exp.Spec.Terminate {
		t.Errorf("experiment: terminate=%v err=%v", exp.Spec.Terminate, err)
	}
}
