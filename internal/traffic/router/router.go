// Package router says what a traffic router is to the controller: something that reads
// its part of a Rollout's traffic from the cache, writes the part the planner decides,
// and names the objects to watch and the permissions it needs. Routers implement Router
// in a package of their own and are listed once, in internal/traffic/routers.
package router

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/traffic"
)

// Router routes a Rollout's traffic between its versions through one kind of object
// (Services, an Ingress, an HTTPRoute, a VirtualService, ...).
type Router interface {
	// Name identifies the router in errors and cache index names; unique in the registry.
	Name() string
	// Applies reports whether the router routes ro's traffic (say, ro's trafficRouting
	// names it). Only the routers that apply observe and apply for ro.
	Applies(ro *v1alpha1.Rollout) bool
	// Observe reads the router's part of ro's current traffic from r (the informer cache)
	// into obs, whose maps are made. It never writes to the cluster.
	Observe(ctx context.Context, r client.Reader, ro *v1alpha1.Rollout, obs *traffic.Observed) error
	// Apply makes the router's part of want true, ignoring the parts it does not route,
	// each write idempotent. It returns the objects it wrote, as the API server returned
	// them (also those written before an error): the controller waits for its cache to
	// show them before it plans again, so that a stale read cannot undo them.
	Apply(ctx context.Context, c client.Client, ro *v1alpha1.Rollout, want traffic.Desired) ([]client.Object, error)
	// Watches are the kinds of object whose changes must wake the Rollouts that refer to
	// them.
	Watches() []Watch
	// Rules are the permissions Observe, Apply and the watches need. config/rbac must
	// grant them; a test of the registry checks that it does.
	Rules() []rbacv1.PolicyRule
}

// Watch is one kind of object a router reads, and how to find the Rollouts that a change
// to one of them concerns.
type Watch struct {
	// Object is an empty object of the kind to watch.
	Object client.Object
	// Refs lists the objects of that kind that ro refers to. The controller indexes
	// Rollouts by these and wakes those that list a changed object. It must be pure: it
	// runs in the cache's indexer.
	Refs func(ro *v1alpha1.Rollout) []types.NamespacedName
	// Optional marks a kind defined by a CRD that a cluster may not have (Gateway API,
	// Istio, SMI, Traefik): the controller watches it only when the API server serves it,
	// so that a cluster without the mesh still runs every other Rollout.
	Optional bool
}
