package analysis

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	S  = v1alpha1.AnalysisPhaseSuccessful
	F  = v1alpha1.AnalysisPhaseFailed
	I  = v1alpha1.AnalysisPhaseInconclusive
	E  = v1alpha1.AnalysisPhaseError
	R  = v1alpha1.AnalysisPhaseRunning
	P  = v1alpha1.AnalysisPhasePending
	no = v1alpha1.AnalysisPhase("")
)

func ios(i int) *intstr.IntOrString    { v := intstr.FromInt32(int32(i)); return &v }
func sos(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }

// metric is a web metric: the provider never matters to the engine.
func metric(name string, opts ...func(*v1alpha1.Metric)) v1alpha1.Metric {
	m := v1alpha1.Metric{Name: name, Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://127.0.0.1/" + name}}}
	for _, o := range opts {
		o(&m)
	}
	return m
}

func interval(d string) func(*v1alpha1.Metric) {
	return func(m *v1alpha1.Metric) { m.Interval = v1alpha1.DurationString(d) }
}
func count(n int) func(*v1alpha1.Metric) { return func(m *v1alpha1.Metric) { m.Count = ios(n) } }
func failureLimit(n int) func(*v1alpha1.Metric) {
	return func(m *v1alpha1.Metric) { m.FailureLimit = ios(n) }
}
func inconclusiveLimit(n int) func(*v1alpha1.Metric) {
	return func(m *v1alpha1.Metric) { m.InconclusiveLimit = ios(n) }
}
func errorLimit(n int) func(*v1alpha1.Metric) {
	return func(m *v1alpha1.Metric) { m.ConsecutiveErrorLimit = ios(n) }
}
func successLimit(n int) func(*v1alpha1.Metric) {
	return func(m *v1alpha1.Metric) { m.ConsecutiveSuccessLimit = ios(n) }
}
func initialDelay(d string) func(*v1alpha1.Metric) {
	return func(m *v1alpha1.Metric) { m.InitialDelay = v1alpha1.DurationString(d) }
}

func newRun(metrics ...v1alpha1.Metric) *v1alpha1.AnalysisRun {
	return &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: "ns"},
		Spec:       v1alpha1.AnalysisRunSpec{Metrics: metrics},
	}
}

// answers give each metric's provider a queue of phases; an exhausted queue answers
// Successful. Running answers stay in flight until resumed.
type answers map[string][]v1alpha1.AnalysisPhase

func (a answers) answer(task Task, now time.Time) Outcome {
	name := task.Metric.Name
	if task.Kind == Terminate {
		return Outcome{Metric: name, Kind: task.Kind, Measurement: v1alpha1.Measurement{Phase: S}}
	}
	phase := S
	if q := a[name]; len(q) > 0 {
		phase, a[name] = q[0], q[1:]
	}
	m := v1alpha1.Measurement{Phase: phase, Value: fmt.Sprint(phase)}
	if task.InFlight != nil {
		m.StartedAt = task.InFlight.StartedAt
	} else {
		st := metav1.NewTime(now)
		m.StartedAt = &st
	}
	if phase == E {
		m.Message = "connection refused"
	}
	return Outcome{Metric: name, Kind: task.Kind, Measurement: m}
}

// step reconciles once at now and returns the updated run.
func step(t *testing.T, run *v1alpha1.AnalysisRun, args Args, now time.Time, a answers) (*v1alpha1.AnalysisRun, Result, []Task) {
	t.Helper()
	p := NewRound(run, args, now)
	var outs []Outcome
	for _, task := range p.Tasks {
		outs = append(outs, a.answer(task, now))
	}
	res := p.Fold(outs, now)
	out := run.DeepCopy()
	out.Status = res.Status
	return out, res, p.Tasks
}

// simulate reconciles at every NextAt (and at once when NextAt is now) until the run
// completes or nothing is due, and returns the run and the times measurements were taken.
func simulate(t *testing.T, run *v1alpha1.AnalysisRun, a answers, maxSteps int) (*v1alpha1.AnalysisRun, []time.Duration) {
	t.Helper()
	now := t0
	var at []time.Duration
	for i := 0; i < maxSteps; i++ {
		var res Result
		var tasks []Task
		run, res, tasks = step(t, run, Args{}, now, a)
		for _, task := range tasks {
			if task.Kind == Measure {
				at = append(at, now.Sub(t0))
			}
		}
		if run.Status.Phase.Completed() || res.NextAt.IsZero() {
			return run, at
		}
		if res.NextAt.Before(now) {
			t.Fatalf("NextAt %v is before now %v", res.NextAt, now)
		}
		now = res.NextAt
	}
	t.Fatalf("run not complete after %d reconciles: %+v", maxSteps, run.Status)
	return nil, nil
}

