package plan

import (
	"testing"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Events of writes go right after the write; every other event reports a status
// transition and waits for the status write.
func TestMarkAfterStatus(t *testing.T) {
	actions := []Action{
		normalEvent(v1alpha1.EventReasonRolloutUpdated, "u"),
		CreateReplicaSet{},
		normalEvent(v1alpha1.EventReasonNewReplicaSetCreated, "c"),
		normalEvent(v1alpha1.EventReasonRolloutNotCompleted, "n"),
		normalEvent(v1alpha1.EventReasonScalingReplicaSet, "s"),
		normalEvent(v1alpha1.EventReasonSwitchService, "w"),
		normalEvent(v1alpha1.EventReasonRolloutStepCompleted, "st"),
		normalEvent(v1alpha1.EventReasonRolloutPaused, "p"),
		normalEvent(v1alpha1.EventReasonRolloutResumed, "r"),
		warningEvent(v1alpha1.EventReasonRolloutAborted, "a"),
		normalEvent(v1alpha1.EventReasonRolloutCompleted, "d"),
		warningEvent(v1alpha1.EventReasonInvalidSpec, "i"),
		normalEvent("AnalysisRunSuccessful", "ar"),
	}
	markAfterStatus(actions)
	want := map[string]bool{
		v1alpha1.EventReasonRolloutUpdated: false, v1alpha1.EventReasonNewReplicaSetCreated: false,
		v1alpha1.EventReasonScalingReplicaSet: false, v1alpha1.EventReasonSwitchService: false,
		v1alpha1.EventReasonRolloutNotCompleted: true, v1alpha1.EventReasonRolloutStepCompleted: true,
		v1alpha1.EventReasonRolloutPaused: true, v1alpha1.EventReasonRolloutResumed: true,
		v1alpha1.EventReasonRolloutAborted: true, v1alpha1.EventReasonRolloutCompleted: true,
		v1alpha1.EventReasonInvalidSpec: true, "AnalysisRunSuccessful": true,
	}
	for _, a := range actions {
		if ev, ok := a.(Event); ok && ev.AfterStatus != want[ev.Reason] {
			t.Errorf("%s: AfterStatus %v, want %v", ev.Reason, ev.AfterStatus, want[ev.Reason])
		}
	}
}
