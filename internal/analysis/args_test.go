package analysis

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func TestResolveMetric(t *testing.T) {
	base := v1alpha1.Metric{
		Name:             "m",
		SuccessCondition: "result[0] >= {{args.min}}",
		Count:            sos("{{args.count}}"),
		Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
			Address: "http://{{ args.host }}:9090",
			Query:   `sum(rate(x{app="{{args.app}}"}[1m])) {{ .Go }}`,
		}},
	}
	values := map[string]string{"min": "0.95", "count": "3", "host": "127.0.0.1", "app": `we"ird\app` + "\n"}
	got, err := ResolveMetric(base, values)
	if err != nil {
		t.Fatal(err)
	}
	p := got.Provider.Prometheus
	if got.SuccessCondition != "result[0] >= 0.95" || got.Count.IntValue() != 3 || p.Address != "http://127.0.0.1:9090" {
		t.Errorf("resolved %+v %+v", got, p)
	}
	if want := `sum(rate(x{app="we"ird\app` + "\n" + `"}[1m])) {{ .Go }}`; p.Query != want {
		t.Errorf("query %q, want %q (value inserted verbatim, other templates kept)", p.Query, want)
	}
	if base.Provider.Prometheus.Address != "http://{{ args.host }}:9090" {
		t.Error("input metric modified")
	}

	if _, err := ResolveMetric(base, map[string]string{"min": "1"}); err == nil || !strings.Contains(err.Error(), "failed to resolve {{args.count}}") {
		t.Errorf("missing arg: %v", err)
	}

	// A value cannot inject JSON fields into the metric.
	inj := v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "{{args.u}}"}}}
	got, err = ResolveMetric(inj, map[string]string{"u": `x","method":"PUT`})
	if err != nil {
		t.Fatal(err)
	}
	if got.Provider.Web.Method != "" || got.Provider.Web.URL != `x","method":"PUT` {
		t.Errorf("injection: %+v", got.Provider.Web)
	}

	// jsonBody placeholders stay valid JSON.
	body := v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "u",
		JSONBody: json.RawMessage(`{"service":"{{args.svc}}","n":1}`)}}}
	got, err = ResolveMetric(body, map[string]string{"svc": `a"b`})
	if err != nil {
		t.Fatal(err)
	}
	var decoded map[string]any
	if err := json.Unmarshal(got.Provider.Web.JSONBody, &decoded); err != nil || decoded["service"] != `a"b` {
		t.Errorf("jsonBody %s: %v %v", got.Provider.Web.JSONBody, decoded, err)
	}
}

func TestSubstituteEdges(t *testing.T) {
	vals := map[string]string{"a": "1"}
	for in, want := range map[string]string{
		"":                  "",
		"plain":             "plain",
		"{{args.a}}":        "1",
		"x{{args.a}}y{{a}}": "x1y{{a}}",
		"{{args.a":          "{{args.a",
		"}}{{ args.a }}{{":  "}}1{{",
		"{{{args.a}}}":      "{{{args.a}}}",
	} {
		got, err := ResolveString(in, vals)
		if err != nil || got != want {
			t.Errorf("ResolveString(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestArgValues(t *testing.T) {
	v := "x"
	got := ArgValues([]v1alpha1.Argument{{Name: "a", Value: &v}, {Name: "b", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "s", Key: "k"}}}, {Name: "c"}})
	if len(got) != 1 || got["a"] != "x" {
		t.Errorf("%v", got)
	}
}