func TestRunPhases(t *testing.T) {
	tests := []struct {
		name        string
		metrics     []v1alpha1.Metric
		answers     answers
		phase       v1alpha1.AnalysisPhase
		message     string
		measuredAt  []time.Duration // Measure tasks of every metric, in order
		metricPhase map[string]v1alpha1.AnalysisPhase
	}{
		{
			name:       "one measurement, success",
			metrics:    []v1alpha1.Metric{metric("m")},
			phase:      S,
			measuredAt: []time.Duration{0},
		},
		{
			name:       "one measurement, failed",
			metrics:    []v1alpha1.Metric{metric("m")},
			answers:    answers{"m": {F}},
			phase:      F,
			message:    `Metric "m" assessed Failed due to failed (1) > failureLimit (0)`,
			measuredAt: []time.Duration{0},
		},
		{
			name:       "one measurement, inconclusive",
			metrics:    []v1alpha1.Metric{metric("m")},
			answers:    answers{"m": {I}},
			phase:      I,
			message:    `Metric "m" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)`,
			measuredAt: []time.Duration{0},
		},
		{
			name:       "count and interval, all successful",
			metrics:    []v1alpha1.Metric{metric("m", interval("30s"), count(3))},
			phase:      S,
			measuredAt: []time.Duration{0, 30 * time.Second, 60 * time.Second},
		},
		{
			name:       "failureLimit tolerates failures up to the limit",
			metrics:    []v1alpha1.Metric{metric("m", interval("10s"), count(4), failureLimit(2))},
			answers:    answers{"m": {F, S, F, S}},
			phase:      S,
			measuredAt: []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second},
		},
		{
			name:       "failureLimit exceeded ends the metric early",
			metrics:    []v1alpha1.Metric{metric("m", interval("10s"), count(5), failureLimit(1))},
			answers:    answers{"m": {F, S, F}},
			phase:      F,
			message:    `Metric "m" assessed Failed due to failed (2) > failureLimit (1)`,
			measuredAt: []time.Duration{0, 10 * time.Second, 20 * time.Second},
		},
		{
			name:       "inconclusiveLimit",
			metrics:    []v1alpha1.Metric{metric("m", interval("10s"), count(3), inconclusiveLimit(1))},
			answers:    answers{"m": {I, S, I}},
			phase:      I,
			message:    `Metric "m" assessed Inconclusive due to inconclusive (2) > inconclusiveLimit (1)`,
			measuredAt: []time.Duration{0, 10 * time.Second, 20 * time.Second},
		},
		{
			name:       "consecutive errors beyond the default limit of 4, retried every 10s",
			metrics:    []v1alpha1.Metric{metric("m", interval("1m"), count(3))},
			answers:    answers{"m": {E, E, E, E, E}},
			phase:      E,
			message:    `Metric "m" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): "Error Message: connection refused"`,
			measuredAt: []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second},
		},
		{
			name:       "errors do not count towards count; a success resets consecutive errors",
			metrics:    []v1alpha1.Metric{metric("m", errorLimit(1))},
			answers:    answers{"m": {E, S}},
			phase:      S,
			measuredAt: []time.Duration{0, 10 * time.Second},
		},
		{
			name:       "consecutiveErrorLimit 1",
			metrics:    []v1alpha1.Metric{metric("m", interval("5s"), count(5), errorLimit(1))},
			answers:    answers{"m": {E, S, E, E}},
			phase:      E,
			message:    `Metric "m" assessed Error due to consecutiveErrors (2) > consecutiveErrorLimit (1): "Error Message: connection refused"`,
			measuredAt: []time.Duration{0, 10 * time.Second, 15 * time.Second, 25 * time.Second},
		},
		{
			name:       "consecutiveErrorLimit 0: the first error ends it",
			metrics:    []v1alpha1.Metric{metric("m", errorLimit(0))},
			answers:    answers{"m": {E}},
			phase:      E,
			measuredAt: []time.Duration{0},
			message:    `Metric "m" assessed Error due to consecutiveErrors (1) > consecutiveErrorLimit (0): "Error Message: connection refused"`,
		},
		{
			name:       "only consecutiveSuccessLimit: waits for the streak",
			metrics:    []v1alpha1.Metric{metric("m", interval("5s"), failureLimit(-1), successLimit(2))},
			answers:    answers{"m": {F, F, S, F, S, S}},
			phase:      S,
			measuredAt: []time.Duration{0, 5 * time.Second, 10 * time.Second, 15 * time.Second, 20 * time.Second, 25 * time.Second},
		},
		{
			name:       "only consecutiveSuccessLimit: count reached without the streak fails",
			metrics:    []v1alpha1.Metric{metric("m", interval("5s"), count(3), failureLimit(-1), successLimit(2))},
			answers:    answers{"m": {F, S, F}},
			phase:      F,
			measuredAt: []time.Duration{0, 5 * time.Second, 10 * time.Second},
		},
		{
			name:       "both limits: count reached without the streak is inconclusive",
			metrics:    []v1alpha1.Metric{metric("m", interval("5s"), count(3), failureLimit(1), successLimit(2))},
			answers:    answers{"m": {S, F, S}},
			phase:      I,
			message:    `Metric "m" assessed Inconclusive due to consecutiveSuccess (1) < consecutiveSuccessLimit (2) after count (3)`,
			measuredAt: []time.Duration{0, 5 * time.Second, 10 * time.Second},
		},
		{
			name:       "both limits: the streak passes before count",
			metrics:    []v1alpha1.Metric{metric("m", interval("5s"), count(10), failureLimit(1), successLimit(2))},
			answers:    answers{"m": {F, S, S}},
			phase:      S,
			measuredAt: []time.Duration{0, 5 * time.Second, 10 * time.Second},
		},
		{
			name:       "both limits: failures beyond the limit still fail",
			metrics:    []v1alpha1.Metric{metric("m", interval("5s"), count(10), failureLimit(1), successLimit(3))},
			answers:    answers{"m": {F, S, F}},
			phase:      F,
			message:    `Metric "m" assessed Failed due to failed (2) > failureLimit (1)`,
			measuredAt: []time.Duration{0, 5 * time.Second, 10 * time.Second},
		},
		{
			name:        "initialDelay",
			metrics:     []v1alpha1.Metric{metric("m", initialDelay("1m"))},
			phase:       S,
			measuredAt:  []time.Duration{time.Minute},
			metricPhase: map[string]v1alpha1.AnalysisPhase{"m": S},
		},
		{
			name:        "worst of Inconclusive and Error is Error",
			metrics:     []v1alpha1.Metric{metric("a"), metric("b")},
			answers:     answers{"a": {I}, "b": {E, E, E, E, E}},
			phase:       I, // the Inconclusive metric ends the run before b errors out
			metricPhase: map[string]v1alpha1.AnalysisPhase{"a": I, "b": S},
			measuredAt:  []time.Duration{0, 0},
			message:     `Metric "a" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)`,
		},
		{
			name:        "worst of Error and Failed is Failed",
			metrics:     []v1alpha1.Metric{metric("a", errorLimit(0)), metric("b")},
			answers:     answers{"a": {E}, "b": {F}},
			phase:       F,
			metricPhase: map[string]v1alpha1.AnalysisPhase{"a": E, "b": F},
			measuredAt:  []time.Duration{0, 0},
			message:     `Metric "b" assessed Failed due to failed (1) > failureLimit (0)`,
		},
		{
			name:        "a failed metric ends an endless one at once",
			metrics:     []v1alpha1.Metric{metric("endless", interval("10s")), metric("m", interval("30s"), count(3))},
			answers:     answers{"m": {S, F}},
			phase:       F,
			metricPhase: map[string]v1alpha1.AnalysisPhase{"endless": S, "m": F},
			measuredAt:  []time.Duration{0, 0, 10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second},
			message:     `Metric "m" assessed Failed due to failed (1) > failureLimit (0)`,
		},
		{
			name:        "a failed metric ends a delayed one that never started",
			metrics:     []v1alpha1.Metric{metric("late", initialDelay("5m")), metric("m")},
			answers:     answers{"m": {F}},
			phase:       F,
			metricPhase: map[string]v1alpha1.AnalysisPhase{"m": F},
			measuredAt:  []time.Duration{0},
		},
		{
			name:        "every metric waits: Running until all complete",
			metrics:     []v1alpha1.Metric{metric("a", interval("10s"), count(2)), metric("b", initialDelay("30s"))},
			phase:       S,
			metricPhase: map[string]v1alpha1.AnalysisPhase{"a": S, "b": S},
			measuredAt:  []time.Duration{0, 10 * time.Second, 30 * time.Second},
		},
		{
			name:        "count from an argument already resolved as a string",
			metrics:     []v1alpha1.Metric{metric("m", interval("1s"), func(m *v1alpha1.Metric) { m.Count = sos("2") })},
			phase:       S,
			measuredAt:  []time.Duration{0, time.Second},
			metricPhase: map[string]v1alpha1.AnalysisPhase{"m": S},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, at := simulate(t, newRun(tt.metrics...), tt.answers, 50)
			if run.Status.Phase != tt.phase {
				t.Errorf("phase = %s, want %s (%+v)", run.Status.Phase, tt.phase, run.Status)
			}
			if tt.message != "" && run.Status.Message != tt.message {
				t.Errorf("message = %q\nwant      %q", run.Status.Message, tt.message)
			}
			if tt.measuredAt != nil && !reflect.DeepEqual(at, tt.measuredAt) {
				t.Errorf("measured at %v, want %v", at, tt.measuredAt)
			}
			for name, want := range tt.metricPhase {
				if r := result(&run.Status, name); r == nil && want != no || r != nil && r.Phase != want {
					t.Errorf("metric %s: result %+v, want phase %s", name, r, want)
				}
			}
			if run.Status.Phase.Completed() && run.Status.CompletedAt == nil {
				t.Error("completed run without completedAt")
			}
			if run.Status.StartedAt == nil || !run.Status.StartedAt.Time.Equal(t0) {
				t.Errorf("startedAt = %v, want %v", run.Status.StartedAt, t0)
			}
		})
	}
}

