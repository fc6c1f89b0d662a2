// Package providers takes the measurements an AnalysisRun asks for. Each metric source
// lives in its own sub-package behind the one Provider interface; the registry
// (registry.go) maps the sources tern implements to their constructors, and New picks the
// provider a metric names. A source the API names but tern does not implement yields
// Error measurements, never a silent success.
//
// # Adding a provider
//
// Write one package under providers/ whose constructor takes Deps (the Kubernetes client,
// the clock, a Secret reader for API keys) and returns a Provider. A source whose
// measurements complete in the call that takes them implements Measurer only and is
// wrapped in Synchronous, which supplies the rest of the lifecycle. Then add one line to
// registry: its name, as internal/analysis/metricsource lists it, and its constructor.
// The metricsource entry (validation, display, timeout) exists for every source the API
// names; give it a Validate or CallTimeout there when the source has settings of its own.
package providers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis/metricsource"
)

// Provider measures one kind of metric. Every method returns a measurement rather than an
// error: a failure to measure is an Error measurement, which the engine counts against
// consecutiveErrorLimit.
type Provider interface {
	Measurer
	// Resume looks again at a measurement still in flight.
	Resume(ctx context.Context, run *v1alpha1.AnalysisRun, metric v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement
	// Terminate stops a measurement still in flight because the run ends; Successful when
	// stopped cleanly.
	Terminate(ctx context.Context, run *v1alpha1.AnalysisRun, metric v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement
	// GarbageCollect deletes what measurements beyond the newest limit left behind.
	GarbageCollect(ctx context.Context, run *v1alpha1.AnalysisRun, metric v1alpha1.Metric, limit int) error
}

// Measurer takes measurements. On its own it is a synchronous provider: see Synchronous.
type Measurer interface {
	// Type names the provider for logs ("Prometheus", "Web", "Job").
	Type() string
	// Run takes a new measurement. Synchronous providers return it completed; a Job returns
	// it Running and is looked at again with Resume when the Job changes.
	Run(ctx context.Context, run *v1alpha1.AnalysisRun, metric v1alpha1.Metric) v1alpha1.Measurement
	// Metadata is stored on the metric's result with its first measurement.
	Metadata(metric v1alpha1.Metric) map[string]string
}

// Synchronous makes a Provider of a source whose measurements complete in Run: nothing is
// ever in flight to resume or terminate, and nothing is left behind to collect.
func Synchronous(m Measurer) Provider { return synchronous{m} }

type synchronous struct{ Measurer }

func (synchronous) Resume(_ context.Context, _ *v1alpha1.AnalysisRun, _ v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement {
	return m
}

func (synchronous) Terminate(_ context.Context, _ *v1alpha1.AnalysisRun, _ v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement {
	return m
}

func (synchronous) GarbageCollect(context.Context, *v1alpha1.AnalysisRun, v1alpha1.Metric, int) error {
	return nil
}

// SecretReader reads the Secrets providers take their API keys from.
type SecretReader interface {
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
}

// ReaderSecrets reads Secrets through a client.Reader; give it the manager's API reader,
// so that the cache never lists and watches every Secret of the cluster.
type ReaderSecrets struct{ client.Reader }

// Secret reads one Secret.
func (r ReaderSecrets) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, s); err != nil {
		return nil, err
	}
	return s, nil
}

// Deps is what constructors may use.
type Deps struct {
	// Client reads and writes Kubernetes objects (the job provider's Jobs).
	Client client.Client
	// Clock is the clock of measurements; the real clock when nil.
	Clock clock.PassiveClock
	// Secrets reads the Secrets providers take their API keys from.
	Secrets SecretReader
}

// Now reads the clock.
func (d Deps) Now() time.Time {
	if d.Clock == nil {
		return time.Now()
	}
	return d.Clock.Now()
}

// Factory builds providers from the registry over its Deps.
type Factory struct {
	Deps
}

// New returns the provider of the metric's source.
func (f *Factory) New(metric v1alpha1.Metric) (Provider, error) {
	p := &metric.Provider
	for _, r := range registry {
		src, _ := metricsource.Lookup(r.Name)
		if !src.Set(p) {
			continue
		}
		if r.NeedsClient && f.Client == nil {
			return nil, fmt.Errorf("%s metrics need a Kubernetes client", r.Name)
		}
		if r.NeedsSecrets && f.Secrets == nil {
			return nil, fmt.Errorf("%s metrics need a Secret reader", r.Name)
		}
		return r.New(f.Deps), nil
	}
	if name := metricsource.Name(p); name != "" {
		return nil, fmt.Errorf("metric provider %q is not supported by tern (supported: %s)", name, strings.Join(Supported(), ", "))
	}
	return nil, errors.New("metric has no provider")
}

// LeavesObjects reports whether the metric's measurements leave objects behind for
// GarbageCollect to delete once they are trimmed.
func LeavesObjects(metric v1alpha1.Metric) bool {
	for _, r := range registry {
		if src, _ := metricsource.Lookup(r.Name); src.Set(&metric.Provider) {
			return r.LeavesObjects
		}
	}
	return false
}

// Supported names the sources tern implements, in the order of the API's fields.
func Supported() []string {
	var out []string
	for _, s := range metricsource.All() {
		if registered(s.Name) != nil {
			out = append(out, s.Name)
		}
	}
	return out
}

func registered(name string) *Registration {
	for i := range registry {
		if registry[i].Name == name {
			return &registry[i]
		}
	}
	return nil
}
