// Package service is the traffic router every Rollout has: it points the Services the
// strategy names (active and preview, canary and stable, ping and pong) at one version by
// their pod-template-hash selector. It routes no weight: without a weight router, the
// share of pods is the share of traffic.
package service

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/traffic"
	"github.com/tern-rollouts/tern/internal/traffic/router"
)

// Router switches Service selectors.
type Router struct{}

var _ router.Router = Router{}

// Name is "service".
func (Router) Name() string { return "service" }

// Applies to every Rollout: every strategy exposes its versions through the Services it
// names, and a Rollout that names none has nothing to observe or write.
func (Router) Applies(*v1alpha1.Rollout) bool { return true }

// Observe reads the Services ro's strategy names; one that does not exist is left out,
// for the planner to report.
func (Router) Observe(ctx context.Context, r client.Reader, ro *v1alpha1.Rollout, obs *traffic.Observed) error {
	for _, ref := range Refs(ro) {
		svc := &corev1.Service{}
		err := r.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: ref.Service}, svc)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return fmt.Errorf("reading service %s/%s: %w", ro.Namespace, ref.Service, err)
		}
		ref.Hash = svc.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]
		obs.Services[ref.Service] = ref
	}
	return nil
}

// Apply points each Service in want.Services at its version, in order, and marks it
// managed by ro; the rest of the selector stays. It stops at the first failure.
func (Router) Apply(ctx context.Context, c client.Client, ro *v1alpha1.Rollout, want traffic.Desired) ([]client.Object, error) {
	var written []client.Object
	for _, sel := range want.Services {
		var hash any = sel.Hash
		if sel.Hash == "" {
			// A merge patch's null removes the key: the Service serves every pod again.
			hash = nil
		}
		data, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{v1alpha1.ManagedByRolloutsKey: ro.Name}},
			"spec":     map[string]any{"selector": map[string]any{v1alpha1.DefaultRolloutUniqueLabelKey: hash}},
		})
		if err != nil {
			return written, err
		}
		svc := &corev1.Service{}
		svc.Namespace, svc.Name = ro.Namespace, sel.Service
		if err := c.Patch(ctx, svc, client.RawPatch(types.MergePatchType, data)); err != nil {
			return written, fmt.Errorf("patching %T %s/%s: %w", svc, ro.Namespace, sel.Service, err)
		}
		written = append(written, svc)
	}
	return written, nil
}

// Watches Services, so that a Service created late, or edited by hand, wakes the
// Rollouts that name it.
func (Router) Watches() []router.Watch {
	return []router.Watch{{Object: &corev1.Service{}, Refs: func(ro *v1alpha1.Rollout) []types.NamespacedName {
		var out []types.NamespacedName
		for _, ref := range Refs(ro) {
			out = append(out, types.NamespacedName{Namespace: ro.Namespace, Name: ref.Service})
		}
		return out
	}}}
}

// Rules: Services are read through the cache (get, list, watch) and only ever patched;
// Tern creates and deletes none.
func (Router) Rules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch", "patch"}}}
}

// Refs lists the Services ro's strategy names, with their roles, in the order the
// strategy names them; Hash is left empty.
func Refs(ro *v1alpha1.Rollout) []traffic.Selection {
	var refs []traffic.Selection
	add := func(name string, role traffic.Role) {
		if name != "" {
			refs = append(refs, traffic.Selection{Service: name, Role: role})
		}
	}
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		add(bg.ActiveService, traffic.RoleActive)
		add(bg.PreviewService, traffic.RolePreview)
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		add(c.CanaryService, traffic.RoleCanary)
		add(c.StableService, traffic.RoleStable)
		if c.PingPong != nil {
			add(c.PingPong.PingService, traffic.RolePing)
			add(c.PingPong.PongService, traffic.RolePong)
		}
	}
	return refs
}
