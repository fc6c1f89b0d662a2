package analysis

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func strp(s string) *string { return &s }

func TestNewRunFromTemplates(t *testing.T) {
	secret := &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "s", Key: "k"}}
	a := Template{Name: "a", Spec: v1alpha1.AnalysisTemplateSpec{
		Metrics:              []v1alpha1.Metric{metric("success-rate")},
		Args:                 []v1alpha1.Argument{{Name: "svc"}, {Name: "url", Value: strp("http://default")}, {Name: "token", ValueFrom: secret}},
		DryRun:               []v1alpha1.DryRun{{MetricName: "success-rate"}},
		MeasurementRetention: []v1alpha1.MeasurementRetention{{MetricName: "success-rate", Limit: 5}},
	}}
	b := Template{Name: "b", ClusterScope: true, Spec: v1alpha1.AnalysisTemplateSpec{
		Metrics: []v1alpha1.Metric{metric("latency")},
		Args:    []v1alpha1.Argument{{Name: "svc"}, {Name: "url", Value: strp("http://default")}},
	}}
	owner := metav1.OwnerReference{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "ro", UID: "u1"}
	run, err := NewRunFromTemplates([]Template{a, b}, RunOptions{
		Name: "ro-abc-2", Namespace: "ns",
		Labels:               map[string]string{"rollout-type": "Step"},
		Owners:               []metav1.OwnerReference{owner},
		Args:                 []v1alpha1.Argument{{Name: "svc", Value: strp("guestbook")}, {Name: "ignored", Value: strp("x")}},
		DryRun:               []v1alpha1.DryRun{{MetricName: "latency"}, {MetricName: "success-rate"}},
		MeasurementRetention: []v1alpha1.MeasurementRetention{{MetricName: "success-rate", Limit: 7}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if run.Name != "ro-abc-2" || run.Namespace != "ns" || run.Labels["rollout-type"] != "Step" || run.OwnerReferences[0] != owner {
		t.Errorf("meta %+v", run.ObjectMeta)
	}
	if run.Kind != "AnalysisRun" || run.APIVersion != "argoproj.io/v1alpha1" {
		t.Errorf("type %+v", run.TypeMeta)
	}
	var names []string
	for _, m := range run.Spec.Metrics {
		names = append(names, m.Name)
	}
	if !reflect.DeepEqual(names, []string{"success-rate", "latency"}) {
		t.Errorf("metrics %v", names)
	}
	wantArgs := []v1alpha1.Argument{{Name: "svc", Value: strp("guestbook")}, {Name: "url", Value: strp("http://default")}, {Name: "token", ValueFrom: secret}}
	if !reflect.DeepEqual(run.Spec.Args, wantArgs) {
		t.Errorf("args %+v", run.Spec.Args)
	}
	if !reflect.DeepEqual(run.Spec.DryRun, []v1alpha1.DryRun{{MetricName: "success-rate"}, {MetricName: "latency"}}) {
		t.Errorf("dryRun %+v", run.Spec.DryRun)
	}
	if !reflect.DeepEqual(run.Spec.MeasurementRetention, []v1alpha1.MeasurementRetention{{MetricName: "success-rate", Limit: 7}}) {
		t.Errorf("retention %+v", run.Spec.MeasurementRetention)
	}
	// The inputs are not shared with the run.
	run.Spec.Metrics[0].Name = "changed"
	if a.Spec.Metrics[0].Name != "success-rate" {
		t.Error("template modified through the run")
	}
}

func TestNewRunFromTemplatesErrors(t *testing.T) {
	tmpl := func(name string, metrics []string, args ...v1alpha1.Argument) Template {
		t := Template{Name: name, Spec: v1alpha1.AnalysisTemplateSpec{Args: args}}
		for _, m := range metrics {
			t.Spec.Metrics = append(t.Spec.Metrics, metric(m))
		}
		return t
	}
	tests := []struct {
		name      string
		templates []Template
		opts      RunOptions
		want      string
	}{
		{name: "none", want: "no analysis templates"},
		{name: "duplicate metric", templates: []Template{tmpl("a", []string{"m"}), tmpl("b", []string{"m"})},
			want: `two metrics have the same name "m": in AnalysisTemplate "a" and AnalysisTemplate "b"`},
		{name: "conflicting arg values", templates: []Template{tmpl("a", []string{"x"}, v1alpha1.Argument{Name: "p", Value: strp("1")}), tmpl("b", []string{"y"}, v1alpha1.Argument{Name: "p", Value: strp("2")})},
			want: `argument "p" has different values in AnalysisTemplate "a" and AnalysisTemplate "b"`},
		{name: "arg without value", templates: []Template{tmpl("a", []string{"x"}, v1alpha1.Argument{Name: "svc"})},
			want: `args.svc was not resolved`},
		{name: "no metrics", templates: []Template{tmpl("a", nil)}, want: "define no metrics"},
		{name: "dryRun of unknown metric", templates: []Template{tmpl("a", []string{"x"})}, opts: RunOptions{DryRun: []v1alpha1.DryRun{{MetricName: "y"}}},
			want: `dryRun names metric "y"`},
		{name: "retention of unknown metric", templates: []Template{tmpl("a", []string{"x"})}, opts: RunOptions{MeasurementRetention: []v1alpha1.MeasurementRetention{{MetricName: "y"}}},
			want: `measurementRetention names metric "y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRunFromTemplates(tt.templates, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	// The same arg with the same value in two templates is fine; a value fills a bare one.
	_, err := NewRunFromTemplates([]Template{
		tmpl("a", []string{"x"}, v1alpha1.Argument{Name: "p", Value: strp("1")}, v1alpha1.Argument{Name: "q"}),
		tmpl("b", []string{"y"}, v1alpha1.Argument{Name: "p", Value: strp("1")}, v1alpha1.Argument{Name: "q", Value: strp("2")}),
	}, RunOptions{})
	if err != nil {
		t.Errorf("compatible args: %v", err)
	}
}

func TestFlattenTemplates(t *testing.T) {
	specs := map[v1alpha1.AnalysisTemplateRef]*v1alpha1.AnalysisTemplateSpec{
		{TemplateName: "top"}:                        {Metrics: []v1alpha1.Metric{metric("t")}, Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "mid"}, {TemplateName: "shared", ClusterScope: true}}},
		{TemplateName: "mid"}:                        {Metrics: []v1alpha1.Metric{metric("m")}, Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "shared", ClusterScope: true}}},
		{TemplateName: "shared", ClusterScope: true}: {Metrics: []v1alpha1.Metric{metric("s")}},
		{TemplateName: "loop1"}:                      {Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "loop2"}}},
		{TemplateName: "loop2"}:                      {Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "loop1"}}},
	}
	lookup := func(ref v1alpha1.AnalysisTemplateRef) (*v1alpha1.AnalysisTemplateSpec, error) {
		if s, ok := specs[ref]; ok {
			return s, nil
		}
		return nil, errors.New("not found: " + ref.TemplateName)
	}
	got, err := FlattenTemplates([]v1alpha1.AnalysisTemplateRef{{TemplateName: "top"}}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, t := range got {
		names = append(names, t.Name)
	}
	if !reflect.DeepEqual(names, []string{"top", "mid", "shared"}) {
		t.Errorf("flattened %v", names)
	}
	if got[0].Spec.Templates != nil {
		t.Error("nested refs kept")
	}
	if _, err := FlattenTemplates([]v1alpha1.AnalysisTemplateRef{{TemplateName: "loop1"}}, lookup); err == nil || !strings.Contains(err.Error(), "references itself") {
		t.Errorf("loop: %v", err)
	}
	if _, err := FlattenTemplates([]v1alpha1.AnalysisTemplateRef{{TemplateName: "gone"}}, lookup); err == nil || !strings.Contains(err.Error(), "not found: gone") {
		t.Errorf("missing: %v", err)
	}
	run, err := NewRunFromTemplates(got, RunOptions{Name: "r"})
	if err != nil || len(run.Spec.Metrics) != 3 {
		t.Errorf("run from flattened templates: %v %v", run, err)
	}
}

func TestFieldValueAndRolloutArgs(t *testing.T) {
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "guestbook", Namespace: "ns", UID: "u1",
			Labels: map[string]string{"rev": "7", "app": "gb"}, Annotations: map[string]string{"team": "a"}},
	}
	ro.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "gb:v2"}}
	for path, want := range map[string]string{
		"metadata.name":                          "guestbook",
		"metadata.namespace":                     "ns",
		"metadata.uid":                           "u1",
		"metadata.labels['rev']":                 "7",
		`metadata.annotations["team"]`:           "a",
		"metadata.labels['none']":                "",
		"metadata.labels":                        "app=\"gb\"\nrev=\"7\"",
		"spec.template.spec.containers[0].image": "gb:v2",
	} {
		got, err := FieldValue(ro, path)
		if err != nil || got != want {
			t.Errorf("FieldValue(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
	for _, bad := range []string{"metadata.generateNameX", "spec.nothing.here"} {
		if _, err := FieldValue(ro, bad); err == nil {
			t.Errorf("FieldValue(%s): no error", bad)
		}
	}
	stable, latest := v1alpha1.Stable, v1alpha1.Latest
	args, err := ResolveRolloutArgs([]v1alpha1.AnalysisRunArgument{
		{Name: "svc", Value: "gb"},
		{Name: "stable", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: &stable}},
		{Name: "latest", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: &latest}},
		{Name: "rev", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "metadata.labels['rev']"}}},
	}, ro, "aaa", "bbb")
	if err != nil {
		t.Fatal(err)
	}
	got := ArgValues(args)
	if want := map[string]string{"svc": "gb", "stable": "aaa", "latest": "bbb", "rev": "7"}; !reflect.DeepEqual(got, want) {
		t.Errorf("args %v", got)
	}
}