func TestCounters(t *testing.T) {
	run := newRun(metric("m", interval("1s"), count(6), failureLimit(5), inconclusiveLimit(5), errorLimit(5)))
	run, _ = simulate(t, run, answers{"m": {S, S, E, F, I, S, E, S}}, 50)
	r := result(&run.Status, "m")
	want := v1alpha1.MetricResult{Count: 6, Successful: 4, Failed: 1, Inconclusive: 1, Error: 2, ConsecutiveError: 0, ConsecutiveSuccess: 1}
	got := v1alpha1.MetricResult{Count: r.Count, Successful: r.Successful, Failed: r.Failed, Inconclusive: r.Inconclusive,
		Error: r.Error, ConsecutiveError: r.ConsecutiveError, ConsecutiveSuccess: r.ConsecutiveSuccess}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counters = %+v, want %+v", got, want)
	}
	if len(r.Measurements) != 8 {
		t.Errorf("%d measurements, want 8", len(r.Measurements))
	}
	if run.Status.Phase != S {
		t.Errorf("phase %s", run.Status.Phase)
	}
	if s := run.Status.RunSummary; s != (v1alpha1.RunSummary{Count: 1, Successful: 1}) {
		t.Errorf("runSummary %+v", s)
	}
}

func TestTiming(t *testing.T) {
	run := newRun(metric("m", interval("30s"), count(2)))
	run, res, tasks := step(t, run, Args{}, t0, nil)
	if len(tasks) != 1 || tasks[0].Kind != Measure {
		t.Fatalf("tasks %+v", tasks)
	}
	if run.Status.Phase != R || !res.NextAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("phase %s next %v", run.Status.Phase, res.NextAt)
	}
	// Early: nothing due, the same next time.
	run, res, tasks = step(t, run, Args{}, t0.Add(29*time.Second), nil)
	if len(tasks) != 0 || !res.NextAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("early: tasks %v next %v", tasks, res.NextAt)
	}
	// On time: measured, complete, no next time.
	run, res, tasks = step(t, run, Args{}, t0.Add(30*time.Second), nil)
	if len(tasks) != 1 || run.Status.Phase != S || !res.NextAt.IsZero() {
		t.Fatalf("on time: tasks %v phase %s next %v", tasks, run.Status.Phase, res.NextAt)
	}
	if !run.Status.CompletedAt.Time.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("completedAt %v", run.Status.CompletedAt)
	}
	// Completed runs are left alone.
	p := NewRound(run, Args{}, t0.Add(time.Hour))
	if len(p.Tasks) != 0 {
		t.Errorf("tasks for a completed run: %v", p.Tasks)
	}
	if res := p.Fold(nil, t0.Add(time.Hour)); !reflect.DeepEqual(res.Status, run.Status) || !res.NextAt.IsZero() || len(res.Events) != 0 {
		t.Errorf("completed run changed: %+v", res)
	}
}

