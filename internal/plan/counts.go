package plan

import (
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// CountsOnly reports whether next differs from prev, during an update, only in what follows
// the pods' comings and goings: the replica counts, the message derived from them and the
// refreshed time of the Progressing condition. Such a status may wait a moment to be
// written together with the next change that matters (a step, a pause, a phase), which
// saves the API server most of an update's status writes; nothing decides on these fields.
func CountsOnly(prev, next *v1alpha1.RolloutStatus) bool {
	if prev.Phase != v1alpha1.RolloutPhaseProgressing || next.Phase != v1alpha1.RolloutPhaseProgressing {
		return false
	}
	n := next.DeepCopy()
	n.Replicas, n.UpdatedReplicas, n.ReadyReplicas, n.AvailableReplicas, n.HPAReplicas =
		prev.Replicas, prev.UpdatedReplicas, prev.ReadyReplicas, prev.AvailableReplicas, prev.HPAReplicas
	n.Message = prev.Message
	pc, nc := findCondition(prev.Conditions, v1alpha1.RolloutProgressing), findCondition(n.Conditions, v1alpha1.RolloutProgressing)
	if pc != nil && nc != nil && pc.Status == nc.Status && (pc.Reason == nc.Reason && pc.Message == nc.Message ||
		// The first pod changes after a new ReplicaSet or a resume turn "created" or
		// "resumed" into "progressing": the counts moved, nothing else did.
		(pc.Reason == v1alpha1.NewReplicaSetReason || pc.Reason == v1alpha1.ResumedRolloutReason) && nc.Reason == v1alpha1.ReplicaSetUpdatedReason) {
		*nc = *pc.DeepCopy()
	}
	return !equality.Semantic.DeepEqual(prev, next) && equality.Semantic.DeepEqual(prev, n)
}
