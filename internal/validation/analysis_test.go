package validation

import (
	"encoding/json"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// successRate is the success-rate metric of upstream's canary analysis example.
func successRate() v1alpha1.Metric {
	return v1alpha1.Metric{
		Name:             "success-rate",
		Interval:         "5m",
		Count:            ptr.To(intstr.FromInt32(3)),
		SuccessCondition: "result[0] >= 0.95",
		FailureLimit:     ptr.To(intstr.FromInt32(3)),
		Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
			Address: "http://prometheus.example.com:9090",
			Query:   `sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code!~"5.*"}[5m]))`,
		}},
	}
}

func metricWith(f func(*v1alpha1.Metric)) v1alpha1.Metric {
	m := successRate()
	f(&m)
	return m
}

func TestValidateMetrics(t *testing.T) {
	p := field.NewPath("spec", "metrics")
	cases := []struct {
		name    string
		metrics []v1alpha1.Metric
		want    []string
	}{
		{name: "upstream example", metrics: []v1alpha1.Metric{successRate()}},
		{
			name: "single measurement without count or interval",
			metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) {
				m.Count, m.Interval, m.FailureLimit = nil, "", nil
			})},
		},
		{
			name: "templated count and limits are checked later",
			metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) {
				m.Count = ptr.To(intstr.FromString("{{args.count}}"))
				m.FailureLimit = ptr.To(intstr.FromString("{{args.limit}}"))
				m.Interval = "{{args.interval}}"
			})},
		},
		{
			name: "failureLimit -1 disables the limit",
			metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) {
				m.FailureLimit = ptr.To(intstr.FromInt32(-1))
			})},
		},
		{
			name: "one plugin is one provider",
			metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) {
				m.Provider = v1alpha1.MetricProvider{Plugin: map[string]json.RawMessage{"argoproj-labs/sample": json.RawMessage(`{}`)}}
			})},
		},
		{
			name:    "duplicate and missing names",
			metrics: []v1alpha1.Metric{successRate(), successRate(), metricWith(func(m *v1alpha1.Metric) { m.Name = "" })},
			want: []string{
				"spec.metrics[1].name: Duplicate value",
				"spec.metrics[2].name: every metric needs a name",
			},
		},
		{
			name:    "no provider",
			metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) { m.Provider = v1alpha1.MetricProvider{} })},
			want:    []string{"spec.metrics[0].provider: no provider specified"},
		},
		{
			name: "two providers",
			metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) {
				m.Provider.Web = &v1alpha1.WebMetric{URL: "http://x"}
				m.Provider.Plugin = map[string]json.RawMessage{"b": nil, "a": nil}
			})},
			want: []string{"spec.metrics[0].provider: multiple providers specified"},
		},
		{
			name:    "count above 1 without interval",
			metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) { m.Interval = "" })},
			want:    []string{"spec.metrics[0].interval: interval must be specified when count > 1"},
		},
		{
			name: "count below the limits",
			metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) {
				m.Count = ptr.To(intstr.FromString("2"))
				m.InconclusiveLimit = ptr.To(intstr.FromInt32(5))
			})},
			want: []string{
				"spec.metrics[0].count: count must be >= failureLimit",
				"spec.metrics[0].count: count must be >= inconclusiveLimit",
			},
		},
		{
			name: "negative limits and count",
			metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) {
				m.Count = ptr.To(intstr.FromInt32(-1))
				m.FailureLimit = ptr.To(intstr.FromInt32(-2))
				m.InconclusiveLimit = ptr.To(intstr.FromInt32(-1))
				m.ConsecutiveErrorLimit = ptr.To(intstr.FromInt32(-1))
				m.ConsecutiveSuccessLimit = ptr.To(intstr.FromInt32(-1))
			})},
			want: []string{
				"spec.metrics[0].count: must be greater than or equal to 0",
				"spec.metrics[0].failureLimit: must be -1 (no limit) or greater",
				"spec.metrics[0].inconclusiveLimit: must be greater than or equal to 0",
				"spec.metrics[0].consecutiveErrorLimit: must be greater than or equal to 0",
				"spec.metrics[0].consecutiveSuccessLimit: must be greater than or equal to 0",
			},
		},
		{
			name: "count that is neither a number nor a placeholder",
			metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) {
				m.Count = ptr.To(intstr.FromString("three"))
			})},
			want: []string{"spec.metrics[0].count: " + IntOrArgMessage},
		},
		{
			name: "durations without unit or negative",
			metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) {
				m.Interval = "60"
				m.InitialDelay = "-1m"
			})},
			want: []string{
				"spec.metrics[0].interval: " + DurationUnitMessage,
				"spec.metrics[0].initialDelay: must be greater than or equal to 0",
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := got(ValidateMetrics(c.metrics, p))
			want := c.want
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(g, want) {
				t.Errorf("ValidateMetrics\n got:  %q\n want: %q", g, want)
			}
		})
	}
}

