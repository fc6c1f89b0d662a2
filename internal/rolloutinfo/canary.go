package rolloutinfo

import (
	"fmt"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/phase"
)

// currentStep returns the step the rollout is at, or nil when there are no steps or
// all of them are done.
func currentStep(ro *v1alpha1.Rollout) *v1alpha1.CanaryStep {
	idx, ok := phase.CurrentStepIndex(ro)
	if !ok || idx < 0 || int(idx) >= len(ro.Spec.Strategy.Canary.Steps) {
		return nil
	}
	return &ro.Spec.Strategy.Canary.Steps[idx]
}

// SetWeight is the weight the canary is meant to have now: 0 once aborted, 100 when
// there is no current step (no steps, or all done), otherwise the weight of the nearest
// setWeight step at or before the current one, and 0 before the first such step.
func SetWeight(ro *v1alpha1.Rollout) int32 {
	if ro.Status.Abort {
		return 0
	}
	if currentStep(ro) == nil {
		return 100
	}
	idx, _ := phase.CurrentStepIndex(ro)
	steps := ro.Spec.Strategy.Canary.Steps
	for i := idx; i >= 0; i-- {
		if w := steps[i].SetWeight; w != nil {
			return *w
		}
	}
	return 0
}

// StepString is the "i/n" of a canary with steps, "" otherwise. It is empty too when
// the controller has not written currentStepIndex yet, like upstream.
func StepString(ro *v1alpha1.Rollout) string {
	c := ro.Spec.Strategy.Canary
	if c == nil || len(c.Steps) == 0 || ro.Status.CurrentStepIndex == nil {
		return ""
	}
	return fmt.Sprintf("%d/%d", *ro.Status.CurrentStepIndex, len(c.Steps))
}

// actualWeight is the share of traffic the canary really gets. A basic canary has no
// router, so the share of available pods that are canary pods stands in for it.
func actualWeight(ro *v1alpha1.Rollout, rss []ReplicaSet) string {
	if currentStep(ro) == nil {
		return "100"
	}
	if ro.Status.AvailableReplicas <= 0 {
		return "0"
	}
	if ro.Spec.Strategy.Canary.TrafficRouting != nil {
		if w := ro.Status.Canary.Weights; w != nil {
			return fmt.Sprint(w.Canary.Weight)
		}
		return fmt.Sprint(SetWeight(ro))
	}
	weight := int32(0)
	for _, rs := range rss {
		if rs.Canary {
			weight = rs.Available * 100 / ro.Status.AvailableReplicas
		}
	}
	return fmt.Sprint(weight)
}
