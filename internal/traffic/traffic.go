// Package traffic is the router-neutral language between the planner and the traffic
// routers: what the routers observed of a Rollout's traffic (Observed, carried by the
// snapshot) and what the planner wants of it (Desired, carried by one plan action). It
// has no client, so the pure planner can use it; the routers that read and write the
// cluster are in its subpackages (router: the interface; routers: the registry; one
// package per router, service being the first).
package traffic

import "github.com/tern-rollouts/tern/api/v1alpha1"

// Role is the part a Service plays in a Rollout's strategy.
type Role string

// The roles of the Services a strategy names.
const (
	RoleActive  Role = "active"
	RolePreview Role = "preview"
	RoleCanary  Role = "canary"
	RoleStable  Role = "stable"
	RolePing    Role = "ping"
	RolePong    Role = "pong"
)

// Selection is a Service of a Rollout and the version it selects.
type Selection struct {
	// Service is the Service's name, in the Rollout's namespace.
	Service string
	Role    Role
	// Hash is the pod-template-hash the Service selects; "" when it selects no version
	// of its own (it serves every pod its other labels match).
	Hash string
}

// Observed is what the routers found of one Rollout's traffic at one instant.
type Observed struct {
	// Services are the Services the strategy names that exist, by name; a named Service
	// absent from the map does not exist.
	Services map[string]Selection
	// Weight is the canary's share of traffic, in percent, as a weight router has it; nil
	// when no router routes by weight, and the pod counts are the weight.
	Weight *int32
	// Routes are the managed header and mirror routes in place; nil when no router
	// manages routes.
	Routes *Routes
	// Propagating says, one line per object, why the data plane may not yet route as the
	// routers' objects say (a Gateway API route whose status does not report its current
	// generation accepted by every parent gateway). Empty when every router's last write
	// is in effect, or when no router can tell. The planner neither shrinks nor switches
	// away from a version while this is not empty: the proxy may still send it traffic.
	Propagating []string
	// Problems say, one line each, why a router cannot route the Rollout's traffic as
	// its spec asks (the route it names is missing, or lacks a backend for the canary or
	// stable Service). The planner reports them and moves no traffic while there are any.
	Problems []string
}

// Hash is the pod-template-hash the named Service selects: "" when it selects no version,
// does not exist, or no name is given.
func (o Observed) Hash(service string) string {
	if service == "" {
		return ""
	}
	return o.Services[service].Hash
}

// Desired is what the planner asks the routers to make true. Each part is optional, so
// that one action changes one thing without restating the others (and without undoing
// an edit made since the snapshot to a part it does not decide).
type Desired struct {
	// Services are the Services to point at a version, in the order to write them; a
	// Service not listed keeps what it selects. The planner lists a Service only once the
	// version has available pods (design invariant 1): routers carry this out, they do
	// not judge it.
	Services []Selection
	// Weight, when not nil, is the canary's share of traffic in percent, for routers that
	// route by weight. The Service router ignores it: with no weight router, the pod
	// counts are the weight.
	Weight *int32
	// Routes, when not nil, is every managed route that should be in place; a managed
	// route not in it is removed.
	Routes *Routes
}

// Routes are the managed routes of a canary, in the order of spec.strategy.canary.
// trafficRouting.managedRoutes.
type Routes struct {
	// Header routes send requests that match them to the canary (setHeaderRoute steps).
	Header []HeaderRoute
	// Mirror routes copy requests that match them to the canary (setMirrorRoute steps).
	Mirror []MirrorRoute
}

// HeaderRoute sends the requests whose headers all match to the canary.
type HeaderRoute struct {
	Name  string
	Match []v1alpha1.HeaderRoutingMatch
}

// MirrorRoute copies Percentage percent of the requests that match any of Match to the
// canary, while the weighted route still answers them.
type MirrorRoute struct {
	Name       string
	Match      []v1alpha1.RouteMatch
	Percentage int32
}