func TestMultipleProvidersNamesThemInOrder(t *testing.T) {
	m := metricWith(func(m *v1alpha1.Metric) {
		m.Provider.Job = &v1alpha1.JobMetric{}
		m.Provider.Plugin = map[string]json.RawMessage{"z/p": nil, "a/p": nil}
	})
	errs := ValidateMetrics([]v1alpha1.Metric{m}, field.NewPath("metrics"))
	if len(errs) != 1 || errs[0].BadValue != "prometheus, job, plugin a/p, plugin z/p" {
		t.Fatalf("errors = %v, want one naming prometheus, job, plugin a/p, plugin z/p", errs)
	}
}

func TestValidateAnalysisTemplateSpec(t *testing.T) {
	p := field.NewPath("spec")
	cases := []struct {
		name string
		spec v1alpha1.AnalysisTemplateSpec
		want []string
	}{
		{
			name: "metrics with args",
			spec: v1alpha1.AnalysisTemplateSpec{
				Metrics: []v1alpha1.Metric{successRate()},
				Args: []v1alpha1.Argument{
					{Name: "service-name"},
					{Name: "api-token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "token", Key: "t"}}},
				},
			},
		},
		{
			name: "only merges other templates",
			spec: v1alpha1.AnalysisTemplateSpec{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "base"}}},
		},
		{
			name: "nothing to measure",
			spec: v1alpha1.AnalysisTemplateSpec{},
			want: []string{"spec.metrics: no metrics specified"},
		},
		{
			name: "bad args and template refs",
			spec: v1alpha1.AnalysisTemplateSpec{
				Metrics: []v1alpha1.Metric{successRate()},
				Args: []v1alpha1.Argument{
					{Name: ""},
					{Name: "a", Value: ptr.To("x"), ValueFrom: &v1alpha1.ValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "metadata.name"}}},
					{Name: "a"},
					{Name: "s", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "n"}}},
					{Name: "t", ValueFrom: &v1alpha1.ValueFrom{}},
				},
				Templates: []v1alpha1.AnalysisTemplateRef{{}},
			},
			want: []string{
				"spec.args[0].name: every argument needs a name",
				"spec.args[1]: set value or valueFrom, not both",
				"spec.args[2].name: Duplicate value",
				"spec.args[3].valueFrom.secretKeyRef: secretKeyRef needs both name and key",
				"spec.args[4].valueFrom: set exactly one of secretKeyRef and fieldRef",
				"spec.templates[0].templateName: name the template to merge",
			},
		},
		{
			name: "metric errors carry the template path",
			spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{metricWith(func(m *v1alpha1.Metric) { m.Provider = v1alpha1.MetricProvider{} })}},
			want: []string{"spec.metrics[0].provider: no provider specified"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := got(ValidateAnalysisTemplateSpec(&c.spec, p))
			want := c.want
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(g, want) {
				t.Errorf("ValidateAnalysisTemplateSpec\n got:  %q\n want: %q", g, want)
			}
		})
	}
}

func TestValidateAnalysisRunSpec(t *testing.T) {
	p := field.NewPath("spec")
	ok := v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{successRate()}, Args: []v1alpha1.Argument{{Name: "service-name", Value: ptr.To("web")}}}
	if errs := ValidateAnalysisRunSpec(&ok, p); len(errs) != 0 {
		t.Errorf("valid run: %v", errs)
	}
	empty := v1alpha1.AnalysisRunSpec{}
	if g := got(ValidateAnalysisRunSpec(&empty, p)); !slices.Equal(g, []string{"spec.metrics: no metrics specified"}) {
		t.Errorf("empty run: %q", g)
	}
	dup := v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{successRate(), successRate()}}
	if g := got(ValidateAnalysisRunSpec(&dup, p)); !slices.Equal(g, []string{"spec.metrics[1].name: Duplicate value"}) {
		t.Errorf("duplicate metric names: %q", g)
	}
}
