// Package v1alpha1 holds the argoproj.io/v1alpha1 API served by Tern: Rollout,
// AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun and Experiment. Field names,
// JSON keys and defaults follow the published contract so that existing manifests,
// dashboards and GitOps health checks keep working unchanged.
//
// +kubebuilder:object:generate=true
// +groupName=argoproj.io
package v1alpha1
