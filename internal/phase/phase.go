// Package phase holds the one rule that turns a Rollout's spec and status into the phase
// and message it reports (compat.md §2.2), and the small readings of the status that go
// with it. The controller writes what Of returns into status.phase and status.message;
// the kubectl plugin shows what ForClient returns; commands read the step through
// CurrentStepIndex. One rule means the controller and the plugin cannot drift apart.
//
// It is pure: no client, no clock, only the API types.
package phase

import (
	"strconv"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Messages of the Progressing phase, as the contract spells them.
const (
	MsgRestarting            = "rollout is restarting"
	MsgUpdating              = "more replicas need to be updated"
	MsgBecomingAvailable     = "updated replicas are still becoming available"
	MsgCutoverPending        = "active service cutover pending"
	MsgWaitingForAnalysis    = "waiting for analysis to complete"
	MsgPostPromotionVerify   = "waiting for post-promotion verification to complete"
	MsgOldPendingTermination = "old replicas are pending termination"
	MsgWaitingForSteps       = "waiting for all steps to complete"
	MsgManuallyPaused        = "manually paused"

	// A client reports these on top of the controller's phase.
	MsgSpecNotObserved = "waiting for rollout spec update to be observed"
	MsgUnpausing       = "waiting for rollout to unpause"
)

// Of derives the phase and message of a rollout from its spec and the given status, in
// the contract's precedence. The status is passed apart from the rollout so the planner
// can ask about the status it is about to write.
func Of(ro *v1alpha1.Rollout, st *v1alpha1.RolloutStatus) (v1alpha1.RolloutPhase, string) {
	// Rule 1 before rule 2 over the whole list, not condition by condition: an invalid
	// spec is the more urgent thing to tell, whatever order the conditions were added in.
	for _, c := range st.Conditions {
		if c.Type == v1alpha1.InvalidSpec {
			// The condition exists only while the spec is invalid (it is removed, never
			// set False), so its presence alone decides.
			return v1alpha1.RolloutPhaseDegraded, string(v1alpha1.InvalidSpec) + ": " + c.Message
		}
	}
	for _, c := range st.Conditions {
		if c.Reason == v1alpha1.RolloutAbortedReason || c.Reason == v1alpha1.TimedOutReason {
			return v1alpha1.RolloutPhaseDegraded, c.Reason + ": " + c.Message
		}
	}
	if ro.Spec.Paused {
		return v1alpha1.RolloutPhasePaused, MsgManuallyPaused
	}
	if len(st.PauseConditions) > 0 {
		return v1alpha1.RolloutPhasePaused, string(st.PauseConditions[0].Reason)
	}
	if RestartPending(&ro.Spec, st) {
		return v1alpha1.RolloutPhaseProgressing, MsgRestarting
	}
	if st.UpdatedReplicas < ro.GetReplicas() {
		return v1alpha1.RolloutPhaseProgressing, MsgUpdating
	}
	if st.AvailableReplicas < st.UpdatedReplicas {
		return v1alpha1.RolloutPhaseProgressing, MsgBecomingAvailable
	}
	// A rollout whose stable version is unknown has not finished its first update.
	promoted := st.StableRS != "" && st.StableRS == st.CurrentPodHash
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		// No active selector means the active Service has not been switched to anything.
		if st.BlueGreen.ActiveSelector == "" || st.BlueGreen.ActiveSelector != st.CurrentPodHash {
			return v1alpha1.RolloutPhaseProgressing, MsgCutoverPending
		}
		if !promoted {
			// Switched but not yet stable: either the post-promotion analysis is still
			// running, or it is done and only the promotion itself is left.
			if bg.PostPromotionAnalysis != nil && !analysisDone(st.BlueGreen.PostPromotionAnalysisRunStatus) {
				return v1alpha1.RolloutPhaseProgressing, MsgWaitingForAnalysis
			}
			return v1alpha1.RolloutPhaseProgressing, MsgPostPromotionVerify
		}
		return v1alpha1.RolloutPhaseHealthy, ""
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		// Only a basic canary scales old replicas down at once; with traffic routing
		// they stay up on purpose for scaleDownDelaySeconds, which is no lack of health.
		if c.TrafficRouting == nil && st.Replicas > st.UpdatedReplicas {
			return v1alpha1.RolloutPhaseProgressing, MsgOldPendingTermination
		}
		// Steps are steps with or without a router: a canary is not healthy before its
		// last one promoted it.
		if !promoted {
			return v1alpha1.RolloutPhaseProgressing, MsgWaitingForSteps
		}
	}
	return v1alpha1.RolloutPhaseHealthy, ""
}

func analysisDone(s *v1alpha1.RolloutAnalysisRunStatus) bool {
	return s != nil && s.Status.Completed()
}

// RestartPending reports whether spec.restartAt asks for a restart that status.restartedAt
// does not yet record. The controller records a finished restart by copying restartAt into
// restartedAt, and treats a restart recorded at or after the asked instant as done; the
// phase must agree, or it would report a restart the controller never carries out.
func RestartPending(spec *v1alpha1.RolloutSpec, st *v1alpha1.RolloutStatus) bool {
	at := spec.RestartAt
	return at != nil && (st.RestartedAt == nil || st.RestartedAt.Before(at))
}

// ForClient returns the phase and message a client should show for a rollout as read
// from the API. The controller's status.phase is trusted only once it has seen the
// current spec and has reacted to a resume; before that the status describes an older
// state of the world.
func ForClient(ro *v1alpha1.Rollout) (v1alpha1.RolloutPhase, string) {
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
	return Of(ro, &ro.Status)
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

// CurrentStepIndex returns status.currentStepIndex (0 when unset) and whether the
// rollout is a canary with steps. The index may equal len(steps): all steps done.
func CurrentStepIndex(ro *v1alpha1.Rollout) (int32, bool) {
	c := ro.Spec.Strategy.Canary
	if c == nil || len(c.Steps) == 0 {
		return 0, false
	}
	if ro.Status.CurrentStepIndex == nil {
		return 0, true
	}
	return *ro.Status.CurrentStepIndex, true
}
