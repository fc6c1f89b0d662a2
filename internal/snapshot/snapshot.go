// Package snapshot is the read-only view of one Rollout and everything it owns or points
// at, the planner's only input, so that it can decide without any I/O. It holds the value
// and the pure helpers that both its builder (internal/observe, which reads the informer
// cache) and the planner use; it imports no client.
package snapshot

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/traffic"
)

// Snapshot is what the planner sees of one Rollout at one instant. Nothing in it may be
// modified: the objects are shared with the informer cache.
type Snapshot struct {
	// Rollout is the object as the API server returned it.
	Rollout *v1alpha1.Rollout
	// ReplicaSets are those the Rollout controls.
	ReplicaSets []*appsv1.ReplicaSet
	// Orphans are ReplicaSets that match the Rollout's selector and have no controller;
	// the planner adopts them.
	Orphans []*appsv1.ReplicaSet
	// AnalysisTemplates and ClusterAnalysisTemplates that the Rollout's analyses reference,
	// directly or through other templates, by name; a referenced name absent from its map
	// does not exist.
	AnalysisTemplates        map[string]*v1alpha1.AnalysisTemplate
	ClusterAnalysisTemplates map[string]*v1alpha1.ClusterAnalysisTemplate
	// ClusterTemplatesUnreadable is true when a ClusterAnalysisTemplate was referenced and
	// the reader may not read any (a namespaced install): not the same as one missing.
	ClusterTemplatesUnreadable bool
	// Traffic is what the traffic routers observed: the Services the strategy names (a
	// named Service absent from Traffic.Services does not exist), what each selects, and
	// what a weight router routes.
	Traffic traffic.Observed
	// AnalysisRuns owned by the Rollout.
	AnalysisRuns []*v1alpha1.AnalysisRun
	// Workload is what spec.workloadRef resolved to; nil without a workloadRef.
	Workload *Workload
	// Pods controlled by the Rollout's ReplicaSets (terminating ones included), read
	// only while a restart (spec.restartAt) is pending.
	Pods []*corev1.Pod
	// Now is the instant the decision is made for.
	Now time.Time
	// LastStatusWrite is when this controller last wrote the Rollout's status; zero
	// when it has not (since it started). The planner paces status writes by it.
	LastStatusWrite time.Time
}
