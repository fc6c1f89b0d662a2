//go:build tools

// Package helm pins the helm CLI used by `make helm` (chart tests and rendering) in a module of
// its own: helm brings its own k8s.io/* versions, which must never move the controller's.
package helm

import _ "helm.sh/helm/v3/cmd/helm"
