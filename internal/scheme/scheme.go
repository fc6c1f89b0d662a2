// Package scheme builds the runtime.Scheme of every Tern client (the controller, the
// kubectl plugin, tests): the built-in Kubernetes kinds and the argoproj.io/v1alpha1 kinds,
// so that no two clients can disagree on which kinds they decode.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// New returns a scheme that knows the built-in kinds and the argoproj.io/v1alpha1 kinds.
func New() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}
