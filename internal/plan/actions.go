// Package plan holds every decision Tern makes about a Rollout, as one pure function:
// Plan(snapshot) returns the writes to make (actions), the status to record once they
// have succeeded, and when to look again. It performs no I/O and reads no clock, so the
// same snapshot always gives the same Decision; that makes it table-testable in
// microseconds and lets `tern plan` and the tests simulate a rollout without a cluster.
package plan

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/traffic"
)

// Decision is the outcome of planning one Rollout.
type Decision struct {
	// Actions are applied in order; the first failure stops the rest and the status.
	Actions []Action
	// Status is written once every action succeeded, and only if it changed.
	Status v1alpha1.RolloutStatus
	// RequeueAfter asks to plan again after this long even if nothing changes (pause
	// end, scale-down deadline, progress deadline). Zero means no timed wake-up.
	RequeueAfter time.Duration
}

// Action is one idempotent write. Each concrete type below is one kind of write.
type Action interface{ isAction() }

// CreateReplicaSet creates a ReplicaSet. If one of that name exists already and is
// ours with the same template, the action has nothing to do.
type CreateReplicaSet struct {
	ReplicaSet *appsv1.ReplicaSet
}

// ScaleReplicaSet sets a ReplicaSet's replica count and the desired-replicas annotation.
type ScaleReplicaSet struct {
	Name     string
	Replicas int32
	// DesiredReplicas is recorded in the desired-replicas annotation.
	DesiredReplicas int32
}

// AnnotateReplicaSet sets (non-nil value) or removes (nil value) annotations of a ReplicaSet.
type AnnotateReplicaSet struct {
	Name        string
	Annotations map[string]*string
}

// AdoptReplicaSet makes the Rollout the controller of an orphan ReplicaSet.
type AdoptReplicaSet struct {
	Name string
	UID  string
}

// DeleteReplicaSet deletes an old ReplicaSet beyond the revision history limit.
type DeleteReplicaSet struct {
	Name string
	UID  string
}

// SetReplicaSetMetadata replaces the ephemeral labels and annotations of a ReplicaSet's
// pod template and of its live pods, removing those injected before.
type SetReplicaSetMetadata struct {
	Name     string
	Previous *v1alpha1.PodTemplateMetadata
	Desired  *v1alpha1.PodTemplateMetadata
}

// SetTraffic hands a desired traffic state to the traffic routers (internal/traffic/
// routers), whichever the Rollout uses: it is the one action for every router. Today the
// planner emits one per Service it points at a new version, where the SwitchService event
// that follows it tells of that switch.
type SetTraffic struct {
	Desired traffic.Desired
}

// SetRolloutRevision records the revision annotation on the Rollout itself.
type SetRolloutRevision struct {
	Revision string
}

// EvictPod evicts a pod through the Eviction API, so that PodDisruptionBudgets apply.
// A pod already gone, or replaced by another of that name (UID), needs nothing.
type EvictPod struct {
	Name string
	UID  string
}

// ScaleDeployment scales the Deployment a workloadRef names (scaleDown).
type ScaleDeployment struct {
	Name     string
	Replicas int32
}

// AnnotateRollout sets (non-nil value) or removes (nil value) annotations of the Rollout.
type AnnotateRollout struct {
	Annotations map[string]*string
}

// Event records a Kubernetes Event on the Rollout.
type Event struct {
	Type    string // corev1.EventTypeNormal or corev1.EventTypeWarning
	Reason  string
	Message string
	// AfterStatus marks an event that reports a change the status records (a pause, a
	// step completed, an abort, a completion...). It goes out only once that status is
	// written: a failed status patch is retried by planning again, which reports the
	// change again. Events that report a write of this decision (a ReplicaSet created or
	// scaled, a Service switched) go right after their write.
	AfterStatus bool
}

func (CreateReplicaSet) isAction()      {}
func (ScaleReplicaSet) isAction()       {}
func (AnnotateReplicaSet) isAction()    {}
func (AdoptReplicaSet) isAction()       {}
func (DeleteReplicaSet) isAction()      {}
func (SetReplicaSetMetadata) isAction() {}
func (SetTraffic) isAction()            {}
func (SetRolloutRevision) isAction()    {}
func (EvictPod) isAction()              {}
func (ScaleDeployment) isAction()       {}
func (AnnotateRollout) isAction()       {}
func (Event) isAction()                 {}

func normalEvent(reason, format string, args ...any) Event {
	return Event{Type: corev1.EventTypeNormal, Reason: reason, Message: sprintf(format, args...)}
}

func warningEvent(reason, format string, args ...any) Event {
	return Event{Type: corev1.EventTypeWarning, Reason: reason, Message: sprintf(format, args...)}
}
