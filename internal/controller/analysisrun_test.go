package controller

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis/providers/job"
)

type arFixture struct {
	t        *testing.T
	c        client.Client
	r        *AnalysisRunReconciler
	recorder *record.FakeRecorder
}

func newARFixture(t *testing.T, objs ...client.Object) *arFixture {
	t.Helper()
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).WithStatusSubresource(&v1alpha1.AnalysisRun{}).Build()
	rec := record.NewFakeRecorder(100)
	return &arFixture{t: t, c: c, recorder: rec, r: &AnalysisRunReconciler{Client: c, Recorder: rec}}
}

func (f *arFixture) reconcile(name string) ctrl.Result {
	f.t.Helper()
	res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: name}})
	if err != nil {
		f.t.Fatalf("reconcile: %v", err)
	}
	return res
}

func (f *arFixture) get(name string) *v1alpha1.AnalysisRun {
	f.t.Helper()
	run := &v1alpha1.AnalysisRun{}
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: name}, run); err != nil {
		f.t.Fatal(err)
	}
	return run
}

func (f *arFixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func webRun(name, url string, mutate ...func(*v1alpha1.AnalysisRun)) *v1alpha1.AnalysisRun {
	run := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{
			Name: "web", SuccessCondition: "result == 1",
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: url}},
		}}},
	}
	for _, m := range mutate {
		m(run)
	}
	return run
}

func TestAnalysisRunWeb(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "1") }))
	defer srv.Close()
	f := newARFixture(t, webRun("ok", srv.URL))
	res := f.reconcile("ok")
	run := f.get("ok")
	if run.Status.Phase != v1alpha1.AnalysisPhaseSuccessful || run.Status.StartedAt == nil || run.Status.CompletedAt == nil {
		t.Fatalf("status %+v", run.Status)
	}
	if res.RequeueAfter != 0 {
		t.Errorf("completed run requeued after %v", res.RequeueAfter)
	}
	ev := strings.Join(f.events(), "\n")
	if !strings.Contains(ev, "Normal MetricSuccessful Metric 'web' Completed. Result: Successful") ||
		!strings.Contains(ev, "Normal AnalysisRunSuccessful Analysis Completed. Result: Successful") {
		t.Errorf("events:\n%s", ev)
	}
	// Nothing more to do; no write.
	rv := run.ResourceVersion
	f.reconcile("ok")
	if f.get("ok").ResourceVersion != rv {
		t.Error("completed run written again")
	}
}

func TestAnalysisRunRequeuesAtInterval(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, "1")
	}))
	defer srv.Close()
	f := newARFixture(t, webRun("every", srv.URL, func(r *v1alpha1.AnalysisRun) {
		r.Spec.Metrics[0].Interval = "30s"
		c := intstr.FromInt32(3)
		r.Spec.Metrics[0].Count = &c
	}))
	res := f.reconcile("every")
	if res.RequeueAfter < 29*time.Second || res.RequeueAfter > 30*time.Second {
		t.Errorf("requeue after %v, want ~30s", res.RequeueAfter)
	}
	// Early reconciles (events, resyncs) measure nothing.
	f.reconcile("every")
	if calls.Load() != 1 {
		t.Errorf("%d calls", calls.Load())
	}
	if run := f.get("every"); run.Status.Phase != v1alpha1.AnalysisPhaseRunning {
		t.Errorf("phase %s", run.Status.Phase)
	}
}

