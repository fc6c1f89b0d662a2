// Package providers takes the measurements an AnalysisRun asks for. Each metric source
// (prometheus, web, job) lives in its own sub-package behind the one Provider interface;
// New picks the provider a metric names. A source tern does not support yields Error
// measurements, never a silent success.
package providers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis/providers/job"
	"github.com/tern-rollouts/tern/internal/analysis/providers/prometheus"
	"github.com/tern-rollouts/tern/internal/analysis/providers/web"
)

// Provider measures one kind of metric. Every method returns a measurement rather than an
// error: a failure to measure is an Error measurement, which the engine counts against
// consecutiveErrorLimit.
type Provider interface {
	// Type names the provider for logs ("Prometheus", "Web", "Job").
	Type() string
	// Run takes a new measurement. Synchronous providers return it completed; a Job returns
	// it Running and is looked at again with Resume when the Job changes.
	Run(ctx context.Context, run *v1alpha1.AnalysisRun, metric v1alpha1.Metric) v1alpha1.Measurement
	// Resume looks again at a measurement still in flight.
	Resume(ctx context.Context, run *v1alpha1.AnalysisRun, metric v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement
	// Terminate stops a measurement still in flight because the run ends; Successful when
	// stopped cleanly.
	Terminate(ctx context.Context, run *v1alpha1.AnalysisRun, metric v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement
	// GarbageCollect deletes what measurements beyond the newest limit left behind.
	GarbageCollect(ctx context.Context, run *v1alpha1.AnalysisRun, metric v1alpha1.Metric, limit int) error
	// Metadata is stored on the metric's result with its first measurement.
	Metadata(metric v1alpha1.Metric) map[string]string
}

// Factory builds providers; Client is needed by the job provider only.
type Factory struct {
	Client client.Client
	// Now is the clock of measurements; time.Now when nil.
	Now func() time.Time
}

// New returns the provider of the metric's source.
func (f *Factory) New(metric v1alpha1.Metric) (Provider, error) {
	now := f.Now
	if now == nil {
		now = time.Now
	}
	p := &metric.Provider
	switch {
	case p.Prometheus != nil:
		return prometheus.New(now), nil
	case p.Web != nil:
		return web.New(now), nil
	case p.Job != nil:
		if f.Client == nil {
			return nil, errors.New("job metrics need a Kubernetes client")
		}
		return job.New(f.Client, now), nil
	}
	if name := Name(p); name != "" {
		return nil, fmt.Errorf("metric provider %q is not supported by tern (supported: prometheus, web, job)", name)
	}
	return nil, errors.New("metric has no provider")
}

// Name names the source a metric provider sets, "" when none.
func Name(p *v1alpha1.MetricProvider) string {
	switch {
	case p.Prometheus != nil:
		return "prometheus"
	case p.Web != nil:
		return "web"
	case p.Job != nil:
		return "job"
	case p.Kayenta != nil:
		return "kayenta"
	case p.Datadog != nil:
		return "datadog"
	case p.Wavefront != nil:
		return "wavefront"
	case p.NewRelic != nil:
		return "newRelic"
	case p.CloudWatch != nil:
		return "cloudWatch"
	case p.Graphite != nil:
		return "graphite"
	case p.Influxdb != nil:
		return "influxdb"
	case p.SkyWalking != nil:
		return "skywalking"
	}
	names := make([]string, 0, len(p.Plugin))
	for n := range p.Plugin {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 0 {
		return "plugin " + names[0]
	}
	return ""
}
