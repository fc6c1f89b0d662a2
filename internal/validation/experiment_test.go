package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func experiment() *v1alpha1.Experiment {
	tmpl := func(name string) v1alpha1.TemplateSpec {
		return v1alpha1.TemplateSpec{
			Name:     name,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
			},
		}
	}
	return &v1alpha1.Experiment{Spec: v1alpha1.ExperimentSpec{
		Duration:  "5m",
		Templates: []v1alpha1.TemplateSpec{tmpl("baseline"), tmpl("canary")},
		Analyses:  []v1alpha1.ExperimentAnalysisTemplateRef{{Name: "rate", TemplateName: "rate"}},
	}}
}

func TestValidateExperiment(t *testing.T) {
	if errs := ValidateExperiment(experiment()); len(errs) != 0 {
		t.Fatalf("valid experiment: %v", errs)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*v1alpha1.Experiment)
		want   []string
	}{
		{"no templates", func(e *v1alpha1.Experiment) { e.Spec.Templates = nil },
			[]string{"spec.templates: Required value: an experiment needs at least one template"}},
		{"duplicate template", func(e *v1alpha1.Experiment) { e.Spec.Templates[1].Name = "baseline" },
			[]string{`spec.templates[1].name: Duplicate value: "baseline"`}},
		{"selector mismatch", func(e *v1alpha1.Experiment) { e.Spec.Templates[0].Selector.MatchLabels["app"] = "other" },
			[]string{"spec.templates[0].template.metadata.labels: Invalid value: {\"app\":\"baseline\"}: `selector` does not match template `labels`"}},
		{"no selector", func(e *v1alpha1.Experiment) { e.Spec.Templates[0].Selector = nil },
			[]string{"spec.templates[0].selector: Required value: a template needs a selector matching its pod labels"}},
		{"negative replicas", func(e *v1alpha1.Experiment) { e.Spec.Templates[0].Replicas = ptr.To[int32](-1) },
			[]string{"spec.templates[0].replicas: Invalid value: -1: must be greater than or equal to 0"}},
		{"bad duration", func(e *v1alpha1.Experiment) { e.Spec.Duration = "5" },
			[]string{`spec.duration: Invalid value: "5": must be a duration with a unit such as "30s", "5m" or "1h"`}},
		{"analysis without template", func(e *v1alpha1.Experiment) { e.Spec.Analyses[0].TemplateName = "" },
			[]string{"spec.analyses[0].templateName: Required value: name the AnalysisTemplate (or, with clusterScope, ClusterAnalysisTemplate) to run"}},
	} {
		e := experiment()
		tc.mutate(e)
		var got []string
		for _, err := range ValidateExperiment(e) {
			got = append(got, err.Error())
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
