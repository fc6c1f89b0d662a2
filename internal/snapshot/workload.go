package snapshot

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Workload is what a Rollout's spec.workloadRef resolved to.
type Workload struct {
	// Found is false when the referenced object does not exist (yet), or the kind is
	// not one a template can be taken from.
	Found bool
	// Template is the referenced pod template, as the API server returned it.
	Template corev1.PodTemplateSpec
	// Selector is the referenced workload's selector; nil for a PodTemplate.
	Selector *metav1.LabelSelector
	// Generation of the referenced object.
	Generation int64
	// Deployment is the referenced Deployment (kind Deployment only), which
	// spec.workloadRef.scaleDown may scale down.
	Deployment *appsv1.Deployment
}

// resolveWorkload reads the object a workloadRef names. A missing object is not an
// error here: the planner reports it on the Rollout and waits for it.
func resolveWorkload(ctx context.Context, r client.Reader, ro *v1alpha1.Rollout) (*Workload, error) {
	ref := ro.Spec.WorkloadRef
	if ref == nil {
		return nil, nil
	}
	key := client.ObjectKey{Namespace: ro.Namespace, Name: ref.Name}
	w := &Workload{}
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

// WorkloadRefKey is how the controller indexes Rollouts by the object their workloadRef
// names, so that a change to that object wakes them: "<Kind>/<name>".
func WorkloadRefKey(ro *v1alpha1.Rollout) []string {
	if ref := ro.Spec.WorkloadRef; ref != nil && ref.Name != "" {
		return []string{ref.Kind + "/" + ref.Name}
	}
	return nil
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
