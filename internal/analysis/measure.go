package analysis

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// MarkError completes a measurement as an Error carrying err's message. Providers use it
// for every failure to measure, so that an unreachable or broken provider can never pass
// for a success.
func MarkError(m v1alpha1.Measurement, err error, now time.Time) v1alpha1.Measurement {
	t := metav1.NewTime(now)
	if m.StartedAt == nil {
		m.StartedAt = &t
	}
	m.Phase = v1alpha1.AnalysisPhaseError
	m.Message = err.Error()
	m.FinishedAt = &t
	m.ResumeAt = nil
	return m
}

// Finish completes a measurement with a value and the phase its conditions gave.
func Finish(m v1alpha1.Measurement, value string, phase v1alpha1.AnalysisPhase, now time.Time) v1alpha1.Measurement {
	t := metav1.NewTime(now)
	if m.StartedAt == nil {
		m.StartedAt = &t
	}
	m.Value, m.Phase, m.FinishedAt = value, phase, &t
	return m
}
