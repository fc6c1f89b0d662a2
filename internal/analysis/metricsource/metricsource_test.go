package metricsource

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// setField returns a provider with only the named field set.
func setField(t *testing.T, name string) *v1alpha1.MetricProvider {
	t.Helper()
	p := &v1alpha1.MetricProvider{}
	f := reflect.ValueOf(p).Elem().FieldByName(name)
	switch f.Kind() {
	case reflect.Pointer:
		f.Set(reflect.New(f.Type().Elem()))
	case reflect.Map:
		f.Set(reflect.MakeMap(f.Type()))
		f.SetMapIndex(reflect.ValueOf("argoproj-labs/x"), reflect.ValueOf(json.RawMessage(nil)))
	default:
		t.Fatalf("MetricProvider.%s is a %s: teach the test how to set it", name, f.Kind())
	}
	return p
}

// Every field of MetricProvider is one source, named as its JSON key, in field order, and
// setting the field sets that source alone. A new API field without an entry fails here.
func TestEveryAPIFieldIsOneSource(t *testing.T) {
	typ := reflect.TypeFor[v1alpha1.MetricProvider]()
	if typ.NumField() != len(sources) {
		t.Errorf("MetricProvider has %d fields, the list %d sources", typ.NumField(), len(sources))
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if i >= len(sources) || sources[i].Field != f.Name || sources[i].Name != jsonName {
			t.Errorf("field %d %s (json %q) has no source at its place", i, f.Name, jsonName)
			continue
		}
		p := setField(t, f.Name)
		for _, s := range sources {
			if got, want := s.Set(p), s.Field == f.Name; got != want {
				t.Errorf("%s set: source %s says %v", f.Name, s.Name, got)
			}
		}
		if got := Names(p); len(got) != 1 {
			t.Errorf("%s: names %v", f.Name, got)
		}
		if s, ok := Lookup(jsonName); !ok || s.Field != f.Name {
			t.Errorf("Lookup(%q) = %+v %v", jsonName, s, ok)
		}
	}
}

func TestNames(t *testing.T) {
	p := &v1alpha1.MetricProvider{
		Job: &v1alpha1.JobMetric{}, Prometheus: &v1alpha1.PrometheusMetric{}, Web: &v1alpha1.WebMetric{},
		Plugin: map[string]json.RawMessage{"b/y": nil, "a/x": nil},
	}
	if got, want := strings.Join(Names(p), ", "), "prometheus, web, job, plugin a/x, plugin b/y"; got != want {
		t.Errorf("Names = %q, want %q", got, want)
	}
	if got := Name(p); got != "prometheus" {
		t.Errorf("Name = %q", got)
	}
	if got := Name(&v1alpha1.MetricProvider{Plugin: map[string]json.RawMessage{"b/y": nil, "a/x": nil}}); got != "plugin a/x" {
		t.Errorf("Name of plugins = %q", got)
	}
	if got := Name(&v1alpha1.MetricProvider{}); got != "" {
		t.Errorf("Name of nothing = %q", got)
	}
}

func TestMeasurementTimeout(t *testing.T) {
	secs := func(n int64) *int64 { return &n }
	for _, tt := range []struct {
		p    v1alpha1.MetricProvider
		want time.Duration
	}{
		{v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{}}, 35 * time.Second},
		{v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Timeout: secs(0)}}, 35 * time.Second},
		{v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Timeout: secs(-1)}}, 35 * time.Second},
		{v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Timeout: secs(3)}}, 8 * time.Second},
		{v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}, 15 * time.Second},
		{v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{TimeoutSeconds: 1}}, 6 * time.Second},
		{v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{}}, 30 * time.Second},
		{v1alpha1.MetricProvider{Datadog: &v1alpha1.DatadogMetric{}}, 30 * time.Second},
		{v1alpha1.MetricProvider{}, 30 * time.Second},
	} {
		if got := MeasurementTimeout(&tt.p); got != tt.want {
			t.Errorf("%+v: %v, want %v", tt.p, got, tt.want)
		}
	}
}
