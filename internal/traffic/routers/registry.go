package routers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/traffic"
	"github.com/tern-rollouts/tern/internal/traffic/router"
)

// For lists the routers that route ro's traffic, in registry order.
func For(ro *v1alpha1.Rollout) []router.Router {
	var out []router.Router
	for _, r := range All {
		if r.Applies(ro) {
			out = append(out, r)
		}
	}
	return out
}

// Observe reads ro's traffic as every router that applies to it has it.
func Observe(ctx context.Context, r client.Reader, ro *v1alpha1.Rollout) (traffic.Observed, error) {
	obs := traffic.Observed{Services: map[string]traffic.Selection{}}
	for _, rt := range For(ro) {
		if err := rt.Observe(ctx, r, ro, &obs); err != nil {
			return obs, err
		}
	}
	return obs, nil
}

// Apply hands want to every router that applies to ro, in registry order, and returns
// the objects they wrote; it stops at the first failure.
func Apply(ctx context.Context, c client.Client, ro *v1alpha1.Rollout, want traffic.Desired) ([]client.Object, error) {
	var written []client.Object
	for _, rt := range For(ro) {
		w, err := rt.Apply(ctx, c, ro, want)
		written = append(written, w...)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
