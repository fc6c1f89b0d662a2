package plan

import (
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// CountsInterval is how long a status change of replica counts alone may wait to be
// written with the next change that matters. During an update the pods' counts move
// several times per step; writing each move would double the status writes of an update
// and spend the client's rate budget that other Rollouts are waiting for.
const CountsInterval = time.Second

// holdCounts keeps the status as it is when the decision changes counts alone and the
// status was written less than CountsInterval ago, and asks to plan again once the
// interval is over: the counts then go out, or with whatever change comes first.
func (p *planner) holdCounts() {
	wait := countsWait(p.old, &p.st, p.s.LastStatusWrite, p.s.Now)
	if wait <= 0 {
		return
	}
	p.st = *p.old.DeepCopy()
	// Not requeueAt: that rounds to whole seconds, and this wait is shorter than one.
	if p.requeue == 0 || wait < p.requeue {
		p.requeue = wait
	}
}

// countsWait is how long to hold back next, a change of counts alone (countsOnly),
// because the status was last written at lastWrite, less than CountsInterval before now;
// zero writes it now. A zero lastWrite (no write on record) never holds anything back.
func countsWait(prev, next *v1alpha1.RolloutStatus, lastWrite, now time.Time) time.Duration {
	if lastWrite.IsZero() || !countsOnly(prev, next) {
		return 0
	}
	if wait := CountsInterval - now.Sub(lastWrite); wait > 0 {
		return wait
	}
	return 0
}

// countsOnly reports whether next differs from prev, during an update, only in what follows
// the pods' comings and goings: the replica counts, the message derived from them and the
// refreshed time of the Progressing condition. Such a status may wait a moment to be
// written together with the next change that matters (a step, a pause, a phase), which
// saves the API server most of an update's status writes; nothing decides on these fields.
func countsOnly(prev, next *v1alpha1.RolloutStatus) bool {
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
