// Package observe reads, from the informer cache, everything the planner needs about one
// Rollout into a snapshot.Snapshot: the objects it owns, the workload and templates it
// refers to, and, through the registered traffic routers, its traffic. It only reads;
// keeping these reads apart from the snapshot value keeps the planner free of clients.
package observe

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/snapshot"
	"github.com/tern-rollouts/tern/internal/traffic/routers"
)

// IndexOwnerUID is the cache index of objects by the UID of their controller.
const IndexOwnerUID = ".metadata.controllerUID"

// noController is the IndexOwnerUID value of objects without a controller; no UID
// can take this form.
const noController = "<none>"

// OwnerUIDIndexer indexes an object by the UID of its controlling owner, or as having
// none, so that finding the rare orphan costs a lookup instead of a scan of the namespace.
func OwnerUIDIndexer(obj client.Object) []string {
	if ref := metav1.GetControllerOf(obj); ref != nil {
		return []string{string(ref.UID)}
	}
	return []string{noController}
}

// Snapshot reads everything the planner needs about ro from the reader (the informer
// cache); it never writes.
func Snapshot(ctx context.Context, r client.Reader, ro *v1alpha1.Rollout, now time.Time) (*snapshot.Snapshot, error) {
	s := &snapshot.Snapshot{Rollout: ro, Now: now}
	ns := ro.Namespace

	owned := &appsv1.ReplicaSetList{}
	if err := r.List(ctx, owned, client.InNamespace(ns), client.MatchingFields{IndexOwnerUID: string(ro.UID)}); err != nil {
		return nil, fmt.Errorf("listing replicasets of rollout %s/%s: %w", ns, ro.Name, err)
	}
	for i := range owned.Items {
		s.ReplicaSets = append(s.ReplicaSets, &owned.Items[i])
	}

	var err error
	if s.Workload, err = resolveWorkload(ctx, r, ro); err != nil {
		return nil, err
	}
	if sel := selectorOf(ro, s.Workload); sel != nil {
		if s.Orphans, err = orphans(ctx, r, ns, sel); err != nil {
			return nil, err
		}
		// A ReplicaSet the workloadRef names lends its template; it is not ours to adopt.
		s.Orphans = withoutWorkload(s.Orphans, ro)
		if snapshot.RestartPending(ro) {
			// Only a restart looks at single pods; reading them otherwise is wasted work.
			if s.Pods, err = podsOf(ctx, r, ns, sel, s.ReplicaSets); err != nil {
				return nil, err
			}
		}
	}

	if s.Traffic, err = routers.Observe(ctx, r, ro); err != nil {
		return nil, err
	}

	if err := loadTemplates(ctx, r, ro, s); err != nil {
		return nil, err
	}

	runs := &v1alpha1.AnalysisRunList{}
	if err := r.List(ctx, runs, client.InNamespace(ns), client.MatchingFields{IndexOwnerUID: string(ro.UID)}); err != nil {
		return nil, fmt.Errorf("listing analysisruns of rollout %s/%s: %w", ns, ro.Name, err)
	}
	for i := range runs.Items {
		s.AnalysisRuns = append(s.AnalysisRuns, &runs.Items[i])
	}
	return s, nil
}

// orphans are ReplicaSets with no controller whose labels the selector matches: a
// Rollout adopts them, as a Deployment would.
func orphans(ctx context.Context, r client.Reader, ns string, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	list := &appsv1.ReplicaSetList{}
	if err := r.List(ctx, list, client.InNamespace(ns), client.MatchingFields{IndexOwnerUID: noController},
		client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("listing replicasets in %s: %w", ns, err)
	}
	var out []*appsv1.ReplicaSet
	for i := range list.Items {
		rs := &list.Items[i]
		if metav1.GetControllerOf(rs) == nil && rs.DeletionTimestamp == nil {
			out = append(out, rs)
		}
	}
	return out, nil
}