func TestAnalysisRunSecretArgs(t *testing.T) {
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		http.Error(w, "token hunter2 rejected", 500)
	}))
	defer srv.Close()
	withSecretArg := func(r *v1alpha1.AnalysisRun) {
		r.Spec.Args = []v1alpha1.Argument{{Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "creds", Key: "token"}}}}
		r.Spec.Metrics[0].Provider.Web.Headers = []v1alpha1.WebMetricHeader{{Key: "Authorization", Value: "Bearer {{args.token}}"}}
		r.Spec.Metrics[0].Provider.Web.URL += "/?t={{args.token}}"
		zero := intstr.FromInt32(0)
		r.Spec.Metrics[0].ConsecutiveErrorLimit = &zero
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "ns"}, Data: map[string][]byte{"token": []byte("hunter2")}}
	f := newARFixture(t, webRun("secret", srv.URL, withSecretArg), secret)
	f.reconcile("secret")
	if got, _ := auth.Load().(string); got != "Bearer hunter2" {
		t.Errorf("provider got Authorization %q", got)
	}
	run := f.get("secret")
	if run.Status.Phase != v1alpha1.AnalysisPhaseError {
		t.Fatalf("status %+v", run.Status)
	}
	all := run.Status.Message + run.Status.MetricResults[0].Message + run.Status.MetricResults[0].Measurements[0].Message + strings.Join(f.events(), " ")
	if strings.Contains(all, "hunter2") {
		t.Errorf("secret leaked into status or events: %s", all)
	}

	t.Run("missing secret", func(t *testing.T) {
		f := newARFixture(t, webRun("nosecret", srv.URL, withSecretArg))
		f.reconcile("nosecret")
		run := f.get("nosecret")
		if run.Status.Phase != v1alpha1.AnalysisPhaseError || !strings.HasPrefix(run.Status.Message, "Unable to resolve metric arguments: ") || !strings.Contains(run.Status.Message, `"creds"`) {
			t.Errorf("status %+v", run.Status)
		}
	})
	t.Run("missing key", func(t *testing.T) {
		other := secret.DeepCopy()
		other.Data = map[string][]byte{"other": []byte("x")}
		f := newARFixture(t, webRun("nokey", srv.URL, withSecretArg), other)
		f.reconcile("nokey")
		if run := f.get("nokey"); run.Status.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(run.Status.Message, `key "token" does not exist in secret "creds"`) {
			t.Errorf("status %+v", run.Status)
		}
	})
}

func TestAnalysisRunFieldRefArg(t *testing.T) {
	var path atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path.Store(r.URL.Path)
		_, _ = io.WriteString(w, "1")
	}))
	defer srv.Close()
	f := newARFixture(t, webRun("field", srv.URL+"/{{args.app}}", func(r *v1alpha1.AnalysisRun) {
		r.Labels = map[string]string{"app": "guestbook"}
		r.Spec.Args = []v1alpha1.Argument{{Name: "app", ValueFrom: &v1alpha1.ValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "metadata.labels['app']"}}}}
	}))
	f.reconcile("field")
	if got, _ := path.Load().(string); got != "/guestbook" {
		t.Errorf("path %q", got)
	}
}

func TestAnalysisRunInstanceID(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "1") }))
	defer srv.Close()
	labelled := webRun("other", srv.URL, func(r *v1alpha1.AnalysisRun) {
		r.Labels = map[string]string{v1alpha1.LabelKeyControllerInstanceID: "analysis-e2e"}
	})
	f := newARFixture(t, labelled, webRun("plain", srv.URL))
	f.reconcile("other")
	if run := f.get("other"); run.Status.Phase != "" {
		t.Errorf("run of another instance measured: %+v", run.Status)
	}
	f.r.InstanceID = "analysis-e2e"
	f.reconcile("plain")
	f.reconcile("other")
	if f.get("plain").Status.Phase != "" || f.get("other").Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("instance %q: plain %q other %q", f.r.InstanceID, f.get("plain").Status.Phase, f.get("other").Status.Phase)
	}
}

func jobRun(name string) *v1alpha1.AnalysisRun {
	return &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{
			Name: "smoke",
			Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			}}}}},
		}}},
	}
}

func (f *arFixture) setJobCondition(name string, cond batchv1.JobConditionType) {
	f.t.Helper()
	j := &batchv1.Job{}
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: name}, j); err != nil {
		f.t.Fatal(err)
	}
	j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: cond, Status: corev1.ConditionTrue})
	if err := f.c.Status().Update(context.Background(), j); err != nil {
		f.t.Fatal(err)
	}
}

func TestAnalysisRunJob(t *testing.T) {
	for _, tt := range []struct {
		cond  batchv1.JobConditionType
		phase v1alpha1.AnalysisPhase
	}{{batchv1.JobComplete, v1alpha1.AnalysisPhaseSuccessful}, {batchv1.JobFailed, v1alpha1.AnalysisPhaseFailed}} {
		t.Run(string(tt.cond), func(t *testing.T) {
			f := newARFixture(t, jobRun("job"))
			res := f.reconcile("job")
			run := f.get("job")
			m := run.Status.MetricResults[0].Measurements[0]
			if run.Status.Phase != v1alpha1.AnalysisPhaseRunning || m.Phase != v1alpha1.AnalysisPhaseRunning || res.RequeueAfter != 0 {
				t.Fatalf("status %+v requeue %v", run.Status, res.RequeueAfter)
			}
			name := m.Metadata[job.JobNameKey]
			if name != "uid-job.smoke.1" {
				t.Errorf("job name %q", name)
			}
			f.reconcile("job") // the Job is still running
			if run := f.get("job"); run.Status.Phase != v1alpha1.AnalysisPhaseRunning || len(run.Status.MetricResults[0].Measurements) != 1 {
				t.Fatalf("status %+v", run.Status)
			}
			f.setJobCondition(name, tt.cond)
			f.reconcile("job")
			if run := f.get("job"); run.Status.Phase != tt.phase {
				t.Errorf("status %+v", run.Status)
			}
		})
	}
}

