package actions

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func TestTerminate(t *testing.T) {
	ctx := context.Background()
	run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: "run"}}
	exp := &v1alpha1.Experiment{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: "exp"}}
	c := newClient(t, run, exp)
	if _, err := TerminateAnalysisRun(ctx, c, keyOf(run)); err != nil {
		t.Fatal(err)
	}
	if _, err := TerminateExperiment(ctx, c, keyOf(exp)); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, keyOf(run), run); err != nil || !run.Spec.Terminate {
		t.Errorf("run: terminate=%v err=%v", run.Spec.Terminate, err)
	}
	if err := c.Get(ctx, keyOf(exp), exp); err != nil || !exp.Spec.Terminate {
		t.Errorf("experiment: terminate=%v err=%v", exp.Spec.Terminate, err)
	}
	_, err := TerminateAnalysisRun(ctx, c, types.NamespacedName{Namespace: "elsewhere", Name: "run"})
	if err == nil || !strings.Contains(err.Error(), `not found in namespace "elsewhere"`) {
		t.Errorf("missing run: err = %v", err)
	}
}

func keyOf(o metav1.Object) types.NamespacedName {
	return types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}
}

func metric(name string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: name, SuccessCondition: "result == 1",
		Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Address: "http://prom", Query: "up{job='{{args.job}}'}"}}}
}

func TestBuildAnalysisRun(t *testing.T) {
	ctx := context.Background()
	rate := &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: "rate"},
		Spec: v1alpha1.AnalysisTemplateSpec{
			Metrics:   []v1alpha1.Metric{metric("rate")},
			Args:      []v1alpha1.Argument{{Name: "job"}, {Name: "env", Value: ptr.To("prod")}},
			Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "latency", ClusterScope: true}},
		},
	}
	latency := &v1alpha1.ClusterAnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "latency"},
		Spec: v1alpha1.AnalysisTemplateSpec{
			Metrics: []v1alpha1.Metric{metric("latency")},
			Args:    []v1alpha1.Argument{{Name: "job"}, {Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "s", Key: "k"}}}},
		},
	}
	c := newClient(t, rate, latency)

	run, err := BuildAnalysisRun(ctx, c, RunFromTemplate{Namespace: key.Namespace, TemplateName: "rate",
		Args: []v1alpha1.Argument{{Name: "job", Value: ptr.To("web")}}, InstanceID: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	if run.GenerateName != "rate-" || run.Name != "" || run.Namespace != key.Namespace {
		t.Errorf("name %q generateName %q namespace %q", run.Name, run.GenerateName, run.Namespace)
	}
	if run.Labels[v1alpha1.LabelKeyControllerInstanceID] != "i1" {
		t.Errorf("labels %v", run.Labels)
	}
	if len(run.Spec.Metrics) != 2 || run.Spec.Metrics[0].Name != "rate" || run.Spec.Metrics[1].Name != "latency" {
		t.Errorf("metrics %v", run.Spec.Metrics)
	}
	got := map[string]string{}
	for _, a := range run.Spec.Args {
		switch {
		case a.Value != nil:
			got[a.Name] = *a.Value
		case a.ValueFrom != nil && a.ValueFrom.SecretKeyRef != nil:
			got[a.Name] = "secret:" + a.ValueFrom.SecretKeyRef.Name
		}
	}
	if want := map[string]string{"job": "web", "env": "prod", "token": "secret:s"}; len(got) != 3 || got["job"] != want["job"] || got["env"] != want["env"] || got["token"] != want["token"] {
		t.Errorf("args %v, want %v", got, want)
	}

	// From a file: the spec is given, its references still come from the cluster.
	own := &v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{metric("own")}, Args: []v1alpha1.Argument{{Name: "job"}},
		Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "latency", ClusterScope: true}}}
	run, err = BuildAnalysisRun(ctx, c, RunFromTemplate{Namespace: key.Namespace, TemplateName: "from-file", Spec: own, Name: "fixed",
		Args: []v1alpha1.Argument{{Name: "job", Value: ptr.To("web")}}})
	if err != nil {
		t.Fatal(err)
	}
	if run.Name != "fixed" || run.GenerateName != "" || len(run.Spec.Metrics) != 2 || run.Spec.Metrics[0].Name != "own" {
		t.Errorf("from file: name %q generateName %q metrics %v", run.Name, run.GenerateName, run.Spec.Metrics)
	}

	for _, tc := range []struct {
		o    RunFromTemplate
		want string
	}{
		{RunFromTemplate{Namespace: key.Namespace, TemplateName: "rate"}, `args.job was not resolved`},
		{RunFromTemplate{Namespace: key.Namespace, TemplateName: "rate", Args: []v1alpha1.Argument{{Name: "jobb", Value: ptr.To("x")}}},
			`argument "jobb" is not declared by AnalysisTemplate "rate" (it declares: job, env, token)`},
		{RunFromTemplate{Namespace: key.Namespace, TemplateName: "nope"}, `analysistemplates.argoproj.io "nope" not found in namespace "shop"`},
		{RunFromTemplate{Namespace: key.Namespace, TemplateName: "rate", ClusterScope: true}, `clusteranalysistemplates.argoproj.io "rate" not found`},
	} {
		if _, err := BuildAnalysisRun(ctx, c, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.o, err, tc.want)
		}
	}
}
