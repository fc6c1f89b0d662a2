package providers

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func TestNew(t *testing.T) {
	f := &Factory{}
	for _, tt := range []struct {
		provider v1alpha1.MetricProvider
		typ      string
		err      string
	}{
		{provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{}}, typ: "Prometheus"},
		{provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}, typ: "Web"},
		{provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{}}, err: "need a Kubernetes client"},
		{provider: v1alpha1.MetricProvider{Datadog: &v1alpha1.DatadogMetric{}}, err: `"datadog" is not supported`},
		{provider: v1alpha1.MetricProvider{Plugin: map[string]json.RawMessage{"argoproj-labs/x": nil}}, err: `"plugin argoproj-labs/x" is not supported`},
		{err: "no provider"},
	} {
		p, err := f.New(v1alpha1.Metric{Name: "m", Provider: tt.provider})
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%+v: error %v, want %q", tt.provider, err, tt.err)
			}
		case err != nil || p.Type() != tt.typ:
			t.Errorf("%+v: %v %v", tt.provider, p, err)
		}
	}
}