func TestInitialDelayCountsFromStart(t *testing.T) {
	run := newRun(metric("m", initialDelay("20s")))
	run, res, tasks := step(t, run, Args{}, t0, nil)
	if len(tasks) != 0 || run.Status.Phase != R || !res.NextAt.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("tasks %v phase %s next %v", tasks, run.Status.Phase, res.NextAt)
	}
	if len(run.Status.MetricResults) != 0 {
		t.Errorf("a metric not yet measured has no result: %+v", run.Status.MetricResults)
	}
	_, _, tasks = step(t, run, Args{}, t0.Add(19*time.Second), nil)
	if len(tasks) != 0 {
		t.Fatalf("measured before the delay")
	}
}

func TestInFlight(t *testing.T) {
	run := newRun(metric("job"))
	run, res, _ := step(t, run, Args{}, t0, answers{"job": {R}})
	r := result(&run.Status, "job")
	if run.Status.Phase != R || r.Phase != R || len(r.Measurements) != 1 || r.Measurements[0].FinishedAt != nil {
		t.Fatalf("in flight: %+v", run.Status)
	}
	if !res.NextAt.IsZero() {
		t.Errorf("an in-flight measurement without resumeAt waits for an event, next %v", res.NextAt)
	}
	// Every reconcile resumes it; still running.
	run, _, tasks := step(t, run, Args{}, t0.Add(time.Second), answers{"job": {R}})
	if len(tasks) != 1 || tasks[0].Kind != Resume || tasks[0].InFlight == nil {
		t.Fatalf("tasks %+v", tasks)
	}
	if n := len(result(&run.Status, "job").Measurements); n != 1 {
		t.Fatalf("resume appended: %d measurements", n)
	}
	run, _, _ = step(t, run, Args{}, t0.Add(2*time.Second), answers{"job": {F}})
	r = result(&run.Status, "job")
	if run.Status.Phase != F || len(r.Measurements) != 1 || r.Failed != 1 || r.Measurements[0].FinishedAt == nil {
		t.Fatalf("finished: %+v", run.Status)
	}
	if !r.Measurements[0].StartedAt.Time.Equal(t0) {
		t.Errorf("startedAt of a resumed measurement changed: %v", r.Measurements[0].StartedAt)
	}
}

