package observe

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/snapshot"
)

// podsOf lists the pods the given ReplicaSets control. Pods are found by the rollout's
// selector and kept only when one of its ReplicaSets controls them: a pod that merely
// matches the labels (say, of a Deployment the rollout replaces) is not the rollout's.
func podsOf(ctx context.Context, r client.Reader, ns string, sel labels.Selector, rss []*appsv1.ReplicaSet) ([]*corev1.Pod, error) {
	if sel == nil || sel.Empty() || len(rss) == 0 {
		return nil, nil
	}
	owners := make(map[types.UID]bool, len(rss))
	for _, rs := range rss {
		owners[rs.UID] = true
	}
	list := &corev1.PodList{}
	if err := r.List(ctx, list, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("listing pods in %s: %w", ns, err)
	}
	var out []*corev1.Pod
	for i := range list.Items {
		pod := &list.Items[i]
		if ref := metav1.GetControllerOf(pod); ref != nil && owners[ref.UID] {
			out = append(out, pod)
		}
	}
	return out, nil
}

// selectorOf is the selector a Rollout selects its pods with: its own, or, when it
// leaves that to its workloadRef, the referenced workload's. Nil when there is none or
// it cannot be parsed (validation reports that).
func selectorOf(ro *v1alpha1.Rollout, w *snapshot.Workload) labels.Selector {
	ls := ro.Spec.Selector
	if ls == nil && w != nil && w.Found {
		ls = w.Selector
	}
	if ls == nil || len(ls.MatchLabels)+len(ls.MatchExpressions) == 0 {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil || sel.Empty() {
		return nil
	}
	return sel
}
