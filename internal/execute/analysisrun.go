package execute

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
	"github.com/tern-rollouts/tern/internal/analysis/metricsource"
	"github.com/tern-rollouts/tern/internal/analysis/providers"
	"github.com/tern-rollouts/tern/internal/plan"
)

// applyAnalysis carries out the AnalysisRun actions; done is false when it found nothing
// to do.
func (e *Executor) applyAnalysis(ctx context.Context, w *[]client.Object, ro *v1alpha1.Rollout, a plan.Action) (done bool, err error) {
	ns := ro.Namespace
	switch a := a.(type) {
	case plan.CreateAnalysisRun:
		return e.createAnalysisRun(ctx, ro, a.Run)
	case plan.TerminateAnalysisRun:
		patch := map[string]any{"spec": map[string]any{"terminate": true}}
		err := e.patch(ctx, w, &v1alpha1.AnalysisRun{}, ns, a.Name, types.MergePatchType, patch)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	case plan.DeleteAnalysisRun:
		ar := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: a.Name}}
		uid := types.UID(a.UID)
		err := e.Client.Delete(ctx, ar, client.Preconditions{UID: &uid})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, wrap(err, "deleting analysisrun %s/%s", ns, a.Name)
	}
	return false, fmt.Errorf("unknown analysis action %T", a)
}

// createAnalysisRun creates a run. One of that name that exists already is fine when it
// is ours and still measuring: a decision planned on a cache that had not seen it yet
// asked for it again. Any other is a conflict the planner must see before it picks a
// name, so the decision stops there and is planned again.
func (e *Executor) createAnalysisRun(ctx context.Context, ro *v1alpha1.Rollout, run *v1alpha1.AnalysisRun) (bool, error) {
	err := e.Client.Create(ctx, run.DeepCopy(), client.FieldOwner(FieldOwner))
	if err == nil {
		return true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return false, fmt.Errorf("creating analysisrun %s/%s: %w", run.Namespace, run.Name, err)
	}
	live := &v1alpha1.AnalysisRun{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(run), live); err != nil {
		return false, fmt.Errorf("reading existing analysisrun %s/%s: %w", run.Namespace, run.Name, err)
	}
	owner := metav1.GetControllerOf(live)
	if owner != nil && owner.UID == ro.UID && !live.Spec.Terminate && !live.Status.Phase.Completed() && live.DeletionTimestamp == nil {
		return false, nil
	}
	return false, fmt.Errorf("analysisrun %s/%s exists already and is not a run this rollout can follow (phase %q, terminated %t); planning again",
		run.Namespace, run.Name, live.Status.Phase, live.Spec.Terminate)
}

// ProviderFactory builds the provider of a metric (providers.Factory).
type ProviderFactory interface {
	New(metric v1alpha1.Metric) (providers.Provider, error)
}

// AnalysisRunExecutor carries out what the analysis engine (internal/analysis) decided for
// an AnalysisRun: the measurements of a plan's tasks, the collection of what trimmed
// measurements left behind, the one status patch, and the deletion of an expired run.
type AnalysisRunExecutor struct {
	Client    client.Client
	Providers ProviderFactory
	Clock     clock.PassiveClock
}

// Measure carries out the tasks in parallel, each under its own timeout, so that one slow
// metric source delays neither the other metrics of the run nor the other runs (each
// reconcile worker waits only for its own run).
func (e *AnalysisRunExecutor) Measure(ctx context.Context, run *v1alpha1.AnalysisRun, tasks []analysis.Task) []analysis.Outcome {
	outs := make([]analysis.Outcome, len(tasks))
	var wg sync.WaitGroup
	for i := range tasks {
		wg.Go(func() { outs[i] = e.measureOne(ctx, run, tasks[i]) })
	}
	wg.Wait()
	return outs
}

func (e *AnalysisRunExecutor) measureOne(ctx context.Context, run *v1alpha1.AnalysisRun, t analysis.Task) (out analysis.Outcome) {
	out = analysis.Outcome{Metric: t.Metric.Name, Kind: t.Kind}
	base := v1alpha1.Measurement{}
	if t.InFlight != nil {
		base = *t.InFlight
	}
	defer func() {
		if p := recover(); p != nil {
			out.Measurement = analysis.MarkError(base, fmt.Errorf("metric provider panicked: %v", p), e.Clock.Now())
		}
	}()
	p, err := e.Providers.New(t.Metric)
	if err != nil {
		out.Measurement = analysis.MarkError(base, err, e.Clock.Now())
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

// Collect lets providers delete what trimmed measurements left behind (old Jobs). Failures
// are logged only: the next trim tries again.
func (e *AnalysisRunExecutor) Collect(ctx context.Context, run *v1alpha1.AnalysisRun, tasks []analysis.Task, trimmed map[string]int) {
	for _, t := range tasks {
		limit, ok := trimmed[t.Metric.Name]
		if !ok || !providers.LeavesObjects(t.Metric) {
			continue
		}
		p, err := e.Providers.New(t.Metric)
		if err == nil {
			err = p.GarbageCollect(ctx, run, t.Metric, limit)
		}
		if err != nil {
			log.FromContext(ctx).Error(err, "deleting the jobs of trimmed measurements", "metric", t.Metric.Name)
		}
	}
}

// WriteStatus patches the status subresource once, when it changed; written says whether
// it did, and run then carries the resourceVersion the API server returned. The patch
// carries the resourceVersion read, so that a write based on a stale read fails instead
// of erasing measurements.
func (e *AnalysisRunExecutor) WriteStatus(ctx context.Context, orig, run *v1alpha1.AnalysisRun) (written bool, err error) {
	if equality.Semantic.DeepEqual(orig.Status, run.Status) {
		return false, nil
	}
	patch := client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})
	if err := e.Client.Status().Patch(ctx, run, patch); err != nil {
		return false, err
	}
	return true, nil
}

// DeleteExpired deletes a completed run whose ttlStrategy ran out. The UID precondition
// keeps a run recreated under the same name; one already gone or changed is no error.
func (e *AnalysisRunExecutor) DeleteExpired(ctx context.Context, run *v1alpha1.AnalysisRun) error {
	uid := run.UID
	err := e.Client.Delete(ctx, run, client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	return nil
}