func TestResumeAt(t *testing.T) {
	run := newRun(metric("m"))
	resume := metav1.NewTime(t0.Add(15 * time.Second))
	run.Status = v1alpha1.AnalysisRunStatus{Phase: R, StartedAt: &metav1.Time{Time: t0}, MetricResults: []v1alpha1.MetricResult{{
		Name: "m", Phase: R, Measurements: []v1alpha1.Measurement{{Phase: R, StartedAt: &metav1.Time{Time: t0}, ResumeAt: &resume}},
	}}}
	_, res, tasks := step(t, run, Args{}, t0.Add(5*time.Second), nil)
	if len(tasks) != 0 || !res.NextAt.Equal(resume.Time) {
		t.Fatalf("before resumeAt: tasks %v next %v", tasks, res.NextAt)
	}
	run, _, tasks = step(t, run, Args{}, resume.Time, nil)
	if len(tasks) != 1 || tasks[0].Kind != Resume || run.Status.Phase != S {
		t.Fatalf("at resumeAt: tasks %v phase %s", tasks, run.Status.Phase)
	}
	if result(&run.Status, "m").Measurements[0].ResumeAt != nil {
		t.Error("completed measurement keeps resumeAt")
	}
}

func TestFailureTerminatesInFlight(t *testing.T) {
	run := newRun(metric("job"), metric("m"))
	run, res, _ := step(t, run, Args{}, t0, answers{"job": {R}, "m": {F}})
	if run.Status.Phase != R {
		t.Fatalf("the run must wait for the in-flight measurement to be terminated: %s", run.Status.Phase)
	}
	if !res.NextAt.Equal(t0) {
		t.Fatalf("termination is due at once, next %v", res.NextAt)
	}
	run, res, tasks := step(t, run, Args{}, t0.Add(time.Millisecond), nil)
	if len(tasks) != 1 || tasks[0].Kind != Terminate || tasks[0].Metric.Name != "job" {
		t.Fatalf("tasks %+v", tasks)
	}
	job := result(&run.Status, "job")
	if run.Status.Phase != F || job.Phase != S || job.Measurements[0].Message != "Metric Terminated" {
		t.Fatalf("after termination: run %s job %+v", run.Status.Phase, job)
	}
	if run.Status.Message != `Metric "m" assessed Failed due to failed (1) > failureLimit (0)` {
		t.Errorf("message %q", run.Status.Message)
	}
	if !res.NextAt.IsZero() {
		t.Errorf("next %v", res.NextAt)
	}
}

