package controller

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
	"github.com/tern-rollouts/tern/internal/analysis/metricsource"
	"github.com/tern-rollouts/tern/internal/analysis/providers"
)

// DefaultAnalysisThreads is how many AnalysisRuns are measured at once, as upstream's
// --analysis-threads default.
const DefaultAnalysisThreads = 30

// secretPlaceholder stands for Secret-backed argument values while a run is only being
// planned, so that Secrets are read when a measurement is due, not at every reconcile.
// Unreadable fieldRefs get it too.
const secretPlaceholder = "tern-secret-placeholder"

// ProviderFactory builds the provider of a metric.
type ProviderFactory interface {
	New(metric v1alpha1.Metric) (providers.Provider, error)
}

// AnalysisRunReconciler measures AnalysisRuns: it resolves their arguments, takes the
// measurements the engine (internal/analysis) says are due, in parallel and each under a
// timeout, writes the status with one patch, and requeues at the next due time.
type AnalysisRunReconciler struct {
	Client client.Client
	// APIReader reads Secrets straight from the API server, so that the manager never
	// caches (and so lists and watches) every Secret of the cluster. Client when nil.
	APIReader  client.Reader
	Recorder   record.EventRecorder
	Clock      clock.PassiveClock
	InstanceID string
	// Workers is the number of runs reconciled at once (DefaultAnalysisThreads when 0).
	Workers int
	// Providers builds metric providers; providers.Factory over Client, Clock and
	// APIReader when nil.
	Providers ProviderFactory

	seen *writeExpectations
}

// SetupWithManager registers the reconciler and its watches: AnalysisRuns of this
// controller instance, and the Jobs they own (a Job finishing ends a measurement).
func (r *AnalysisRunReconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager) error {
	r.defaults()
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	mine := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[v1alpha1.LabelKeyControllerInstanceID] == r.InstanceID
	})
	// Our own status writes need no reconcile: the result of each one carries its next due
	// time. Spec (generation), label and annotation changes do.
	changed := predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{})
	return ctrl.NewControllerManagedBy(mgr).
		Named("analysisrun").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Workers}).
		For(&v1alpha1.AnalysisRun{}, builder.WithPredicates(mine, changed)).
		Owns(&batchv1.Job{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false },
		})).
		Complete(r)
}

func (r *AnalysisRunReconciler) defaults() {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Workers <= 0 {
		r.Workers = DefaultAnalysisThreads
	}
	if r.APIReader == nil {
		r.APIReader = r.Client
	}
	if r.Providers == nil {
		r.Providers = &providers.Factory{Deps: providers.Deps{Client: r.Client, Clock: r.Clock, Secrets: providers.ReaderSecrets{Reader: r.APIReader}}}
	}
	if r.seen == nil {
		r.seen = &writeExpectations{m: map[types.NamespacedName]uint64{}}
	}
}

