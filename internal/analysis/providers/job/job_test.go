package job

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

const uid = "0d3f6a2e-7c1b-4f7e-9a51-2b6c8f1e4d90"

func setup(t *testing.T, objs ...client.Object) (client.Client, *Provider, *v1alpha1.AnalysisRun, v1alpha1.Metric) {
	t.Helper()
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
	run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: "ns", UID: uid}}
	m := v1alpha1.Metric{Name: "smoke", Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{
		Metadata: metav1.ObjectMeta{Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"note": "x"}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "test", Image: "busybox", Command: []string{"true"}}},
		}}},
	}}}
	return c, New(c, time.Now), run, m
}

func TestRunCreatesJob(t *testing.T) {
	c, p, run, m := setup(t)
	run.Status.MetricResults = []v1alpha1.MetricResult{{Name: "smoke", Count: 2, Error: 1}}
	got := p.Run(context.Background(), run, m)
	want := uid + ".smoke.4"
	if got.Phase != v1alpha1.AnalysisPhaseRunning || got.FinishedAt != nil || got.Metadata[JobNameKey] != want || got.Metadata[JobNamespaceKey] != "ns" {
		t.Fatalf("measurement %+v", got)
	}
	job := &batchv1.Job{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: want}, job); err != nil {
		t.Fatal(err)
	}
	if job.Labels[RunUIDLabel] != uid || job.Labels["team"] != "a" || job.Annotations[MetricAnnotation] != "smoke" ||
		job.Annotations[RunNameAnnotation] != "run" || job.Annotations["note"] != "x" {
		t.Errorf("metadata %v %v", job.Labels, job.Annotations)
	}
	if ref := metav1.GetControllerOf(job); ref == nil || ref.Kind != "AnalysisRun" || ref.UID != uid || ref.Name != "run" {
		t.Errorf("owner %+v", job.OwnerReferences)
	}
	if job.Spec.Template.Spec.Containers[0].Image != "busybox" {
		t.Errorf("spec %+v", job.Spec)
	}
	// A retry after a crash finds its own Job and takes it over.
	again := p.Run(context.Background(), run, m)
	if again.Phase != v1alpha1.AnalysisPhaseRunning || again.Metadata[JobNameKey] != want {
		t.Errorf("adoption: %+v", again)
	}
}

func TestRunForeignJob(t *testing.T) {
	foreign := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: uid + ".smoke.1", Labels: map[string]string{RunUIDLabel: "other"}}}
	_, p, run, m := setup(t, foreign)
	if got := p.Run(context.Background(), run, m); got.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(got.Message, "another run") {
		t.Errorf("%+v", got)
	}
}

func TestRunCreateError(t *testing.T) {
	_, _, run, m := setup(t)
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	c := fake.NewClientBuilder().WithScheme(s).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
			return errors.New("forbidden")
		},
	}).Build()
	if got := New(c, time.Now).Run(context.Background(), run, m); got.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(got.Message, "forbidden") || got.FinishedAt == nil {
		t.Errorf("%+v", got)
	}
}

func TestResume(t *testing.T) {
	tests := []struct {
		name       string
		conditions []batchv1.JobCondition
		phase      v1alpha1.AnalysisPhase
		message    string
	}{
		{name: "running", phase: v1alpha1.AnalysisPhaseRunning},
		{name: "complete", conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}, phase: v1alpha1.AnalysisPhaseSuccessful},
		{name: "failed", conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}},
			phase: v1alpha1.AnalysisPhaseFailed, message: "job failed: Job has reached the specified backoff limit"},
		{name: "condition not true", conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionFalse}}, phase: v1alpha1.AnalysisPhaseRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p, run, m := setup(t)
			started := p.Run(context.Background(), run, m)
			job := &batchv1.Job{}
			key := client.ObjectKey{Namespace: "ns", Name: started.Metadata[JobNameKey]}
			if err := c.Get(context.Background(), key, job); err != nil {
				t.Fatal(err)
			}
			job.Status.Conditions = tt.conditions
			if err := c.Status().Update(context.Background(), job); err != nil {
				t.Fatal(err)
			}
			got := p.Resume(context.Background(), run, m, started)
			if got.Phase != tt.phase || got.Message != tt.message {
				t.Errorf("resumed %+v", got)
			}
			if got.Phase.Completed() != (got.FinishedAt != nil) {
				t.Errorf("finishedAt %v for phase %s", got.FinishedAt, got.Phase)
			}
		})
	}
	t.Run("deleted", func(t *testing.T) {
		_, p, run, m := setup(t)
		gone := v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseRunning, Metadata: map[string]string{JobNameKey: "x", JobNamespaceKey: "ns"}}
		if got := p.Resume(context.Background(), run, m, gone); got.Phase != v1alpha1.AnalysisPhaseError {
			t.Errorf("%+v", got)
		}
	})
}

func TestTerminateDeletes(t *testing.T) {
	c, p, run, m := setup(t)
	started := p.Run(context.Background(), run, m)
	got := p.Terminate(context.Background(), run, m, started)
	if got.Phase != v1alpha1.AnalysisPhaseSuccessful || got.FinishedAt == nil {
		t.Errorf("%+v", got)
	}
	list := &batchv1.JobList{}
	_ = c.List(context.Background(), list)
	if len(list.Items) != 0 {
		t.Errorf("job left: %v", list.Items[0].Name)
	}
	// Terminating twice is fine.
	if got := p.Terminate(context.Background(), run, m, started); got.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("second terminate %+v", got)
	}
}

func TestGarbageCollect(t *testing.T) {
	c, p, run, m := setup(t)
	other := m
	other.Name = "other"
	for i := 0; i < 5; i++ {
		run.Status.MetricResults = []v1alpha1.MetricResult{{Name: "smoke", Count: int32(i)}, {Name: "other", Count: int32(i)}}
		p.Run(context.Background(), run, m)
		p.Run(context.Background(), run, other)
	}
	if err := p.GarbageCollect(context.Background(), run, m, 2); err != nil {
		t.Fatal(err)
	}
	list := &batchv1.JobList{}
	_ = c.List(context.Background(), list)
	var names []string
	for _, j := range list.Items {
		names = append(names, j.Name)
	}
	got := strings.Join(names, " ")
	for _, keep := range []string{uid + ".smoke.4", uid + ".smoke.5", uid + ".other.1", uid + ".other.5"} {
		if !strings.Contains(got, keep) {
			t.Errorf("%s deleted: %s", keep, got)
		}
	}
	if strings.Contains(got, uid+".smoke.3") || len(names) != 7 {
		t.Errorf("left %s", got)
	}
}

func TestName(t *testing.T) {
	long := strings.Repeat("Long_Metric.", 10)
	for _, tt := range []struct{ metric, want string }{
		{"smoke", uid + ".smoke.3"},
		{long, ""},
		{"Upper", ""},
		{"___", ""},
	} {
		got := Name(uid, tt.metric, 3)
		if tt.want != "" && got != tt.want {
			t.Errorf("Name(%q) = %q, want %q", tt.metric, got, tt.want)
		}
		if len(got) > 63 || !strings.HasPrefix(got, uid+".") || !strings.HasSuffix(got, ".3") {
			t.Errorf("Name(%q) = %q", tt.metric, got)
		}
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Errorf("Name(%q) = %q: %v", tt.metric, got, errs)
		}
		if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
			t.Errorf("Name(%q) = %q: %v", tt.metric, got, errs)
		}
	}
	if Name(uid, long, 1) == Name(uid, strings.Repeat("Long_Metric.", 11), 1) {
		t.Error("different long names collide")
	}
}
