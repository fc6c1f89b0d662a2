//go:build tools

// Package tools pins the code generators used by `make manifests` in a module of their own,
// so that their dependencies never move the versions the controller is built with.
package tools

import _ "sigs.k8s.io/controller-tools/cmd/controller-gen"