func TestTerminate(t *testing.T) {
	t.Run("no measurements: successful", func(t *testing.T) {
		run := newRun(metric("m", initialDelay("1h")))
		run.Spec.Terminate = true
		run, _, tasks := step(t, run, Args{}, t0, nil)
		if len(tasks) != 0 || run.Status.Phase != S || run.Status.Message != "Run Terminated" {
			t.Fatalf("tasks %v status %+v", tasks, run.Status)
		}
	})
	t.Run("endless metric: successful with what was measured", func(t *testing.T) {
		run := newRun(metric("m", interval("10s")))
		run, _, _ = step(t, run, Args{}, t0, nil)
		run.Spec.Terminate = true
		run, res, tasks := step(t, run, Args{}, t0.Add(5*time.Second), nil)
		if len(tasks) != 0 || run.Status.Phase != S || !res.NextAt.IsZero() {
			t.Fatalf("tasks %v phase %s next %v", tasks, run.Status.Phase, res.NextAt)
		}
		if r := result(&run.Status, "m"); r.Phase != S || r.Count != 1 {
			t.Errorf("metric %+v", r)
		}
	})
	t.Run("keeps a failure measured before", func(t *testing.T) {
		run := newRun(metric("m", interval("10s"), failureLimit(3)))
		run, _, _ = step(t, run, Args{}, t0, answers{"m": {F}})
		run.Spec.Terminate = true
		run, _, _ = step(t, run, Args{}, t0.Add(time.Second), nil)
		if run.Status.Phase != S {
			t.Fatalf("phase %s: one failure within failureLimit 3 is not a failure", run.Status.Phase)
		}
	})
	t.Run("in-flight measurement is terminated", func(t *testing.T) {
		run := newRun(metric("job"))
		run, _, _ = step(t, run, Args{}, t0, answers{"job": {R}})
		run.Spec.Terminate = true
		run, _, tasks := step(t, run, Args{}, t0.Add(time.Second), nil)
		if len(tasks) != 1 || tasks[0].Kind != Terminate || run.Status.Phase != S {
			t.Fatalf("tasks %v phase %s", tasks, run.Status.Phase)
		}
	})
}

func TestDryRun(t *testing.T) {
	t.Run("failing dry-run metric does not decide the run", func(t *testing.T) {
		run := newRun(metric("real"), metric("dry"))
		run.Spec.DryRun = []v1alpha1.DryRun{{MetricName: "dry"}}
		run, _ = simulate(t, run, answers{"dry": {F}}, 10)
		if run.Status.Phase != S {
			t.Fatalf("phase %s", run.Status.Phase)
		}
		dry := result(&run.Status, "dry")
		if !dry.DryRun || dry.Phase != F || dry.Message != "Metric assessed Failed due to failed (1) > failureLimit (0)" {
			t.Errorf("dry result %+v", dry)
		}
		if s := run.Status.RunSummary; s != (v1alpha1.RunSummary{Count: 1, Successful: 1}) {
			t.Errorf("runSummary %+v", s)
		}
		if s := run.Status.DryRunSummary; s == nil || *s != (v1alpha1.RunSummary{Count: 1, Failed: 1}) {
			t.Errorf("dryRunSummary %+v", s)
		}
	})
	t.Run("failing dry-run metric does not stop the others", func(t *testing.T) {
		run := newRun(metric("real", interval("10s"), count(3)), metric("dry"))
		run.Spec.DryRun = []v1alpha1.DryRun{{MetricName: "dry"}}
		run, at := simulate(t, run, answers{"dry": {E, E, E, E, E}}, 20)
		if run.Status.Phase != S || result(&run.Status, "real").Count != 3 {
			t.Fatalf("status %+v", run.Status)
		}
		if result(&run.Status, "dry").Phase != E {
			t.Errorf("dry %+v", result(&run.Status, "dry"))
		}
		if len(at) != 8 {
			t.Errorf("measurements at %v", at)
		}
	})
	t.Run("wildcard", func(t *testing.T) {
		run := newRun(metric("a"), metric("b"))
		run.Spec.DryRun = []v1alpha1.DryRun{{MetricName: "*"}}
		run, _ = simulate(t, run, answers{"a": {F}, "b": {I}}, 10)
		if run.Status.Phase != S || run.Status.Message != "" {
			t.Fatalf("status %+v", run.Status)
		}
		if s := run.Status.DryRunSummary; *s != (v1alpha1.RunSummary{Count: 2, Failed: 1, Inconclusive: 1}) {
			t.Errorf("dryRunSummary %+v", s)
		}
	})
}

