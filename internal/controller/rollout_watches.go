package controller

import (
	"context"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/snapshot"
	"github.com/tern-rollouts/tern/internal/traffic/router"
	"github.com/tern-rollouts/tern/internal/traffic/routers"
)

// indexWorkloadRef indexes Rollouts by the object their workloadRef names ("Kind/name").
const indexWorkloadRef = ".spec.workloadRef"

func workloadRefIndexer(o client.Object) []string {
	return snapshot.WorkloadRefKey(o.(*v1alpha1.Rollout))
}

// rolloutsOfWorkload wakes the Rollouts whose workloadRef names the changed object, so
// that an edit of a referenced Deployment (or its creation) is acted on at once.
func (r *RolloutReconciler) rolloutsOfWorkload(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		reqs, err := r.listOwn(ctx, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexWorkloadRef: kind + "/" + o.GetName()})
		if err != nil {
			log.FromContext(ctx).Error(err, "listing rollouts of workload", "kind", kind, "workload", klog.KObj(o))
			return nil
		}
		return reqs
	}
}

// listOwn lists the Rollouts matching opts and returns a request for each one this
// instance runs: the watches that map another object to Rollouts wake only those.
func (r *RolloutReconciler) listOwn(ctx context.Context, opts ...client.ListOption) ([]reconcile.Request, error) {
	list := &v1alpha1.RolloutList{}
	if err := r.Client.List(ctx, list, opts...); err != nil {
		return nil, err
	}
	var reqs []reconcile.Request
	for _, ro := range list.Items {
		if ro.Labels[v1alpha1.LabelKeyControllerInstanceID] == r.InstanceID {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}})
		}
	}
	return reqs, nil
}

// indexTraffic prefixes the cache indexes of Rollouts by the objects their traffic
// routers read; one index per router and watched kind.
const indexTraffic = ".traffic."

// watchTraffic adds every registered traffic router's watches to b, each with an index of
// Rollouts by the objects of that kind they refer to, so that a change to one wakes the
// Rollouts that use it.
func (r *RolloutReconciler) watchTraffic(ctx context.Context, idx client.FieldIndexer, b *builder.Builder) (*builder.Builder, error) {
	for _, rt := range routers.All {
		for i, w := range rt.Watches() {
			index := trafficIndex(rt, i)
			if err := idx.IndexField(ctx, &v1alpha1.Rollout{}, index, trafficIndexer(w)); err != nil {
				return nil, err
			}
			b = b.Watches(w.Object, handler.EnqueueRequestsFromMapFunc(r.rolloutsReferring(index)))
		}
	}
	return b, nil
}

// trafficIndex names the index of Rollouts by the objects of router rt's i-th watch.
func trafficIndex(rt router.Router, i int) string {
	return indexTraffic + rt.Name() + "." + strconv.Itoa(i)
}

// trafficIndexer indexes a Rollout by the objects w's router reads for it, as
// "namespace/name".
func trafficIndexer(w router.Watch) client.IndexerFunc {
	return func(o client.Object) []string {
		var keys []string
		for _, ref := range w.Refs(o.(*v1alpha1.Rollout)) {
			keys = append(keys, ref.String())
		}
		return keys
	}
}

// rolloutsReferring wakes this instance's Rollouts that index (see watchTraffic) lists the
// changed object under.
func (r *RolloutReconciler) rolloutsReferring(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		key := types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}.String()
		reqs, err := r.listOwn(ctx, client.MatchingFields{index: key})
		if err != nil {
			log.FromContext(ctx).Error(err, "listing rollouts of traffic object", "index", index, "object", klog.KObj(o))
			return nil
		}
		return reqs
	}
}

// rolloutOfRestartingPod wakes the Rollout a pod belongs to (through its ReplicaSet), but
// only while that Rollout restarts its pods: pods change all the time, and nothing else
// the planner decides looks at single pods.
func (r *RolloutReconciler) rolloutOfRestartingPod(ctx context.Context, o client.Object) []reconcile.Request {
	ref := metav1.GetControllerOf(o)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return nil
	}
	rs := &appsv1.ReplicaSet{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: o.GetNamespace(), Name: ref.Name}, rs); err != nil || rs.UID != ref.UID {
		return nil
	}
	owner := metav1.GetControllerOf(rs)
	if owner == nil || owner.Kind != "Rollout" {
		return nil
	}
	ro := &v1alpha1.Rollout{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: rs.Namespace, Name: owner.Name}, ro); err != nil {
		if !apierrors.IsNotFound(err) {
			log.FromContext(ctx).Error(err, "reading rollout of pod", "pod", klog.KObj(o))
		}
		return nil
	}
	if ro.UID != owner.UID || ro.Labels[v1alpha1.LabelKeyControllerInstanceID] != r.InstanceID || !snapshot.RestartPending(ro) {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}}}
}

// soonest is the earlier of two wake-ups, zero meaning none.
func soonest(a, b time.Duration) time.Duration {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
