package providers

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis/metricsource"
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

// unsupported are the sources the API names that tern recognises (validates, shows) but
// does not implement; implementing one moves it to the registry.
var unsupported = []string{"kayenta", "datadog", "wavefront", "newRelic", "cloudWatch", "graphite", "influxdb", "skywalking", "plugin"}

// Every source is registered once, under a name metricsource knows.
func TestRegistryEntriesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range registry {
		if seen[r.Name] {
			t.Errorf("%s registered twice", r.Name)
		}
		seen[r.Name] = true
		if _, ok := metricsource.Lookup(r.Name); !ok {
			t.Errorf("%s is registered but metricsource does not list it", r.Name)
		}
		if r.New == nil {
			t.Errorf("%s has no constructor", r.Name)
		}
		if slices.Contains(unsupported, r.Name) {
			t.Errorf("%s is registered and listed as unsupported", r.Name)
		}
	}
	for _, name := range []string{"prometheus", "web", "job"} {
		if !seen[name] {
			t.Errorf("%s is not registered", name)
		}
	}
}

// Every field of MetricProvider is a source that is either registered or explicitly
// recognised but unsupported: a new API field fails here until it is one or the other.
func TestEveryAPIProviderIsRegisteredOrUnsupported(t *testing.T) {
	typ := reflect.TypeFor[v1alpha1.MetricProvider]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		src, ok := metricsource.Lookup(name)
		if !ok || src.Field != f.Name {
			t.Errorf("MetricProvider.%s (%q) has no metricsource entry", f.Name, name)
			continue
		}
		if reg, unsup := registered(name) != nil, slices.Contains(unsupported, name); reg == unsup {
			t.Errorf("%s: registered %v, listed as unsupported %v: it must be exactly one", name, reg, unsup)
		}
	}
	if got := len(registry) + len(unsupported); got != typ.NumField() {
		t.Errorf("%d registered + unsupported, %d API fields", got, typ.NumField())
	}
}

// A source tern does not implement is an Error measurement with the same words as ever.
func TestUnsupportedMessage(t *testing.T) {
	_, err := (&Factory{}).New(v1alpha1.Metric{Provider: v1alpha1.MetricProvider{NewRelic: &v1alpha1.NewRelicMetric{}}})
	if want := `metric provider "newRelic" is not supported by tern (supported: prometheus, web, job)`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	_, err = (&Factory{}).New(v1alpha1.Metric{Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{}}})
	if want := "job metrics need a Kubernetes client"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if !LeavesObjects(v1alpha1.Metric{Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{}}}) ||
		LeavesObjects(v1alpha1.Metric{Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}}) ||
		LeavesObjects(v1alpha1.Metric{Provider: v1alpha1.MetricProvider{Datadog: &v1alpha1.DatadogMetric{}}}) {
		t.Error("only job metrics leave objects behind")
	}
}

type fixedMeasurer struct{}

func (fixedMeasurer) Type() string { return "Fixed" }
func (fixedMeasurer) Run(context.Context, *v1alpha1.AnalysisRun, v1alpha1.Metric) v1alpha1.Measurement {
	return v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseSuccessful}
}
func (fixedMeasurer) Metadata(v1alpha1.Metric) map[string]string { return nil }

// A synchronous provider has nothing in flight: Resume and Terminate hand the measurement
// back as it is, and there is nothing to collect.
func TestSynchronous(t *testing.T) {
	p := Synchronous(fixedMeasurer{})
	m := v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseRunning, Value: "x"}
	ctx := context.Background()
	if got := p.Resume(ctx, nil, v1alpha1.Metric{}, m); !reflect.DeepEqual(got, m) {
		t.Errorf("Resume changed %+v into %+v", m, got)
	}
	if got := p.Terminate(ctx, nil, v1alpha1.Metric{}, m); !reflect.DeepEqual(got, m) {
		t.Errorf("Terminate changed %+v into %+v", m, got)
	}
	if err := p.GarbageCollect(ctx, nil, v1alpha1.Metric{}, 1); err != nil {
		t.Error(err)
	}
	if p.Type() != "Fixed" || p.Run(ctx, nil, v1alpha1.Metric{}).Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Error("the measurer is not used")
	}
}