func TestMeasurementRetention(t *testing.T) {
	run := newRun(metric("a", interval("1s"), count(12)), metric("b", interval("1s"), count(12)))
	run.Spec.MeasurementRetention = []v1alpha1.MeasurementRetention{{MetricName: "b", Limit: 3}}
	var trimmed map[string]int
	now := t0
	for i := 0; i < 12; i++ {
		var res Result
		run, res, _ = step(t, run, Args{}, now, nil)
		if res.Trimmed != nil {
			trimmed = res.Trimmed
		}
		now = now.Add(time.Second)
	}
	a, b := result(&run.Status, "a"), result(&run.Status, "b")
	if len(a.Measurements) != 10 || len(b.Measurements) != 3 || a.Count != 12 || b.Count != 12 {
		t.Fatalf("kept %d and %d measurements, counts %d %d", len(a.Measurements), len(b.Measurements), a.Count, b.Count)
	}
	if !a.Measurements[9].StartedAt.Time.Equal(t0.Add(11 * time.Second)) {
		t.Errorf("newest measurement not kept: %v", a.Measurements[9].StartedAt)
	}
	if !reflect.DeepEqual(trimmed, map[string]int{"a": 10, "b": 3}) {
		t.Errorf("trimmed %v", trimmed)
	}
}

func TestInvalidRuns(t *testing.T) {
	tests := []struct {
		name    string
		run     func(*v1alpha1.AnalysisRun)
		args    Args
		message string
	}{
		{
			name: "argument without value",
			run: func(r *v1alpha1.AnalysisRun) {
				r.Spec.Metrics[0].Provider.Web.URL = "http://{{args.host}}/"
			},
			message: "Unable to resolve metric arguments: failed to resolve {{args.host}}",
		},
		{
			name:    "two providers",
			run:     func(r *v1alpha1.AnalysisRun) { r.Spec.Metrics[0].Provider.Prometheus = &v1alpha1.PrometheusMetric{} },
			message: "Analysis spec invalid: ",
		},
		{
			name:    "bad interval from an argument",
			run:     func(r *v1alpha1.AnalysisRun) { r.Spec.Metrics[0].Interval = "{{args.every}}" },
			args:    Args{Values: map[string]string{"every": "soon"}},
			message: "Analysis spec invalid: spec.metrics[0].interval",
		},
		{
			name:    "dryRun of an unknown metric",
			run:     func(r *v1alpha1.AnalysisRun) { r.Spec.DryRun = []v1alpha1.DryRun{{MetricName: "nope"}} },
			message: `dryRun[0]: the run has no metric "nope"`,
		},
		{
			name: "measurementRetention of an unknown metric",
			run: func(r *v1alpha1.AnalysisRun) {
				r.Spec.MeasurementRetention = []v1alpha1.MeasurementRetention{{MetricName: "nope", Limit: 1}}
			},
			message: `measurementRetention[0]: the run has no metric "nope"`,
		},
		{
			name:    "failureLimit -1 without consecutiveSuccessLimit",
			run:     func(r *v1alpha1.AnalysisRun) { r.Spec.Metrics[0].FailureLimit = ios(-1) },
			message: "consecutiveSuccessLimit must be set",
		},
		{
			name:    "no metrics",
			run:     func(r *v1alpha1.AnalysisRun) { r.Spec.Metrics = nil },
			message: "Analysis spec invalid: ",
		},
		{
			name: "secret never in the message",
			run: func(r *v1alpha1.AnalysisRun) {
				r.Spec.Metrics[0].Interval = "{{args.token}}"
			},
			args:    Args{Values: map[string]string{"token": "hunter2"}, Secrets: []string{"hunter2"}},
			message: "*****",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := newRun(metric("m"))
			tt.run(run)
			p := NewRound(run, tt.args, t0)
			if len(p.Tasks) != 0 {
				t.Errorf("tasks for an invalid run: %v", p.Tasks)
			}
			res := p.Fold(nil, t0)
			st := res.Status
			if st.Phase != E || !strings.Contains(st.Message, tt.message) || st.CompletedAt == nil {
				t.Errorf("status %+v, want Error containing %q", st, tt.message)
			}
			if strings.Contains(st.Message, "hunter2") {
				t.Errorf("secret leaked: %q", st.Message)
			}
			if len(res.Events) != 1 || res.Events[0].Phase != E || res.Events[0].Metric != "" {
				t.Errorf("events %+v", res.Events)
			}
		})
	}
}

