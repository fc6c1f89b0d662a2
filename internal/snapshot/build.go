package snapshot

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
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

// Build reads everything the planner needs about ro from the reader (the informer
// cache); it never writes.
func Build(ctx context.Context, r client.Reader, ro *v1alpha1.Rollout, now time.Time) (*Snapshot, error) {
	s := &Snapshot{Rollout: ro, Services: map[string]*corev1.Service{}, Now: now}
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
		if RestartPending(ro) {
			// Only a restart looks at single pods; reading them otherwise is wasted work.
			if s.Pods, err = podsOf(ctx, r, ns, sel, s.ReplicaSets); err != nil {
				return nil, err
			}
		}
	}

	for _, name := range serviceNames(ro) {
		svc := &corev1.Service{}
		err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, svc)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("reading service %s/%s: %w", ns, name, err)
		}
		s.Services[name] = svc
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

func serviceNames(ro *v1alpha1.Rollout) []string {
	var names []string
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		names = append(names, bg.ActiveService, bg.PreviewService)
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		names = append(names, c.CanaryService, c.StableService)
		if c.PingPong != nil {
			names = append(names, c.PingPong.PingService, c.PingPong.PongService)
		}
	}
	out := names[:0]
	for _, n := range names {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// ServiceNames lists the Services a Rollout refers to; the controller indexes Rollouts by
// them so that a change to a Service wakes the Rollouts that use it.
func ServiceNames(ro *v1alpha1.Rollout) []string { return serviceNames(ro) }
