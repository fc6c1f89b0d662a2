package execute

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
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
