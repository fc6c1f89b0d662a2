// Package controller wires the snapshot, plan and execute steps into controller-runtime
// reconcilers. It holds no decisions of its own: it reads, plans, writes, and waits.
package controller

import (
	"context"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/execute"
	"github.com/tern-rollouts/tern/internal/observe"
	"github.com/tern-rollouts/tern/internal/plan"
	"github.com/tern-rollouts/tern/internal/snapshot"
)

// RolloutReconciler reconciles Rollouts.
type RolloutReconciler struct {
	Client     client.Client
	Recorder   record.EventRecorder
	Clock      clock.PassiveClock
	InstanceID string
	Workers    int

	exec *execute.Executor
	seen *expectations
	// lastStatus is when each Rollout's status was last written, for countsWait.
	lastStatusMu sync.Mutex
	lastStatus   map[types.NamespacedName]time.Time
	// clusterTemplates is false when ClusterAnalysisTemplates cannot be listed.
	clusterTemplates bool
}

// SetupWithManager registers the reconciler, its watches and cache indexes.
func (r *RolloutReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	r.exec = &execute.Executor{Client: r.Client, Recorder: r.Recorder}
	r.seen = newExpectations()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &appsv1.ReplicaSet{}, observe.IndexOwnerUID, observe.OwnerUIDIndexer); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.AnalysisRun{}, observe.IndexOwnerUID, observe.OwnerUIDIndexer); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.Rollout{}, indexTemplate, templateIndexer); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.Rollout{}, indexWorkloadRef, workloadRefIndexer); err != nil {
		return err
	}
	mine := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[v1alpha1.LabelKeyControllerInstanceID] == r.InstanceID
	})
	workers := r.Workers
	if workers <= 0 {
		workers = 10
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("rollout").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		For(&v1alpha1.Rollout{}, builder.WithPredicates(mine, r.announce())).
		Owns(&appsv1.ReplicaSet{}).
		Owns(&v1alpha1.AnalysisRun{}).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfWorkload("Deployment"))).
		Watches(&appsv1.ReplicaSet{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfWorkload("ReplicaSet"))).
		Watches(&corev1.PodTemplate{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfWorkload("PodTemplate"))).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.rolloutOfRestartingPod)).
		Watches(&v1alpha1.AnalysisTemplate{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfTemplate))
	b, err := r.watchTraffic(ctx, idx, b)
	if err != nil {
		return err
	}
	r.clusterTemplates = clusterTemplatesReadable(ctx, mgr)
	if r.clusterTemplates {
		b = b.Watches(&v1alpha1.ClusterAnalysisTemplate{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfTemplate))
	}
	return b.Complete(r)
}

// announce records that the controller picked a Rollout up, as users' tooling expects a
// RolloutAddedToInformer event; it filters nothing.
func (r *RolloutReconciler) announce() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool {
			r.Recorder.Event(e.Object, corev1.EventTypeNormal, v1alpha1.EventReasonRolloutAddedToInformer,
				"Rollout resource added to informer: "+e.Object.GetNamespace()+"/"+e.Object.GetName())
			return true
		},
		DeleteFunc: func(e event.DeleteEvent) bool {
			r.seen.forget(client.ObjectKeyFromObject(e.Object))
			r.forgetStatus(client.ObjectKeyFromObject(e.Object))
			return true
		},
	}
}

// countsInterval is how long a status change of replica counts alone may wait to be
// written with the next change that matters. During an update the pods' counts move
// several times per step; writing each move would double the status writes of an update
// and spend the client's rate budget that other Rollouts are waiting for.
const countsInterval = time.Second

// countsWait is how long to hold back next, a change of counts alone (plan.CountsOnly),
// because the status was written less than countsInterval ago; zero writes it now.
func (r *RolloutReconciler) countsWait(key types.NamespacedName, prev, next *v1alpha1.RolloutStatus) time.Duration {
	if !plan.CountsOnly(prev, next) {
		return 0
	}
	r.lastStatusMu.Lock()
	last, ok := r.lastStatus[key]
	r.lastStatusMu.Unlock()
	if !ok {
		return 0
	}
	if wait := countsInterval - r.Clock.Since(last); wait > 0 {
		return wait
	}
	return 0
}

func (r *RolloutReconciler) statusWritten(key types.NamespacedName) {
	r.lastStatusMu.Lock()
	defer r.lastStatusMu.Unlock()
	if r.lastStatus == nil {
		r.lastStatus = map[types.NamespacedName]time.Time{}
	}
	r.lastStatus[key] = r.Clock.Now()
}

func (r *RolloutReconciler) forgetStatus(key types.NamespacedName) {
	r.lastStatusMu.Lock()
	delete(r.lastStatus, key)
	r.lastStatusMu.Unlock()
}

// noClusterTemplates reads as its Reader does but for ClusterAnalysisTemplates, which the
// controller may not read (see clusterTemplatesReadable).
type noClusterTemplates struct{ client.Reader }

func (n noClusterTemplates) Get(ctx context.Context, key client.ObjectKey, o client.Object, opts ...client.GetOption) error {
	if _, ok := o.(*v1alpha1.ClusterAnalysisTemplate); ok {
		return snapshot.ErrClusterTemplatesUnreadable
	}
	return n.Reader.Get(ctx, key, o, opts...)
}

