package providers

import (
	"github.com/tern-rollouts/tern/internal/analysis/providers/job"
	"github.com/tern-rollouts/tern/internal/analysis/providers/prometheus"
	"github.com/tern-rollouts/tern/internal/analysis/providers/web"
)

// Registration is one implemented metric source.
type Registration struct {
	// Name is the source's metricsource name (its key in the API).
	Name string
	// New builds the provider.
	New func(Deps) Provider
	// NeedsClient and NeedsSecrets say which Deps New cannot do without; New is not called
	// without them, and the metric's measurement is an Error saying so.
	NeedsClient, NeedsSecrets bool
	// LeavesObjects says that measurements leave objects behind (Jobs) that
	// GarbageCollect deletes once they are trimmed.
	LeavesObjects bool
}

// registry is every source tern implements: one line each. The sources of the API missing
// here are recognised (validated, shown) but yield Error measurements.
var registry = []Registration{
	{Name: "prometheus", New: func(d Deps) Provider { return Synchronous(prometheus.New(d.Now)) }},
	{Name: "web", New: func(d Deps) Provider { return Synchronous(web.New(d.Now)) }},
	{Name: "job", New: func(d Deps) Provider { return job.New(d.Client, d.Now) }, NeedsClient: true, LeavesObjects: true},
}
