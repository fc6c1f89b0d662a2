// Package controller wires the snapshot, plan and execute steps into controller-runtime
// reconcilers. It holds no decisions of its own: it reads, plans, writes, and waits.
package controller

import (
	"context"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	"github.com/tern-rollouts/tern/internal/expectations"
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
	seen *expectations.Set
	// lastStatus is when each Rollout's status was last written, for the snapshot.
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
	// The status write's own watch event wakes the Rollout; the wait is a fallback.
	r.seen = expectations.New(r.Clock, time.Second)
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
			r.seen.Forget(client.ObjectKeyFromObject(e.Object))
			r.forgetStatus(client.ObjectKeyFromObject(e.Object))
			return true
		},
	}
}

// statusWritten records that the Rollout's status was just written; the planner paces
// status writes by it (snapshot.LastStatusWrite).
func (r *RolloutReconciler) statusWritten(key types.NamespacedName) {
	r.lastStatusMu.Lock()
	defer r.lastStatusMu.Unlock()
	if r.lastStatus == nil {
		r.lastStatus = map[types.NamespacedName]time.Time{}
	}
	r.lastStatus[key] = r.Clock.Now()
}

func (r *RolloutReconciler) lastStatusWrite(key types.NamespacedName) time.Time {
	r.lastStatusMu.Lock()
	defer r.lastStatusMu.Unlock()
	return r.lastStatus[key]
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

// Reconcile plans one step for a Rollout and carries it out.
func (r *RolloutReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx).WithValues("rollout", req.NamespacedName)
	ctx = log.IntoContext(ctx, logger)
	ro := &v1alpha1.Rollout{}
	if err := r.Client.Get(ctx, req.NamespacedName, ro); err != nil {
		if apierrors.IsNotFound(err) {
			r.seen.Forget(req.NamespacedName)
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
	if ok, wait := r.seen.Satisfied(ctx, r.Client, ro); !ok {
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
	snap.LastStatusWrite = r.lastStatusWrite(req.NamespacedName)
	d := plan.Plan(snap)
	res, err := r.exec.Apply(ctx, ro, d)
	r.seen.Expect(req.NamespacedName, rolloutWrites(ro, res))
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

// rolloutWrites are the writes of one reconcile that the cache must show before the next
// plan: the status patch, the ReplicaSets created, the pods evicted and every object
// patched. Planning on a cache that lags one of them could undo it: a Service switched a
// moment ago still showing its old selector makes its old version look unserved, free to
// scale away.
func rolloutWrites(ro *v1alpha1.Rollout, res execute.Result) expectations.Writes {
	w := expectations.Writes{Written: res.Written}
	if res.StatusWritten != nil {
		w.ResourceVersion = res.StatusWritten.ResourceVersion
	}
	for _, name := range res.CreatedReplicaSets {
		w.Created = append(w.Created, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: name}})
	}
	for _, name := range res.EvictedPods {
		w.Deleted = append(w.Deleted, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: name}})
	}
	return w
}