// Reconcile takes the measurements of one run that are due and records them.
func (r *AnalysisRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.defaults()
	logger := log.FromContext(ctx).WithValues("analysisrun", req.NamespacedName)
	ctx = log.IntoContext(ctx, logger)
	orig := &v1alpha1.AnalysisRun{}
	if err := r.Client.Get(ctx, req.NamespacedName, orig); err != nil {
		if apierrors.IsNotFound(err) {
			r.seen.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if orig.Labels[v1alpha1.LabelKeyControllerInstanceID] != r.InstanceID || orig.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if wait, stale := r.seen.stale(orig); stale {
		// The cache has not caught up with our last status write; measuring on it would
		// repeat measurements. Our write's echo arrives within moments.
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if orig.Status.Phase.Completed() {
		return r.expire(ctx, orig)
	}

	run := orig.DeepCopy()
	var events []analysis.Event
	var next time.Time
	var args *analysis.Args
	// Terminating a measurement in flight, decided by the outcome of another, is due at
	// once: take it in the same reconcile rather than through another round trip.
	for round := 0; round < 3; round++ {
		now := r.Clock.Now()
		plan := analysis.NewPlan(run, planningArgs(run), now)
		var res analysis.Result
		if len(plan.Tasks) > 0 {
			if args == nil {
				resolved, fatal, err := r.resolveArgs(ctx, run)
				if err != nil {
					return ctrl.Result{}, err
				}
				if fatal != nil {
					res = analysis.Abort(run, "Unable to resolve metric arguments: "+fatal.Error(), now)
					run.Status = res.Status
					events = append(events, res.Events...)
					break
				}
				args = &resolved
			}
			plan = analysis.NewPlan(run, *args, now)
			outcomes := r.measure(ctx, run, plan.Tasks)
			res = plan.Apply(outcomes, r.Clock.Now())
			r.collect(ctx, run, plan.Tasks, res.Trimmed)
		} else {
			res = plan.Apply(nil, now)
		}
		run.Status = res.Status
		events = append(events, res.Events...)
		next = res.NextAt
		if run.Status.Phase.Completed() || next.IsZero() || next.After(r.Clock.Now()) {
			break
		}
	}

	if err := r.writeStatus(ctx, orig, run); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	for _, e := range events {
		r.event(run, e)
	}
	if run.Status.Phase.Completed() {
		logger.Info("analysis completed", "phase", run.Status.Phase, "message", run.Status.Message)
		return r.expire(ctx, run)
	}
	if next.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(next.Sub(r.Clock.Now()), time.Millisecond)}, nil
}

// planningArgs are the run's inline argument values, with a placeholder for Secret-backed
// ones: enough to know whether anything is due.
func planningArgs(run *v1alpha1.AnalysisRun) analysis.Args {
	values := analysis.ArgValues(run.Spec.Args)
	for _, a := range run.Spec.Args {
		if a.Value == nil && a.ValueFrom != nil {
			values[a.Name] = secretPlaceholder
			if f := a.ValueFrom.FieldRef; f != nil {
				// A bad fieldRef keeps the placeholder: resolveArgs reports it clearly.
				if v, err := analysis.FieldValue(run, f.FieldPath); err == nil {
					values[a.Name] = v
				}
			}
		}
	}
	return analysis.Args{Values: values}
}

// resolveArgs reads every argument's value. fatal is a problem only the user can fix (a
// missing Secret or key, a bad fieldRef); err a transient failure worth a retry. Secret
// values are returned for redaction and never logged.
func (r *AnalysisRunReconciler) resolveArgs(ctx context.Context, run *v1alpha1.AnalysisRun) (args analysis.Args, fatal, err error) {
	args.Values = map[string]string{}
	for _, a := range run.Spec.Args {
		switch {
		case a.Value != nil:
			args.Values[a.Name] = *a.Value
		case a.ValueFrom != nil && a.ValueFrom.SecretKeyRef != nil:
			ref := a.ValueFrom.SecretKeyRef
			secret := &corev1.Secret{}
			if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: ref.Name}, secret); err != nil {
				if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
					return args, fmt.Errorf("arg %q: secret %q: %w", a.Name, ref.Name, err), nil
				}
				return args, nil, fmt.Errorf("reading secret %s/%s for arg %q: %w", run.Namespace, ref.Name, a.Name, err)
			}
			v, ok := secret.Data[ref.Key]
			if !ok {
				return args, fmt.Errorf("arg %q: key %q does not exist in secret %q", a.Name, ref.Key, ref.Name), nil
			}
			args.Values[a.Name] = string(v)
			args.Secrets = append(args.Secrets, string(v))
		case a.ValueFrom != nil && a.ValueFrom.FieldRef != nil:
			v, err := analysis.FieldValue(run, a.ValueFrom.FieldRef.FieldPath)
			if err != nil {
				return args, fmt.Errorf("arg %q: %w", a.Name, err), nil
			}
			args.Values[a.Name] = v
		}
	}
	return args, nil, nil
}

// measure carries out the tasks in parallel, each under its own timeout, so that one slow
// metric source delays neither the other metrics of the run nor the other runs (each
// reconcile worker waits only for its own run).
func (r *AnalysisRunReconciler) measure(ctx context.Context, run *v1alpha1.AnalysisRun, tasks []analysis.Task) []analysis.Outcome {
	outs := make([]analysis.Outcome, len(tasks))
	var wg sync.WaitGroup
	for i := range tasks {
		wg.Go(func() { outs[i] = r.measureOne(ctx, run, tasks[i]) })
	}
	wg.Wait()
	return outs
}

func (r *AnalysisRunReconciler) measureOne(ctx context.Context, run *v1alpha1.AnalysisRun, t analysis.Task) (out analysis.Outcome) {
	out = analysis.Outcome{Metric: t.Metric.Name, Kind: t.Kind}
	base := v1alpha1.Measurement{}
	if t.InFlight != nil {
		base = *t.InFlight
	}
	defer func() {
		if p := recover(); p != nil {
			out.Measurement = analysis.MarkError(base, fmt.Errorf("metric provider panicked: %v", p), r.Clock.Now())
		}
	}()
	p, err := r.Providers.New(t.Metric)
	if err != nil {
		out.Measurement = analysis.MarkError(base, err, r.Clock.Now())
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, metricsource.MeasurementTimeout(&t.Metric.Provider))
	defer cancel()
	switch t.Kind {
	case analysis.Measure:
		out.Measurement = p.Run(ctx, run, t.Metric)
		out.Metadata = p.Metadata(t.Metric)
	case analysis.Resume:
		out.Measurement = p.Resume(ctx, run, t.Metric, base)
	case analysis.Terminate:
		out.Measurement = p.Terminate(ctx, run, t.Metric, base)
	}
	return out
}

