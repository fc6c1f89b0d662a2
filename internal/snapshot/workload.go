package snapshot

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

// WorkloadRefKey is how the controller indexes Rollouts by the object their workloadRef
// names, so that a change to that object wakes them: "<Kind>/<name>".
func WorkloadRefKey(ro *v1alpha1.Rollout) []string {
	if ref := ro.Spec.WorkloadRef; ref != nil && ref.Name != "" {
		return []string{ref.Kind + "/" + ref.Name}
	}
	return nil
}
