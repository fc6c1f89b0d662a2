package rolloutinfo

import (
	appsv1 "k8s.io/api/apps/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Status icons (compat.md §2.5).
const (
	IconWaiting     = "◷"
	IconProgressing = "◌"
	IconWarning     = "⚠"
	IconUnknown     = "?"
	IconOK          = "✔"
	IconBad         = "✖"
	IconPaused      = "॥"
	IconNeutral     = "•"
)

// Kind icons of the tree.
const (
	IconRollout    = "⟳"
	IconRevision   = "#"
	IconReplicaSet = "⧉"
	IconPod        = "□"
	IconJob        = "⊞"
	IconService    = "⑃"
	IconExperiment = "Σ"
	IconAnalysis   = "α"
)

// Role tags of a ReplicaSet.
const (
	TagCanary  = "canary"
	TagStable  = "stable"
	TagActive  = "active"
	TagPreview = "preview"
	TagPing    = "ping"
	TagPong    = "pong"
)

func rolloutIcon(phase v1alpha1.RolloutPhase) string {
	switch phase {
	case v1alpha1.RolloutPhaseProgressing:
		return IconProgressing
	case v1alpha1.RolloutPhasePaused:
		return IconPaused
	case v1alpha1.RolloutPhaseHealthy:
		return IconOK
	case v1alpha1.RolloutPhaseDegraded:
		return IconBad
	case "Error", "InvalidSpec":
		return IconWarning
	case "Unknown":
		return IconUnknown
	}
	return " "
}

func replicaSetIcon(status string) string {
	switch status {
	case "Progressing":
		return IconProgressing
	case "Healthy":
		return IconOK
	case string(appsv1.ReplicaSetReplicaFailure):
		return IconBad
	case "ScaledDown":
		return IconNeutral
	}
	return " "
}

func analysisIcon(phase v1alpha1.AnalysisPhase) string {
	switch phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		return IconOK
	case v1alpha1.AnalysisPhaseInconclusive:
		return IconUnknown
	case v1alpha1.AnalysisPhaseFailed:
		return IconBad
	case v1alpha1.AnalysisPhaseError:
		return IconWarning
	case v1alpha1.AnalysisPhaseRunning:
		return IconProgressing
	case v1alpha1.AnalysisPhasePending:
		return IconWaiting
	}
	return " "
}
