package v1alpha1

// Labels and annotations that are part of the wire contract (compat.md §1.6).
const (
	// DefaultRolloutUniqueLabelKey is put on ReplicaSets, pods and Service selectors.
	DefaultRolloutUniqueLabelKey = "rollouts-pod-template-hash"
	// DefaultReplicaSetScaleDownDeadlineAnnotationKey has no prefix on purpose.
	DefaultReplicaSetScaleDownDeadlineAnnotationKey = "scale-down-deadline"
	// ManagedByRolloutsKey marks a Service that a rollout has taken over.
	ManagedByRolloutsKey = "argo-rollouts.argoproj.io/managed-by-rollouts"
	// RestartedAfterAnnotationKey is defined by the contract but not used.
	RestartedAfterAnnotationKey = "argo-rollouts.argoproj.io/restarted-after"
	// LabelKeyControllerInstanceID selects which controller instance handles an object.
	LabelKeyControllerInstanceID = "argo-rollouts.argoproj.io/controller-instance-id"
	// RevisionAnnotation is on the Rollout, its ReplicaSets and AnalysisRuns.
	RevisionAnnotation = "rollout.argoproj.io/revision"
	// RevisionHistoryAnnotation lists the earlier revisions of a re-used ReplicaSet.
	RevisionHistoryAnnotation = "rollout.argoproj.io/revision-history"
	// DesiredReplicasAnnotation records spec.replicas on each ReplicaSet.
	DesiredReplicasAnnotation = "rollout.argoproj.io/desired-replicas"
	// WorkloadGenerationAnnotation records the referenced workload's generation.
	WorkloadGenerationAnnotation = "rollout.argoproj.io/workload-generation"
	// EphemeralMetadataAnnotation records the metadata injected into a ReplicaSet.
	EphemeralMetadataAnnotation = "rollout.argoproj.io/ephemeral-metadata"
	// NotificationsAnnotation is never copied to ReplicaSets.
	NotificationsAnnotation = "notified.notifications.argoproj.io"
	// LastAppliedAnnotation is kubectl's; never copied to ReplicaSets.
	LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

	// RolloutTypeLabel and friends label AnalysisRuns.
	RolloutTypeLabel              = "rollout-type"
	RolloutTypeStepLabel          = "Step"
	RolloutTypeBackgroundRunLabel = "Background"
	RolloutTypePrePromotionLabel  = "PrePromotion"
	RolloutTypePostPromotionLabel = "PostPromotion"
	RolloutCanaryStepIndexLabel   = "step-index"

	// ExperimentNameAnnotation and ExperimentTemplateNameAnnotation mark experiment ReplicaSets.
	ExperimentNameAnnotation         = "experiment.argoproj.io/name"
	ExperimentTemplateNameAnnotation = "experiment.argoproj.io/template-name"
)

// Reasons of rollout conditions (compat.md §2.3).
const (
	InvalidSpecReason             = "InvalidSpec"
	AvailableReason               = "AvailableReason"
	NotAvailableReason            = "AvailableReason"
	NewReplicaSetReason           = "NewReplicaSetCreated"
	FoundNewRSReason              = "FoundNewReplicaSet"
	ReplicaSetUpdatedReason       = "ReplicaSetUpdated"
	NewRSAvailableReason          = "NewReplicaSetAvailable"
	PausedRolloutReason           = "RolloutPaused"
	ResumedRolloutReason          = "RolloutResumed"
	RolloutAbortedReason          = "RolloutAborted"
	TimedOutReason                = "ProgressDeadlineExceeded"
	FailedRSCreateReason          = "ReplicaSetCreateError"
	RolloutRetryReason            = "RolloutRetry"
	RolloutCompletedReason        = "RolloutCompleted"
	RolloutNotCompletedReason     = "RolloutNotCompleted"
	RolloutHealthyReason          = "RolloutHealthy"
	RolloutHealthyMessage         = "Rollout is healthy"
	RolloutNotHealthyMessage      = "Rollout is not healthy"
	RolloutAbortedMessageFormat   = "Rollout aborted update to revision %d"
	TimedOutMessageFormat         = "ReplicaSet %q has timed out progressing."
	AvailableMessage              = "Rollout has minimum availability"
	NotAvailableMessage           = "Rollout does not have minimum availability"
	RolloutPausedMessage          = "Rollout is paused"
	RolloutResumedMessage         = "Rollout is resumed"
	RolloutCompletedMessage       = "Rollout completed update to revision %d (%s): %s"
	ReplicaSetNotAvailableMessage = "Rollout does not have minimum availability"
)

// Reasons of Events (compat.md §2.4).
const (
	EventReasonRolloutAddedToInformer = "RolloutAddedToInformer"
	EventReasonRolloutUpdated         = "RolloutUpdated"
	EventReasonNewReplicaSetCreated   = "NewReplicaSetCreated"
	EventReasonScalingReplicaSet      = "ScalingReplicaSet"
	EventReasonRolloutCompleted       = "RolloutCompleted"
	EventReasonRolloutNotCompleted    = "RolloutNotCompleted"
	EventReasonSwitchService          = "SwitchService"
	EventReasonRolloutStepCompleted   = "RolloutStepCompleted"
	EventReasonRolloutPaused          = "RolloutPaused"
	EventReasonRolloutResumed         = "RolloutResumed"
	EventReasonRolloutAborted         = "RolloutAborted"
	EventReasonSkipSteps              = "SkipSteps"
	EventReasonAnalysisRunFailed      = "AnalysisRunFailed"
	EventReasonExperimentFailed       = "ExperimentFailed"
	EventReasonTrafficWeightUpdated   = "TrafficWeightUpdated"
	EventReasonInvalidSpec            = "InvalidSpec"
	EventReasonProgressDeadline       = "ProgressDeadlineExceeded"
	EventReasonRolloutRetry           = "RolloutRetry"
	// EventReasonStepNotRun is Tern's own: a step of a kind it does not run yet waits.
	EventReasonStepNotRun = "StepNotRun"
)
