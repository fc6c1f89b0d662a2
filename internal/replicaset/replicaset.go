// Package replicaset builds the ReplicaSet that runs one version of a pod template for an
// owner. A Rollout owns one such ReplicaSet per revision; an Experiment owns one per
// template. Both name it after the template's hash, label its pods with that hash and
// control it; and both must tell, when a ReplicaSet of that name exists, whether it is
// the same one (Same) or a hash collision. That is what lives here, with no Rollout in
// sight. It is pure: the create that goes with it is execute.CreateReplicaSet.
package replicaset

import (
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// HashLabel labels a ReplicaSet, its selector and its pods with the template's hash, so
// that versions never select each other's pods.
const HashLabel = v1alpha1.DefaultRolloutUniqueLabelKey

// Spec is what a ReplicaSet is built from.
type Spec struct {
	// Owner becomes the ReplicaSet's controller reference (Controller and
	// BlockOwnerDeletion are set here); its name prefixes the ReplicaSet's name unless
	// NamePrefix says otherwise.
	Owner     metav1.OwnerReference
	Namespace string
	// NamePrefix, when set, replaces the owner's name in front of the hash (an
	// Experiment names its ReplicaSets after the experiment and the template).
	NamePrefix string
	// Hash is the pod-template-hash of this version.
	Hash string
	// Template is the pod template as the owner asks for it; Build adds the hash label.
	Template corev1.PodTemplateSpec
	// Selector is the owner's pod selector; Build adds the hash label.
	Selector *metav1.LabelSelector
	Replicas int32
	// MinReadySeconds is copied to the ReplicaSet.
	MinReadySeconds int32
	// Labels and Annotations go on the ReplicaSet itself (the hash label is added).
	Labels      map[string]string
	Annotations map[string]string
}

// Name is the name of the ReplicaSet of a hash under a prefix.
func Name(prefix, hash string) string { return prefix + "-" + hash }

// Build makes the ReplicaSet of s. It copies what it takes, so s may be shared.
func Build(s Spec) *appsv1.ReplicaSet {
	prefix := s.NamePrefix
	if prefix == "" {
		prefix = s.Owner.Name
	}
	tmpl := s.Template.DeepCopy()
	tmpl.Labels = WithLabel(tmpl.Labels, HashLabel, s.Hash)
	selector := &metav1.LabelSelector{}
	if s.Selector != nil {
		selector = s.Selector.DeepCopy()
	}
	selector.MatchLabels = WithLabel(selector.MatchLabels, HashLabel, s.Hash)
	owner := s.Owner
	isController := true
	owner.Controller, owner.BlockOwnerDeletion = &isController, &isController
	replicas := s.Replicas
	return &appsv1.ReplicaSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            Name(prefix, s.Hash),
			Namespace:       s.Namespace,
			Labels:          WithLabel(s.Labels, HashLabel, s.Hash),
			Annotations:     maps.Clone(s.Annotations),
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &replicas,
			MinReadySeconds: s.MinReadySeconds,
			Selector:        selector,
			Template:        *tmpl,
		},
	}
}

// WithLabel returns a copy of labels with k set to v.
func WithLabel(labels map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	maps.Copy(out, labels)
	out[k] = v
	return out
}

// Same reports whether live is the ReplicaSet want describes: controlled by the same
// owner and running the same pod spec.
func Same(live, want *appsv1.ReplicaSet) bool {
	lo, wo := metav1.GetControllerOf(live), metav1.GetControllerOf(want)
	return lo != nil && wo != nil && lo.UID == wo.UID &&
		equality.Semantic.DeepEqual(live.Spec.Template.Spec, want.Spec.Template.Spec)
}
