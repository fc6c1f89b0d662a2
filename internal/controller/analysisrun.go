package controller

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
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
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
	"github.com/tern-rollouts/tern/internal/analysis/providers"
	"github.com/tern-rollouts/tern/internal/execute"
	"github.com/tern-rollouts/tern/internal/expectations"
)

// DefaultAnalysisThreads is how many AnalysisRuns are measured at once, as upstream's
// --analysis-threads default.
const DefaultAnalysisThreads = 30

// secretPlaceholder stands for Secret-backed argument values while a run is only being
// planned, so that Secrets are read when a measurement is due, not at every reconcile.
// Unreadable fieldRefs get it too.
const secretPlaceholder = "tern-secret-placeholder"

// ProviderFactory builds the provider of a metric.
type ProviderFactory = execute.ProviderFactory

// AnalysisRunReconciler measures AnalysisRuns in the shape of the Rollout reconciler:
// observe the run and its arguments, plan with the engine (internal/analysis) which
// measurements are due, carry them out (internal/execute: in parallel, each under a
// timeout), fold their outcomes in, and write the status with one patch; then requeue at
// the next due time.
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

	secrets providers.SecretReader
	exec    *execute.AnalysisRunExecutor
	seen    *expectations.Set
}

// SetupWithManager registers the reconciler and its watches: AnalysisRuns of this
// controller instance, and the Jobs they own (a Job finishing ends a measurement).
func (r *AnalysisRunReconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager) error {
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	r.defaults()
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
	if r.secrets == nil {
		r.secrets = providers.ReaderSecrets{Reader: r.APIReader}
	}
	if r.Providers == nil {
		r.Providers = &providers.Factory{Deps: providers.Deps{Client: r.Client, Clock: r.Clock, Secrets: r.secrets}}
	}
	if r.exec == nil {
		r.exec = &execute.AnalysisRunExecutor{Client: r.Client, Providers: r.Providers, Clock: r.Clock}
	}
	if r.seen == nil {
		// Our own status writes wake no reconcile (see SetupWithManager): the wait is
		// what brings the run back.
		r.seen = expectations.New(r.Clock, expectations.Wait)
	}
}

// runObservation is what one reconcile knows of a run: the run as the cache shows it and
// its arguments. Secret-backed arguments are read only once a measurement is due, not at
// every reconcile: until then planning sees a placeholder for them.
type runObservation struct {
	run      *v1alpha1.AnalysisRun
	planning analysis.Args
	resolved *analysis.Args
}

// observe reads the run from the cache; nil when there is nothing for this reconciler to
// do with it (gone, another instance's, being deleted).
func (r *AnalysisRunReconciler) observe(ctx context.Context, key types.NamespacedName) (*runObservation, error) {
	run := &v1alpha1.AnalysisRun{}
	if err := r.Client.Get(ctx, key, run); err != nil {
		if apierrors.IsNotFound(err) {
			r.seen.Forget(key)
			return nil, nil
		}
		return nil, err
	}
	if run.Labels[v1alpha1.LabelKeyControllerInstanceID] != r.InstanceID || run.DeletionTimestamp != nil {
		return nil, nil
	}
	return &runObservation{run: run, planning: planningArgs(run)}, nil
}

// Reconcile takes the measurements of one run that are due and records them.
func (r *AnalysisRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.defaults()
	logger := log.FromContext(ctx).WithValues("analysisrun", req.NamespacedName)
	ctx = log.IntoContext(ctx, logger)
	obs, err := r.observe(ctx, req.NamespacedName)
	if obs == nil || err != nil {
		return ctrl.Result{}, err
	}
	orig := obs.run
	if ok, wait := r.seen.Satisfied(ctx, r.Client, orig); !ok {
		// The cache has not caught up with our last status write; measuring on it would
		// repeat measurements. Our write's echo arrives within moments.
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if orig.Status.Phase.Completed() {
		return r.expire(ctx, orig)
	}

	step, err := r.step(ctx, obs)
	if err != nil {
		return ctrl.Result{}, err
	}
	run := orig.DeepCopy()
	run.Status = step.status
	written, err := r.exec.WriteStatus(ctx, orig, run)
	if err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	if written {
		r.seen.Expect(req.NamespacedName, expectations.Writes{ResourceVersion: run.ResourceVersion})
	}
	for _, e := range step.events {
		r.event(run, e)
	}
	if run.Status.Phase.Completed() {
		logger.Info("analysis completed", "phase", run.Status.Phase, "message", run.Status.Message)
		return r.expire(ctx, run)
	}
	if step.next.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(step.next.Sub(r.Clock.Now()), time.Millisecond)}, nil
}

// maxRounds bounds the plan → measure rounds of one reconcile. Terminating a measurement
// in flight, decided by the outcome of another, is due at once: it is taken in the same
// reconcile rather than through another round trip.
const maxRounds = 3

// runStep is the outcome of one reconcile's rounds: the status to write, the events to
// send once it is written, and when the run is next due (zero: only an event moves it).
type runStep struct {
	status v1alpha1.AnalysisRunStatus
	events []analysis.Event
	next   time.Time
}

// step plans the run and carries out what is due, round after round, until nothing more
// is due now.
func (r *AnalysisRunReconciler) step(ctx context.Context, obs *runObservation) (runStep, error) {
	run := obs.run.DeepCopy()
	var step runStep
	for range maxRounds {
		res, err := r.round(ctx, obs, run)
		if err != nil {
			return runStep{}, err
		}
		run.Status = res.Status
		step.events = append(step.events, res.Events...)
		if res.aborted {
			break
		}
		step.next = res.NextAt
		if run.Status.Phase.Completed() || step.next.IsZero() || step.next.After(r.Clock.Now()) {
			break
		}
	}
	step.status = run.Status
	return step, nil
}

// roundResult is the engine's result of one round; aborted when the run could not be
// measured at all (an argument cannot be resolved) and ends in Error.
type roundResult struct {
	analysis.Result
	aborted bool
}

// round is one plan → measure → fold: the engine decides what is due on the planning
// arguments; when a measurement is due, the arguments are resolved (Secrets read) and the
// round made again on them, its tasks carried out, and their outcomes folded in.
func (r *AnalysisRunReconciler) round(ctx context.Context, obs *runObservation, run *v1alpha1.AnalysisRun) (roundResult, error) {
	now := r.Clock.Now()
	rnd := analysis.NewRound(run, obs.planning, now)
	if len(rnd.Tasks) == 0 {
		return roundResult{Result: rnd.Fold(nil, now)}, nil
	}
	if obs.resolved == nil {
		args, fatal, err := r.resolveArgs(ctx, run)
		if err != nil {
			return roundResult{}, err
		}
		if fatal != nil {
			return roundResult{Result: analysis.Abort(run, "Unable to resolve metric arguments: "+fatal.Error(), now), aborted: true}, nil
		}
		obs.resolved = &args
	}
	rnd = analysis.NewRound(run, *obs.resolved, now)
	outcomes := r.exec.Measure(ctx, run, rnd.Tasks)
	res := rnd.Fold(outcomes, r.Clock.Now())
	r.exec.Collect(ctx, run, rnd.Tasks, res.Trimmed)
	return roundResult{Result: res}, nil
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
			secret, err := r.secrets.Secret(ctx, run.Namespace, ref.Name)
			if err != nil {
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
	if err := r.exec.DeleteExpired(ctx, run); err != nil {
		return ctrl.Result{}, err
	}
	log.FromContext(ctx).Info("deleted expired analysis run", "ttlStrategy", run.Spec.TTLStrategy)
	return ctrl.Result{}, nil
}