func TestSecretsRedacted(t *testing.T) {
	run := newRun(metric("m"))
	run.Spec.Metrics[0].Provider.Web.URL = "http://x/?token={{args.token}}"
	args := Args{Values: map[string]string{"token": "s3cr3t"}, Secrets: []string{"s3cr3t"}}
	p := NewRound(run, args, t0)
	if len(p.Tasks) != 1 || p.Tasks[0].Metric.Provider.Web.URL != "http://x/?token=s3cr3t" {
		t.Fatalf("the provider needs the secret: %+v", p.Tasks)
	}
	res := p.Fold([]Outcome{{
		Metric: "m", Kind: Measure,
		Measurement: v1alpha1.Measurement{Phase: E, Message: `Get "http://x/?token=s3cr3t": refused`, Value: "s3cr3t",
			Metadata: map[string]string{"url": "http://x/?token=s3cr3t"}},
		Metadata: map[string]string{"query": "token=s3cr3t"},
	}}, t0)

	r := result(&res.Status, "m")
	m := r.Measurements[0]
	for _, s := range []string{m.Message, m.Value, m.Metadata["url"], r.Metadata["query"]} {
		if strings.Contains(s, "s3cr3t") || !strings.Contains(s, Redacted) {
			t.Errorf("not redacted: %q", s)
		}
	}
}

func TestEvents(t *testing.T) {
	run := newRun(metric("a"), metric("b", interval("1s"), count(2)))
	run, res, _ := step(t, run, Args{}, t0, nil)
	if !reflect.DeepEqual(res.Events, []Event{{Metric: "a", Phase: S, Message: ""}}) {
		t.Errorf("events %+v", res.Events)
	}
	_, res, _ = step(t, run, Args{}, t0.Add(time.Second), answers{"b": {F}})
	want := []Event{{Metric: "b", Phase: F}, {Phase: F, Message: `Metric "b" assessed Failed due to failed (1) > failureLimit (0)`}}
	if !reflect.DeepEqual(res.Events, want) {
		t.Errorf("events %+v\nwant   %+v", res.Events, want)
	}
}

func TestProviderWithoutPhase(t *testing.T) {
	run := newRun(metric("m", errorLimit(0)))
	p := NewRound(run, Args{}, t0)
	res := p.Fold([]Outcome{{Metric: "m", Kind: Measure}}, t0)
	if res.Status.Phase != E {
		t.Fatalf("a measurement without a phase must count as an error: %+v", res.Status)
	}
}

func TestArgsInRound(t *testing.T) {
	run := newRun(metric("m", func(m *v1alpha1.Metric) {
		m.Count = sos("{{args.n}}")
		m.Interval = "{{ args.every }}"
		m.SuccessCondition = "result > {{args.min}}"
	}))
	args := Args{Values: map[string]string{"n": "2", "every": "5s", "min": "0.9"}}
	p := NewRound(run, args, t0)
	if len(p.Tasks) != 1 {
		t.Fatalf("tasks %v", p.Tasks)
	}
	m := p.Tasks[0].Metric
	if m.Count.IntValue() != 2 || m.Interval != "5s" || m.SuccessCondition != "result > 0.9" {
		t.Errorf("resolved metric %+v", m)
	}
	if run.Spec.Metrics[0].Interval != "{{ args.every }}" {
		t.Error("NewRound modified the run")
	}
}

func TestWorse(t *testing.T) {
	order := []v1alpha1.AnalysisPhase{S, R, P, I, E, F}
	for i := range order {
		for j := range order {
			if got := Worse(order[i], order[j]); got != (i > j) {
				t.Errorf("Worse(%s, %s) = %v", order[i], order[j], got)
			}
		}
	}
}

func TestRunPhaseIsWorstCompletedMetric(t *testing.T) {
	tests := []struct {
		phases []v1alpha1.AnalysisPhase
		want   v1alpha1.AnalysisPhase
	}{
		{[]v1alpha1.AnalysisPhase{S, S}, S},
		{[]v1alpha1.AnalysisPhase{S, I}, I},
		{[]v1alpha1.AnalysisPhase{I, E}, E},
		{[]v1alpha1.AnalysisPhase{E, F, I}, F},
		{[]v1alpha1.AnalysisPhase{S, R}, R},
		{[]v1alpha1.AnalysisPhase{S, P}, R},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.phases), func(t *testing.T) {
			run := newRun()
			run.Status.Phase = R
			for i, ph := range tt.phases {
				name := fmt.Sprintf("m%d", i)
				run.Spec.Metrics = append(run.Spec.Metrics, metric(name, interval("1h")))
				r := v1alpha1.MetricResult{Name: name, Phase: ph}
				if ph != P {
					at := metav1.NewTime(t0)
					r.Measurements = []v1alpha1.Measurement{{Phase: S, StartedAt: &at, FinishedAt: &at}}
				}
				run.Status.MetricResults = append(run.Status.MetricResults, r)
			}
			res := NewRound(run, Args{}, t0).Fold(nil, t0)
			if res.Status.Phase != tt.want {
				t.Errorf("phase %s, want %s", res.Status.Phase, tt.want)
			}
		})
	}
}
