// Package routers is the registry of traffic routers: the one list that the snapshot
// (observe), the executor (apply) and the controller (watches) take their routers from.
// Adding a router is a package of its own under internal/traffic plus one line here.
package routers

import (
	"github.com/tern-rollouts/tern/internal/traffic/router"
	"github.com/tern-rollouts/tern/internal/traffic/service"
)

// All are the traffic routers, in the order they observe and apply.
var All = []router.Router{
	service.Router{},
}
