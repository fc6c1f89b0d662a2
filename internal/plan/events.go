package plan

import "github.com/tern-rollouts/tern/api/v1alpha1"

// writeEvents are the reasons of the events that report a write of the decision itself;
// the executor sends them right after that write. Every other event reports a change of
// what the status records, and waits for the status write (Event.AfterStatus).
var writeEvents = map[string]bool{
	v1alpha1.EventReasonRolloutUpdated:       true, // with the new ReplicaSet or the revision bump
	v1alpha1.EventReasonNewReplicaSetCreated: true,
	v1alpha1.EventReasonScalingReplicaSet:    true,
	v1alpha1.EventReasonSwitchService:        true,
	v1alpha1.EventReasonTrafficWeightUpdated: true,
}

// markAfterStatus marks the events of a decision that report a status transition. The
// order of the events stays as planned: the executor holds back everything from the
// first marked event on, so a write event placed after a transition still follows it.
func markAfterStatus(actions []Action) {
	for i, a := range actions {
		if ev, ok := a.(Event); ok && !writeEvents[ev.Reason] {
			ev.AfterStatus = true
			actions[i] = ev
		}
	}
}
