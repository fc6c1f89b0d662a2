package rolloutinfo

import (
	"fmt"
	"strconv"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Messages a client reports on top of the controller's phase (compat.md §2.2).
const (
	MsgSpecNotObserved = "waiting for rollout spec update to be observed"
	MsgUnpausing       = "waiting for rollout to unpause"
)

// Phase returns the phase and message a client should show for a rollout. The
// controller's status.phase is trusted only once it has seen the current spec and has
// reacted to a resume; before that the status describes an older state of the world.
func Phase(ro *v1alpha1.Rollout) (v1alpha1.RolloutPhase, string) {
	if !generationObserved(ro) {
		return v1alpha1.RolloutPhaseProgressing, MsgSpecNotObserved
	}
	if ro.Status.ControllerPause && len(ro.Status.PauseConditions) == 0 {
		return v1alpha1.RolloutPhaseProgressing, MsgUnpausing
	}
	if ro.Status.Phase != "" {
		return ro.Status.Phase, ro.Status.Message
	}
	// Controllers that predate status.phase leave it empty; derive it the same way.
	return CalculatePhase(ro)
}

// generationObserved compares status.observedGeneration (a string) with
// metadata.generation. Very old controllers stored a hash there, which is not a number
// (or is a number larger than the generation); such a rollout counts as observed.
func generationObserved(ro *v1alpha1.Rollout) bool {
	observed, err := strconv.ParseInt(ro.Status.ObservedGeneration, 10, 64)
	if err != nil {
		return true
	}
	return observed >= ro.Generation
}

// CalculatePhase derives the phase from spec and status with the precedence of
// compat.md §2.2. It ignores observedGeneration; use Phase for display.
func CalculatePhase(ro *v1alpha1.Rollout) (v1alpha1.RolloutPhase, string) {
	st := &ro.Status
	for _, c := range st.Conditions {
		if c.Type == v1alpha1.InvalidSpec {
			return v1alpha1.RolloutPhaseDegraded, fmt.Sprintf("%s: %s", v1alpha1.InvalidSpec, c.Message)
		}
		if c.Reason == v1alpha1.RolloutAbortedReason || c.Reason == v1alpha1.TimedOutReason {
			return v1alpha1.RolloutPhaseDegraded, fmt.Sprintf("%s: %s", c.Reason, c.Message)
		}
	}
	if ro.Spec.Paused {
		return v1alpha1.RolloutPhasePaused, "manually paused"
	}
	if len(st.PauseConditions) > 0 {
		return v1alpha1.RolloutPhasePaused, string(st.PauseConditions[0].Reason)
	}
	if ro.Spec.RestartAt != nil && (st.RestartedAt == nil || !ro.Spec.RestartAt.Equal(st.RestartedAt)) {
		return v1alpha1.RolloutPhaseProgressing, "rollout is restarting"
	}
	if st.UpdatedReplicas < ro.GetReplicas() {
		return v1alpha1.RolloutPhaseProgressing, "more replicas need to be updated"
	}
	if st.AvailableReplicas < st.UpdatedReplicas {
		return v1alpha1.RolloutPhaseProgressing, "updated replicas are still becoming available"
	}
	promoted := st.StableRS != "" && st.StableRS == st.CurrentPodHash
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		if st.BlueGreen.ActiveSelector == "" || st.BlueGreen.ActiveSelector != st.CurrentPodHash {
			return v1alpha1.RolloutPhaseProgressing, "active service cutover pending"
		}
		if !promoted {
			post := st.BlueGreen.PostPromotionAnalysisRunStatus
			if bg.PostPromotionAnalysis != nil && (post == nil || !post.Status.Completed()) {
				return v1alpha1.RolloutPhaseProgressing, "waiting for analysis to complete"
			}
			return v1alpha1.RolloutPhaseProgressing, "waiting for post-promotion verification to complete"
		}
	} else if c := ro.Spec.Strategy.Canary; c != nil {
		// Only a basic canary scales old replicas down right away; the others keep them
		// up on purpose for scaleDownDelaySeconds.
		if c.TrafficRouting == nil && st.Replicas > st.UpdatedReplicas {
			return v1alpha1.RolloutPhaseProgressing, "old replicas are pending termination"
		}
		if !promoted {
			return v1alpha1.RolloutPhaseProgressing, "waiting for all steps to complete"
		}
	}
	return v1alpha1.RolloutPhaseHealthy, ""
}
