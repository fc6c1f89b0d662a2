package actions

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/phase"
)

// promotion is what a promote writes: a spec part, a status part, and the combined
// patch used when the cluster serves Rollouts without a status subresource.
type promotion struct {
	spec, status, unified map[string]any
}

// planPromotion decides what a promote changes (compat.md §5):
//   - full: status.promoteFull (only if the update is not already promoted), and unpause;
//   - otherwise: unpause spec.paused if set, and then exactly one of
//     · an inconclusive canary step paused by the controller: clear the pause, drop
//     controllerPause and move past the step, so the next step runs;
//     · pause conditions present: clear them (a resume);
//     · a canary with steps: move past the current step (skips a running analysis or
//     experiment step).
func planPromotion(ro *v1alpha1.Rollout, full bool) promotion {
	var p promotion
	unpause := map[string]any{"paused": false}
	if ro.Spec.Paused {
		p.spec = unpause
	}
	if full {
		if ro.Status.CurrentPodHash != ro.Status.StableRS {
			p.status = map[string]any{"promoteFull": true}
			p.unified = map[string]any{"spec": unpause, "status": p.status}
		}
		return p
	}
	p.unified = map[string]any{"spec": unpause, "status": map[string]any{"pauseConditions": nil}}
	idx, hasSteps := phase.CurrentStepIndex(ro)
	next := idx
	if hasSteps && int(idx) < len(ro.Spec.Strategy.Canary.Steps) {
		next++
	}
	switch {
	case inconclusive(ro) && len(ro.Status.PauseConditions) > 0 && ro.Status.ControllerPause:
		if hasSteps {
			p.status = map[string]any{"pauseConditions": nil, "controllerPause": false, "currentStepIndex": next}
		}
	case len(ro.Status.PauseConditions) > 0:
		p.status = map[string]any{"pauseConditions": nil}
	case hasSteps:
		p.status = map[string]any{"pauseConditions": nil, "currentStepIndex": next}
		p.unified = map[string]any{"spec": unpause, "status": p.status}
	}
	return p
}

func inconclusive(ro *v1alpha1.Rollout) bool {
	s := ro.Status.Canary.CurrentStepAnalysisRunStatus
	return ro.Spec.Strategy.Canary != nil && s != nil && s.Status == v1alpha1.AnalysisPhaseInconclusive
}

// Promote moves a paused or stepping rollout forward; with full it skips every
// remaining step, pause and analysis. It returns the rollout as last written.
func Promote(ctx context.Context, c client.Client, key types.NamespacedName, full bool) (*v1alpha1.Rollout, error) {
	ro, err := GetRollout(ctx, c, key)
	if err != nil {
		return nil, err
	}
	p := planPromotion(ro, full)
	spec := p.spec
	if p.status != nil {
		err := patchStatus(ctx, c, ro, p.status)
		switch {
		case apierrors.IsNotFound(err):
			// The rollout was just read, so NotFound means the CRD has no status
			// subresource (very old installs): spec and status go in one patch.
			if p.unified != nil {
				patch, err := mergePatch(p.unified)
				if err != nil {
					return nil, err
				}
				if err := c.Patch(ctx, ro, patch); err != nil {
					return nil, explain(err, key.Namespace)
				}
			}
			spec = nil
		case err != nil:
			return nil, err
		}
	}
	if spec != nil {
		if err := patchSpec(ctx, c, ro, spec); err != nil {
			return nil, explain(err, key.Namespace)
		}
	}
	return ro, nil
}

// SkipSteps backs the deprecated `promote --skip-current-step` (all=false) and
// `--skip-all-steps` (all=true) flags: it only moves status.currentStepIndex, one step
// on or to the end, without touching any pause.
func SkipSteps(ctx context.Context, c client.Client, key types.NamespacedName, all bool) (*v1alpha1.Rollout, error) {
	ro, err := GetRollout(ctx, c, key)
	if err != nil {
		return nil, err
	}
	if ro.Spec.Strategy.Canary == nil {
		return nil, fmt.Errorf("cannot skip steps of rollout %q: only a canary has steps; run promote without flags", key.Name)
	}
	steps := int32(len(ro.Spec.Strategy.Canary.Steps))
	if steps == 0 {
		return nil, fmt.Errorf("cannot skip steps of rollout %q: it has no steps", key.Name)
	}
	idx, _ := phase.CurrentStepIndex(ro)
	switch {
	case all:
		idx = steps
	case idx < steps:
		idx++
	}
	if err := patchStatus(ctx, c, ro, map[string]any{"currentStepIndex": idx}); err != nil {
		return nil, explain(err, key.Namespace)
	}
	return ro, nil
}
