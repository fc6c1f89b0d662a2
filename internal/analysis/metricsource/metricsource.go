// Package metricsource is the pure half of the metric provider registry: the one list of
// the metric sources the argoproj.io/v1alpha1 API names (MetricProvider's fields), with
// what can be known of each without talking to anything: whether a metric sets it, how it
// is shown, its own checks and how long one of its measurements may take. Validation, the
// plugin's display and the controller read it here; internal/analysis/providers adds the
// constructors of the sources tern implements. It imports no client code, so that the
// pure planner (internal/plan → validation) can use it.
package metricsource

import (
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Source is one metric source of the API.
type Source struct {
	// Name is the source's key in a metric's provider, as the API spells it.
	Name string
	// Field is the Go field of v1alpha1.MetricProvider that sets it.
	Field string
	// Set reports whether a metric's provider sets this source.
	Set func(p *v1alpha1.MetricProvider) bool
	// Shown names the source as `get analysisrun` shows it, once per instance set (each
	// plugin is one); nil shows Name.
	Shown func(p *v1alpha1.MetricProvider) []string
	// Validate checks the source's own settings; nil when only the shared metric checks
	// apply.
	Validate func(p *v1alpha1.MetricProvider, fldPath *field.Path) field.ErrorList
	// CallTimeout is how long one call to the source may take by its own settings; nil
	// when it has none, and MeasurementTimeout applies DefaultMeasurementTimeout.
	CallTimeout func(p *v1alpha1.MetricProvider) time.Duration
}

// names returns how a provider that sets s is shown.
func (s *Source) names(p *v1alpha1.MetricProvider) []string {
	if s.Shown != nil {
		return s.Shown(p)
	}
	return []string{s.Name}
}

const (
	// PrometheusDefaultTimeout bounds one query unless the metric sets timeout (seconds).
	PrometheusDefaultTimeout = 30 * time.Second
	// WebDefaultTimeout bounds one call unless the metric sets timeoutSeconds.
	WebDefaultTimeout = 10 * time.Second
	// DefaultMeasurementTimeout bounds one provider call of a source without a timeout
	// of its own.
	DefaultMeasurementTimeout = 30 * time.Second
	// timeoutMargin is added to a source's own timeout, so that a provider that ignores
	// its timeout still cannot hold a worker forever.
	timeoutMargin = 5 * time.Second
)

// sources is the one list, in the order of MetricProvider's fields: the order in which
// messages name the sources of a metric that sets several.
var sources = []Source{
	{Name: "prometheus", Field: "Prometheus", Set: func(p *v1alpha1.MetricProvider) bool { return p.Prometheus != nil },
		CallTimeout: func(p *v1alpha1.MetricProvider) time.Duration { return PrometheusTimeout(p.Prometheus) }},
	{Name: "kayenta", Field: "Kayenta", Set: func(p *v1alpha1.MetricProvider) bool { return p.Kayenta != nil }},
	{Name: "web", Field: "Web", Set: func(p *v1alpha1.MetricProvider) bool { return p.Web != nil },
		CallTimeout: func(p *v1alpha1.MetricProvider) time.Duration { return WebTimeout(p.Web) }},
	{Name: "datadog", Field: "Datadog", Set: func(p *v1alpha1.MetricProvider) bool { return p.Datadog != nil }},
	{Name: "wavefront", Field: "Wavefront", Set: func(p *v1alpha1.MetricProvider) bool { return p.Wavefront != nil }},
	{Name: "newRelic", Field: "NewRelic", Set: func(p *v1alpha1.MetricProvider) bool { return p.NewRelic != nil }},
	{Name: "job", Field: "Job", Set: func(p *v1alpha1.MetricProvider) bool { return p.Job != nil }},
	{Name: "cloudWatch", Field: "CloudWatch", Set: func(p *v1alpha1.MetricProvider) bool { return p.CloudWatch != nil }},
	{Name: "graphite", Field: "Graphite", Set: func(p *v1alpha1.MetricProvider) bool { return p.Graphite != nil }},
	{Name: "influxdb", Field: "Influxdb", Set: func(p *v1alpha1.MetricProvider) bool { return p.Influxdb != nil }},
	{Name: "skywalking", Field: "SkyWalking", Set: func(p *v1alpha1.MetricProvider) bool { return p.SkyWalking != nil }},
	{Name: "plugin", Field: "Plugin", Set: func(p *v1alpha1.MetricProvider) bool { return len(p.Plugin) > 0 }, Shown: pluginNames},
}

// pluginNames shows each plugin as "plugin <name>", sorted: plugins come from a map, and
// messages must be stable.
func pluginNames(p *v1alpha1.MetricProvider) []string {
	out := make([]string, 0, len(p.Plugin))
	for name := range p.Plugin {
		out = append(out, "plugin "+name)
	}
	sort.Strings(out)
	return out
}

// All returns every source, in the order of MetricProvider's fields.
func All() []Source { return append([]Source(nil), sources...) }

// Lookup returns the source named name.
func Lookup(name string) (Source, bool) {
	for _, s := range sources {
		if s.Name == name {
			return s, true
		}
	}
	return Source{}, false
}

// Of returns the first source a metric's provider sets, in field order.
func Of(p *v1alpha1.MetricProvider) (Source, bool) {
	for _, s := range sources {
		if s.Set(p) {
			return s, true
		}
	}
	return Source{}, false
}

// Names shows every source a metric's provider sets, in field order; a metric sets
// exactly one when valid, and every plugin counts as one, as upstream allows exactly one
// plugin per metric.
func Names(p *v1alpha1.MetricProvider) []string {
	var out []string
	for i := range sources {
		if sources[i].Set(p) {
			out = append(out, sources[i].names(p)...)
		}
	}
	return out
}

// Name shows the first source a metric's provider sets, "" when none.
func Name(p *v1alpha1.MetricProvider) string {
	if names := Names(p); len(names) > 0 {
		return names[0]
	}
	return ""
}

// Validate runs the own checks of every source a metric's provider sets.
func Validate(p *v1alpha1.MetricProvider, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range sources {
		if s := &sources[i]; s.Validate != nil && s.Set(p) {
			errs = append(errs, s.Validate(p, fldPath)...)
		}
	}
	return errs
}

// MeasurementTimeout bounds one provider call for a metric: the source's own timeout plus
// a margin, or DefaultMeasurementTimeout for a source without one.
func MeasurementTimeout(p *v1alpha1.MetricProvider) time.Duration {
	if s, ok := Of(p); ok && s.CallTimeout != nil {
		return s.CallTimeout(p) + timeoutMargin
	}
	return DefaultMeasurementTimeout
}

// PrometheusTimeout is how long one query may take: the metric's timeout (seconds) when
// positive, else PrometheusDefaultTimeout.
func PrometheusTimeout(pm *v1alpha1.PrometheusMetric) time.Duration {
	if pm.Timeout != nil && *pm.Timeout > 0 {
		return time.Duration(*pm.Timeout) * time.Second
	}
	return PrometheusDefaultTimeout
}

// WebTimeout is how long one call may take: the metric's timeoutSeconds when positive,
// else WebDefaultTimeout.
func WebTimeout(w *v1alpha1.WebMetric) time.Duration {
	if w.TimeoutSeconds > 0 {
		return time.Duration(w.TimeoutSeconds) * time.Second
	}
	return WebDefaultTimeout
}
