package snapshot

import "github.com/tern-rollouts/tern/api/v1alpha1"

// RestartPending reports whether spec.restartAt asks for pods to be restarted that the
// status does not record as restarted yet.
func RestartPending(ro *v1alpha1.Rollout) bool {
	at := ro.Spec.RestartAt
	return at != nil && (ro.Status.RestartedAt == nil || ro.Status.RestartedAt.Before(at))
}
