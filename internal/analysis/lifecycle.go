package analysis

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Abort ends a run in Error with message, for failures the engine cannot see itself (an
// argument's Secret is missing). A completed run is left as it is.
func Abort(run *v1alpha1.AnalysisRun, message string, now time.Time) Result {
	status := *run.Status.DeepCopy()
	if status.Phase.Completed() {
		return Result{Status: status}
	}
	t := metav1.NewTime(now)
	if status.StartedAt == nil {
		status.StartedAt = &t
	}
	status.Phase, status.Message, status.CompletedAt = v1alpha1.AnalysisPhaseError, message, &t
	return Result{Status: status, Events: []Event{{Phase: v1alpha1.AnalysisPhaseError, Message: message}}}
}

// TTLExpiry says when a completed run is to be deleted under its ttlStrategy:
// secondsAfterSuccess for a Successful run and secondsAfterFailure for a Failed one when
// set, else secondsAfterCompletion. ok is false when the run is to be kept.
func TTLExpiry(run *v1alpha1.AnalysisRun) (time.Time, bool) {
	ttl := run.Spec.TTLStrategy
	if ttl == nil || !run.Status.Phase.Completed() || run.Status.CompletedAt == nil {
		return time.Time{}, false
	}
	var seconds *int32
	switch {
	case run.Status.Phase == v1alpha1.AnalysisPhaseSuccessful && ttl.SecondsAfterSuccess != nil:
		seconds = ttl.SecondsAfterSuccess
	case run.Status.Phase == v1alpha1.AnalysisPhaseFailed && ttl.SecondsAfterFailure != nil:
		seconds = ttl.SecondsAfterFailure
	default:
		seconds = ttl.SecondsAfterCompletion
	}
	if seconds == nil {
		return time.Time{}, false
	}
	return run.Status.CompletedAt.Add(time.Duration(*seconds) * time.Second), true
}