// collect lets providers delete what trimmed measurements left behind (old Jobs). Failures
// are logged only: the next trim tries again.
func (r *AnalysisRunReconciler) collect(ctx context.Context, run *v1alpha1.AnalysisRun, tasks []analysis.Task, trimmed map[string]int) {
	for _, t := range tasks {
		limit, ok := trimmed[t.Metric.Name]
		if !ok || !providers.LeavesObjects(t.Metric) {
			continue
		}
		p, err := r.Providers.New(t.Metric)
		if err == nil {
			err = p.GarbageCollect(ctx, run, t.Metric, limit)
		}
		if err != nil {
			log.FromContext(ctx).Error(err, "deleting the jobs of trimmed measurements", "metric", t.Metric.Name)
		}
	}
}

// writeStatus patches the status subresource once, when it changed. The patch carries the
// resourceVersion read, so that a write based on a stale read fails instead of erasing
// measurements.
func (r *AnalysisRunReconciler) writeStatus(ctx context.Context, orig, run *v1alpha1.AnalysisRun) error {
	if equality.Semantic.DeepEqual(orig.Status, run.Status) {
		return nil
	}
	patch := client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})
	if err := r.Client.Status().Patch(ctx, run, patch); err != nil {
		return err
	}
	r.seen.record(run)
	return nil
}

// event records a phase transition with upstream's reasons: AnalysisRun<Phase> for the
// run, Metric<Phase> for a metric.
func (r *AnalysisRunReconciler) event(run *v1alpha1.AnalysisRun, e analysis.Event) {
	if r.Recorder == nil {
		return
	}
	typ := corev1.EventTypeNormal
	if e.Phase == v1alpha1.AnalysisPhaseError || e.Phase == v1alpha1.AnalysisPhaseFailed {
		typ = corev1.EventTypeWarning
	}
	if e.Metric == "" {
		r.Recorder.Eventf(run, typ, "AnalysisRun"+string(e.Phase), "Analysis Completed. Result: %s", e.Phase)
		return
	}
	r.Recorder.Eventf(run, typ, "Metric"+string(e.Phase), "Metric '%s' Completed. Result: %s", e.Metric, e.Phase)
}

// expire deletes a completed run whose ttlStrategy ran out, or requeues at that time.
func (r *AnalysisRunReconciler) expire(ctx context.Context, run *v1alpha1.AnalysisRun) (ctrl.Result, error) {
	at, ok := analysis.TTLExpiry(run)
	if !ok {
		return ctrl.Result{}, nil
	}
	if wait := at.Sub(r.Clock.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	uid := run.UID
	err := r.Client.Delete(ctx, run, client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return ctrl.Result{}, err
	}
	log.FromContext(ctx).Info("deleted expired analysis run", "ttlStrategy", run.Spec.TTLStrategy)
	return ctrl.Result{}, nil
}

// writeExpectations remember the resourceVersion of each run's last status write, until
// the cache shows it (or a while has passed, so that a lost event cannot wedge a run).
type writeExpectations struct {
	mu sync.Mutex
	m  map[types.NamespacedName]uint64
	at map[types.NamespacedName]time.Time
}

func (e *writeExpectations) record(run *v1alpha1.AnalysisRun) {
	rv, err := strconv.ParseUint(run.ResourceVersion, 10, 64)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.at == nil {
		e.at = map[types.NamespacedName]time.Time{}
	}
	key := types.NamespacedName{Namespace: run.Namespace, Name: run.Name}
	e.m[key], e.at[key] = rv, time.Now()
}

func (e *writeExpectations) forget(key types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
	delete(e.at, key)
}

func (e *writeExpectations) stale(run *v1alpha1.AnalysisRun) (time.Duration, bool) {
	key := types.NamespacedName{Namespace: run.Namespace, Name: run.Name}
	e.mu.Lock()
	defer e.mu.Unlock()
	want, ok := e.m[key]
	if !ok {
		return 0, false
	}
	rv, err := strconv.ParseUint(run.ResourceVersion, 10, 64)
	if err != nil || rv >= want || time.Since(e.at[key]) > 10*time.Second {
		delete(e.m, key)
		delete(e.at, key)
		return 0, false
	}
	return 200 * time.Millisecond, true
}
