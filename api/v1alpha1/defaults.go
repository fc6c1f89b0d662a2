package v1alpha1

import (
	"math"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// Defaults of the contract (compat.md §1.6). They are applied when read, never written
// back to the spec, so a user's manifest stays as they wrote it.
const (
	DefaultReplicas                       int32 = 1
	DefaultRevisionHistoryLimit           int32 = 10
	DefaultAnalysisRunSuccessfulHistory   int32 = 5
	DefaultAnalysisRunUnsuccessfulHistory int32 = 5
	DefaultProgressDeadlineSeconds        int32 = 600
	DefaultScaleDownDelaySeconds          int32 = 30
	DefaultAbortScaleDownDelaySeconds     int32 = 30
	DefaultAutoPromotionEnabled                 = true
	DefaultConsecutiveErrorLimit          int32 = 4
	DefaultMeasurementHistoryLimit              = 10
	DefaultMaxTrafficWeight               int32 = 100
	DefaultScaleDownDelayRevisionLimit    int32 = math.MaxInt32
)

// DefaultMaxSurge and DefaultMaxUnavailable are 25%.
var (
	DefaultMaxSurge       = intstr.FromString("25%")
	DefaultMaxUnavailable = intstr.FromString("25%")
)

// GetReplicas returns spec.replicas or its default.
func (r *Rollout) GetReplicas() int32 {
	if r.Spec.Replicas == nil {
		return DefaultReplicas
	}
	return *r.Spec.Replicas
}

// GetRevisionHistoryLimit returns spec.revisionHistoryLimit or its default.
func (r *Rollout) GetRevisionHistoryLimit() int32 {
	if r.Spec.RevisionHistoryLimit == nil {
		return DefaultRevisionHistoryLimit
	}
	return *r.Spec.RevisionHistoryLimit
}

// GetProgressDeadlineSeconds returns spec.progressDeadlineSeconds or its default.
func (r *Rollout) GetProgressDeadlineSeconds() int32 {
	if r.Spec.ProgressDeadlineSeconds == nil {
		return DefaultProgressDeadlineSeconds
	}
	return *r.Spec.ProgressDeadlineSeconds
}

// AutoPromotionEnabledOrDefault reports blueGreen.autoPromotionEnabled or its default.
func (b *BlueGreenStrategy) AutoPromotionEnabledOrDefault() bool {
	if b.AutoPromotionEnabled == nil {
		return DefaultAutoPromotionEnabled
	}
	return *b.AutoPromotionEnabled
}

// ScaleDownDelaySecondsOrDefault returns blueGreen.scaleDownDelaySeconds or its default.
func (b *BlueGreenStrategy) ScaleDownDelaySecondsOrDefault() int32 {
	if b.ScaleDownDelaySeconds == nil {
		return DefaultScaleDownDelaySeconds
	}
	return *b.ScaleDownDelaySeconds
}

// AbortScaleDownDelaySecondsOrDefault returns blueGreen.abortScaleDownDelaySeconds or its default.
func (b *BlueGreenStrategy) AbortScaleDownDelaySecondsOrDefault() int32 {
	if b.AbortScaleDownDelaySeconds == nil {
		return DefaultAbortScaleDownDelaySeconds
	}
	return *b.AbortScaleDownDelaySeconds
}

// ScaleDownDelayRevisionLimitOrDefault returns blueGreen.scaleDownDelayRevisionLimit or its default.
func (b *BlueGreenStrategy) ScaleDownDelayRevisionLimitOrDefault() int32 {
	if b.ScaleDownDelayRevisionLimit == nil {
		return DefaultScaleDownDelayRevisionLimit
	}
	return *b.ScaleDownDelayRevisionLimit
}

// MaxSurgeOrDefault returns canary.maxSurge or its default.
func (c *CanaryStrategy) MaxSurgeOrDefault() intstr.IntOrString {
	if c.MaxSurge == nil {
		return DefaultMaxSurge
	}
	return *c.MaxSurge
}

// MaxUnavailableOrDefault returns canary.maxUnavailable or its default.
func (c *CanaryStrategy) MaxUnavailableOrDefault() intstr.IntOrString {
	if c.MaxUnavailable == nil {
		return DefaultMaxUnavailable
	}
	return *c.MaxUnavailable
}
