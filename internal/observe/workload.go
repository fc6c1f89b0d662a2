package observe

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/snapshot"
)

// resolveWorkload reads the object a workloadRef names. A missing object is not an
// error here: the planner reports it on the Rollout and waits for it.
func resolveWorkload(ctx context.Context, r client.Reader, ro *v1alpha1.Rollout) (*snapshot.Workload, error) {
	ref := ro.Spec.WorkloadRef
	if ref == nil {
		return nil, nil
	}
	key := client.ObjectKey{Namespace: ro.Namespace, Name: ref.Name}
	w := &snapshot.Workload{}
	var obj client.Object
	switch ref.Kind {
	case "Deployment":
		obj = &appsv1.Deployment{}
	case "ReplicaSet":
		obj = &appsv1.ReplicaSet{}
	case "PodTemplate":
		obj = &corev1.PodTemplate{}
	default:
		// Validation reports the kind.
		return w, nil
	}
	if ref.Name == "" {
		return w, nil
	}
	err := r.Get(ctx, key, obj)
	switch {
	case apierrors.IsNotFound(err):
		return w, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s %s/%s of rollout %s: %w", ref.Kind, key.Namespace, key.Name, ro.Name, err)
	}
	w.Found = true
	w.Generation = obj.GetGeneration()
	switch o := obj.(type) {
	case *appsv1.Deployment:
		w.Template, w.Selector, w.Deployment = o.Spec.Template, o.Spec.Selector, o
	case *appsv1.ReplicaSet:
		w.Template, w.Selector = o.Spec.Template, o.Spec.Selector
	case *corev1.PodTemplate:
		w.Template = o.Template
	}
	return w, nil
}

// withoutWorkload drops the ReplicaSet a workloadRef names from the orphans: it matches
// the selector it lends, but it is the user's, not a version of the rollout.
func withoutWorkload(orphans []*appsv1.ReplicaSet, ro *v1alpha1.Rollout) []*appsv1.ReplicaSet {
	ref := ro.Spec.WorkloadRef
	if ref == nil || ref.Kind != "ReplicaSet" {
		return orphans
	}
	out := orphans[:0:0]
	for _, rs := range orphans {
		if rs.Name != ref.Name {
			out = append(out, rs)
		}
	}
	return out
}
