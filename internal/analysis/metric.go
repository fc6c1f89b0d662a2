package analysis

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// ErrorRetryInterval is how long after an Error measurement the metric is measured again,
// whatever its interval (compat.md §1.6 "error retry interval 10s").
const ErrorRetryInterval = 10 * time.Second

// DefaultMeasurementRetention is how many measurements of a metric are kept by default.
const DefaultMeasurementRetention = v1alpha1.DefaultMeasurementHistoryLimit

// limits are a metric's counters' thresholds, read once with their defaults.
type limits struct {
	failure            int32 // -1: off
	inconclusive       int32
	consecutiveError   int32
	consecutiveSuccess int32 // 0: off
	count              int32 // measurements to take; meaningful only when bounded
	bounded            bool  // false: measure until terminated
}

func limitsOf(m *v1alpha1.Metric) limits {
	l := limits{
		failure:            intOr(m.FailureLimit, 0),
		inconclusive:       intOr(m.InconclusiveLimit, 0),
		consecutiveError:   intOr(m.ConsecutiveErrorLimit, v1alpha1.DefaultConsecutiveErrorLimit),
		consecutiveSuccess: intOr(m.ConsecutiveSuccessLimit, 0),
	}
	// Neither count nor interval: one measurement. Interval alone: until terminated.
	switch n := intOr(m.Count, 0); {
	case n > 0:
		l.count, l.bounded = n, true
	case m.Interval == "":
		l.count, l.bounded = 1, true
	}
	return l
}

func intOr(v *intstr.IntOrString, def int32) int32 {
	if v == nil {
		return def
	}
	return int32(v.IntValue())
}

func parseDuration(d v1alpha1.DurationString) (time.Duration, error) {
	if d == "" {
		return 0, nil
	}
	return time.ParseDuration(string(d))
}

// breach reports the limit a metric's counters exceed, if any, with the reason users see in
// the run's message. Later checks win, so Error beats Inconclusive beats Failed.
func (l limits) breach(r *v1alpha1.MetricResult) (v1alpha1.AnalysisPhase, string) {
	var phase v1alpha1.AnalysisPhase
	var reason string
	if l.failure >= 0 && r.Failed > l.failure {
		phase, reason = v1alpha1.AnalysisPhaseFailed, fmt.Sprintf("failed (%d) > failureLimit (%d)", r.Failed, l.failure)
	}
	if r.Inconclusive > l.inconclusive {
		phase, reason = v1alpha1.AnalysisPhaseInconclusive, fmt.Sprintf("inconclusive (%d) > inconclusiveLimit (%d)", r.Inconclusive, l.inconclusive)
	}
	if r.ConsecutiveError > l.consecutiveError {
		phase, reason = v1alpha1.AnalysisPhaseError, fmt.Sprintf("consecutiveErrors (%d) > consecutiveErrorLimit (%d)", r.ConsecutiveError, l.consecutiveError)
	}
	return phase, reason
}

// countReached reports whether a bounded metric took all its measurements.
func (l limits) countReached(r *v1alpha1.MetricResult) bool {
	return l.bounded && r.Count >= l.count
}

// judge decides a metric's phase from its counters (compat.md §3.1). A completed phase is
// final. reason explains a phase other than Successful, for the run's message.
func judge(m *v1alpha1.Metric, r *v1alpha1.MetricResult, terminating bool) (phase v1alpha1.AnalysisPhase, reason string) {
	l := limitsOf(m)
	if r.Phase.Completed() {
		p, why := l.breach(r)
		if p == r.Phase {
			return r.Phase, why
		}
		return r.Phase, l.shortfall(r, r.Phase)
	}
	if len(r.Measurements) == 0 {
		if terminating {
			return v1alpha1.AnalysisPhaseSuccessful, ""
		}
		return v1alpha1.AnalysisPhasePending, ""
	}
	if last := r.Measurements[len(r.Measurements)-1]; !last.Phase.Completed() {
		return v1alpha1.AnalysisPhaseRunning, ""
	}
	if p, why := l.breach(r); p != "" {
		return p, why
	}
	if l.consecutiveSuccess > 0 && r.ConsecutiveSuccess >= l.consecutiveSuccess {
		return v1alpha1.AnalysisPhaseSuccessful, ""
	}
	if l.countReached(r) {
		p := l.atCount()
		return p, l.shortfall(r, p)
	}
	if terminating {
		return v1alpha1.AnalysisPhaseSuccessful, ""
	}
	return v1alpha1.AnalysisPhaseRunning, ""
}

// atCount is the phase of a metric that took all its measurements without breaching a
// limit or reaching its consecutiveSuccessLimit. Without a consecutiveSuccessLimit that is
// success; with one, the awaited streak never came: Inconclusive when failures also count
// (a human decides), Failed when only the streak could have passed the metric.
func (l limits) atCount() v1alpha1.AnalysisPhase {
	switch {
	case l.consecutiveSuccess <= 0:
		return v1alpha1.AnalysisPhaseSuccessful
	case l.failure >= 0:
		return v1alpha1.AnalysisPhaseInconclusive
	default:
		return v1alpha1.AnalysisPhaseFailed
	}
}

func (l limits) shortfall(r *v1alpha1.MetricResult, p v1alpha1.AnalysisPhase) string {
	if p == v1alpha1.AnalysisPhaseSuccessful || l.consecutiveSuccess <= 0 || !l.countReached(r) {
		return ""
	}
	return fmt.Sprintf("consecutiveSuccess (%d) < consecutiveSuccessLimit (%d) after count (%d)", r.ConsecutiveSuccess, l.consecutiveSuccess, l.count)
}

// phaseRank orders phases from best to worst, for the run's phase (compat.md §3.2).
var phaseRank = map[v1alpha1.AnalysisPhase]int{
	v1alpha1.AnalysisPhaseSuccessful:   0,
	v1alpha1.AnalysisPhaseRunning:      1,
	v1alpha1.AnalysisPhasePending:      2,
	v1alpha1.AnalysisPhaseInconclusive: 3,
	v1alpha1.AnalysisPhaseError:        4,
	v1alpha1.AnalysisPhaseFailed:       5,
}

// Worse reports whether phase a is worse than phase b.
func Worse(a, b v1alpha1.AnalysisPhase) bool {
	return phaseRank[a] > phaseRank[b]
}

// failing reports whether a metric's phase ends the run early.
func failing(p v1alpha1.AnalysisPhase) bool {
	switch p {
	case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
		return true
	}
	return false
}