func TestAnalysisRunTerminateDeletesJob(t *testing.T) {
	f := newARFixture(t, jobRun("job"))
	f.reconcile("job")
	run := f.get("job")
	run.Spec.Terminate = true
	if err := f.c.Update(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	f.reconcile("job")
	run = f.get("job")
	if run.Status.Phase != v1alpha1.AnalysisPhaseSuccessful || run.Status.Message != "Run Terminated" ||
		run.Status.MetricResults[0].Measurements[0].Message != "Metric Terminated" {
		t.Errorf("status %+v", run.Status)
	}
	jobs := &batchv1.JobList{}
	_ = f.c.List(context.Background(), jobs)
	if len(jobs.Items) != 0 {
		t.Errorf("job not deleted: %s", jobs.Items[0].Name)
	}
}

func TestAnalysisRunFailureTerminatesJobInOneReconcile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "0") }))
	defer srv.Close()
	run := jobRun("mixed")
	run.Spec.Metrics = append(run.Spec.Metrics, webRun("x", srv.URL).Spec.Metrics[0])
	f := newARFixture(t, run)
	f.reconcile("mixed")
	got := f.get("mixed")
	if got.Status.Phase != v1alpha1.AnalysisPhaseFailed {
		t.Fatalf("status %+v", got.Status)
	}
	jobs := &batchv1.JobList{}
	_ = f.c.List(context.Background(), jobs)
	if len(jobs.Items) != 0 {
		t.Errorf("job of a failed run left behind: %s", jobs.Items[0].Name)
	}
}

func TestAnalysisRunSlowProviderDoesNotBlockOthers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, "1")
	}))
	defer srv.Close()
	run := webRun("slow", srv.URL+"/slow", func(r *v1alpha1.AnalysisRun) {
		r.Spec.Metrics[0].Provider.Web.TimeoutSeconds = 1
		fast := *r.Spec.Metrics[0].DeepCopy()
		fast.Name, fast.Provider.Web.URL = "fast", srv.URL+"/fast"
		r.Spec.Metrics = append(r.Spec.Metrics, fast)
	})
	f := newARFixture(t, run)
	start := time.Now()
	f.reconcile("slow")
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("reconcile took %v: measurements not parallel or not bounded by their timeout", d)
	}
	got := f.get("slow")
	phases := map[string]v1alpha1.AnalysisPhase{}
	for _, r := range got.Status.MetricResults {
		phases[r.Name] = r.Measurements[0].Phase
	}
	if phases["web"] != v1alpha1.AnalysisPhaseError || phases["fast"] != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("measurements %v", phases)
	}
}

func TestAnalysisRunTTL(t *testing.T) {
	done := metav1.NewTime(time.Now().Add(-time.Minute))
	ttl := func(secs int32) func(*v1alpha1.AnalysisRun) {
		return func(r *v1alpha1.AnalysisRun) {
			r.Spec.TTLStrategy = &v1alpha1.TTLStrategy{SecondsAfterCompletion: &secs}
			r.Status = v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseSuccessful, CompletedAt: &done}
		}
	}
	f := newARFixture(t, webRun("old", "http://127.0.0.1:1", ttl(30)), webRun("young", "http://127.0.0.1:1", ttl(3600)))
	f.reconcile("old")
	err := f.c.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: "old"}, &v1alpha1.AnalysisRun{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("expired run not deleted: %v", err)
	}
	res := f.reconcile("young")
	if res.RequeueAfter < 58*time.Minute || res.RequeueAfter > time.Hour {
		t.Errorf("requeue %v, want ~59m", res.RequeueAfter)
	}
	f.get("young")
}

func TestAnalysisRunBadFieldRef(t *testing.T) {
	f := newARFixture(t, webRun("badfield", "http://127.0.0.1:1/{{args.x}}", func(r *v1alpha1.AnalysisRun) {
		r.Spec.Args = []v1alpha1.Argument{{Name: "x", ValueFrom: &v1alpha1.ValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "spec.nothing"}}}}
	}))
	f.reconcile("badfield")
	run := f.get("badfield")
	if run.Status.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(run.Status.Message, `Unable to resolve metric arguments: arg "x": fieldRef "spec.nothing"`) {
		t.Errorf("status %+v", run.Status)
	}
}