// cacheHas reports whether the cache shows w at its written resourceVersion or later. An
// object gone from the cache was deleted since, which is news enough.
func cacheHas(ctx context.Context, c client.Reader, w written) bool {
	o := w.obj.DeepCopyObject().(client.Object)
	if err := c.Get(ctx, client.ObjectKeyFromObject(w.obj), o); err != nil {
		return apierrors.IsNotFound(err)
	}
	rv, err := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
	return err != nil || rv >= w.resourceVersion
}

// Reconcile plans one step for a Rollout and carries it out.
func (r *RolloutReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx).WithValues("rollout", req.NamespacedName)
	ctx = log.IntoContext(ctx, logger)
	ro := &v1alpha1.Rollout{}
	if err := r.Client.Get(ctx, req.NamespacedName, ro); err != nil {
		if apierrors.IsNotFound(err) {
			r.seen.forget(req.NamespacedName)
			r.forgetStatus(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if ro.Labels[v1alpha1.LabelKeyControllerInstanceID] != r.InstanceID {
		// Another instance's Rollout, reached through one of its objects' events (an
		// owned ReplicaSet, a Service): not ours to touch.
		return ctrl.Result{}, nil
	}
	if ok, wait := r.seen.satisfied(ctx, r.Client, ro); !ok {
		// The cache has not caught up with our own last writes yet; planning on it would
		// repeat them. The watch event that brings them wakes us; the timer is a fallback.
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	var reader client.Reader = r.Client
	if !r.clusterTemplates {
		reader = noClusterTemplates{r.Client}
	}
	snap, err := observe.Snapshot(ctx, reader, ro, r.Clock.Now())
	if err != nil {
		return ctrl.Result{}, err
	}
	d := plan.Plan(snap)
	if wait := r.countsWait(req.NamespacedName, &ro.Status, &d.Status); wait > 0 {
		d.Status = *ro.Status.DeepCopy()
		d.RequeueAfter = soonest(d.RequeueAfter, wait)
	}
	res, err := r.exec.Apply(ctx, ro, d)
	r.seen.record(ro, res)
	if res.StatusWritten != nil {
		r.statusWritten(req.NamespacedName)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(d.Actions) > 0 || res.StatusWritten != nil {
		logger.V(1).Info("reconciled", "actions", len(d.Actions), "statusWritten", res.StatusWritten != nil,
			"phase", d.Status.Phase, "requeueAfter", d.RequeueAfter)
	}
	if res.RetryAfter > 0 {
		logger.Info("a disruption budget refused an eviction; trying again later", "retryAfter", res.RetryAfter)
	}
	return ctrl.Result{RequeueAfter: soonest(d.RequeueAfter, res.RetryAfter)}, nil
}

// expectations remember, per Rollout, the writes whose echo the cache must show before
// the next plan: the resourceVersion of the last status patch, the ReplicaSets created,
// and every object patched. Planning on a cache that lags one of them could undo it: a
// Service switched a moment ago still showing its old selector makes its old version look
// unserved, free to scale away.
type expectations struct {
	mu sync.Mutex
	m  map[types.NamespacedName]expectation
}

type expectation struct {
	resourceVersion uint64
	replicaSets     []string
	pods            []string
	written         []written
	at              time.Time
}

// written is one object patched, at the resourceVersion the API server gave it.
type written struct {
	obj             client.Object
	resourceVersion uint64
}

func newExpectations() *expectations {
	return &expectations{m: map[types.NamespacedName]expectation{}}
}

func (e *expectations) record(ro *v1alpha1.Rollout, res execute.Result) {
	if res.StatusWritten == nil && len(res.CreatedReplicaSets) == 0 && len(res.EvictedPods) == 0 && len(res.Written) == 0 {
		return
	}
	exp := expectation{replicaSets: res.CreatedReplicaSets, pods: res.EvictedPods, at: time.Now()}
	for _, o := range res.Written {
		if rv, err := strconv.ParseUint(o.GetResourceVersion(), 10, 64); err == nil {
			exp.written = append(exp.written, written{obj: o, resourceVersion: rv})
		}
	}
	if res.StatusWritten != nil {
		exp.resourceVersion, _ = strconv.ParseUint(res.StatusWritten.ResourceVersion, 10, 64)
	}
	e.mu.Lock()
	e.m[client.ObjectKeyFromObject(ro)] = exp
	e.mu.Unlock()
}

func (e *expectations) forget(key types.NamespacedName) {
	e.mu.Lock()
	delete(e.m, key)
	e.mu.Unlock()
}

// satisfied reports whether the cache shows our last writes for ro. Expectations expire
// after a while so that a lost watch event can never wedge a Rollout.
func (e *expectations) satisfied(ctx context.Context, c client.Reader, ro *v1alpha1.Rollout) (bool, time.Duration) {
	key := client.ObjectKeyFromObject(ro)
	e.mu.Lock()
	exp, ok := e.m[key]
	e.mu.Unlock()
	if !ok {
		return true, 0
	}
	if time.Since(exp.at) > 10*time.Second {
		e.forget(key)
		return true, 0
	}
	if rv, err := strconv.ParseUint(ro.ResourceVersion, 10, 64); err == nil && rv < exp.resourceVersion {
		return false, time.Second
	}
	for _, name := range exp.replicaSets {
		rs := &appsv1.ReplicaSet{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: name}, rs); err != nil {
			return false, 200 * time.Millisecond
		}
	}
	if !podsGone(ctx, c, ro.Namespace, exp.pods) {
		return false, 200 * time.Millisecond
	}
	for _, w := range exp.written {
		if !cacheHas(ctx, c, w) {
			return false, 200 * time.Millisecond
		}
	}
	e.forget(key)
	return true, 0
}
