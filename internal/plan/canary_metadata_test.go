package plan_test

import (
	"testing"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/plan"
)

// canaryMetadata and stableMetadata follow the role of each version: stable metadata on
// the initial deploy, canary metadata on the new version while a stable one runs, and
// stable metadata again once the new version is promoted. Only the keys Tern injected
// are ever taken away.
func TestCanaryEphemeralMetadata(t *testing.T) {
	w := seedCanary(t)
	c := w.ro.Spec.Strategy.Canary
	c.CanaryMetadata = &v1alpha1.PodTemplateMetadata{
		Labels:      map[string]string{"role": "canary", "canary-only": "yes"},
		Annotations: map[string]string{"note": "canary"},
	}
	c.StableMetadata = &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "stable"}}
	w.settle()
	blue := w.ReplicaSet(canaryBlue)
	wantEqual(t, "initial deploy gets stable metadata", blue.Spec.Template.Labels["role"], "stable")
	wantEqual(t, "recorded", blue.Annotations[v1alpha1.EphemeralMetadataAnnotation], `{"labels":{"role":"stable"}}`)
	wantEqual(t, "RS labels stay the template's", blue.Labels["role"], "")

	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	greenRS := w.rsOf(w.currentHash())
	green := w.ReplicaSet(greenRS)
	wantEqual(t, "canary labels", green.Spec.Template.Labels, map[string]string{
		"app": canaryRO, hashKey: w.currentHash(), "role": "canary", "canary-only": "yes"})
	wantEqual(t, "canary annotations", green.Spec.Template.Annotations["note"], "canary")
	wantEqual(t, "stable keeps its metadata", w.ReplicaSet(canaryBlue).Spec.Template.Labels["role"], "stable")
	for _, a := range w.Actions() {
		if m, ok := a.(plan.SetReplicaSetMetadata); ok && m.Name == canaryBlue {
			t.Fatalf("stable metadata rewritten although unchanged: %+v", m)
		}
	}

	w.ro.Status.PromoteFull = true
	w.settle()
	wantEqual(t, "promoted", w.ro.Status.StableRS, w.currentHash())
	var swap *plan.SetReplicaSetMetadata
	for _, a := range w.Actions() {
		if m, ok := a.(plan.SetReplicaSetMetadata); ok && m.Name == greenRS {
			swap = &m
		}
	}
	if swap == nil {
		t.Fatal("no metadata swap for the promoted version")
	}
	wantEqual(t, "previous is what was injected", swap.Previous.Labels, c.CanaryMetadata.Labels)
	wantEqual(t, "desired is the stable metadata", swap.Desired, c.StableMetadata)
	wantEqual(t, "promoted labels", w.ReplicaSet(greenRS).Spec.Template.Labels, map[string]string{
		"app": canaryRO, hashKey: w.currentHash(), "role": "stable"})

	// Steady state: nothing more to write.
	n := len(w.Actions())
	w.settle()
	wantEqual(t, "no further actions", len(w.Actions()), n)
}

// Metadata added to a running rollout reaches the stable version in place; removing it
// takes away exactly what was injected.
func TestCanaryEphemeralMetadataAddedLater(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	c := w.ro.Spec.Strategy.Canary
	c.StableMetadata = &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "stable"}}
	w.settle()
	wantEqual(t, "added", w.ReplicaSet(canaryBlue).Spec.Template.Labels["role"], "stable")
	c.StableMetadata = nil
	w.settle()
	wantEqual(t, "removed", w.ReplicaSet(canaryBlue).Spec.Template.Labels, map[string]string{"app": canaryRO, hashKey: blueHash})
}

// An HPA scaling a canary paused at 20% of 5 to 10 keeps the weight: 2 canary pods and
// 8 stable, never more stable pods than the weight leaves them.
func TestCanaryScaleSubresourceWhilePaused(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	greenRS := w.rsOf(w.currentHash())
	wantEqual(t, "20% of 5", w.Replicas(), map[string]int32{canaryBlue: 4, greenRS: 1})
	w.ro.Spec.Replicas = ptrTo(int32(10))
	w.settleChecking(func() {
		if n := specReplicas(w.ReplicaSet(canaryBlue)); n > 8 {
			t.Fatalf("stable inflated to %d", n)
		}
	})
	wantEqual(t, "20% of 10", w.Replicas(), map[string]int32{canaryBlue: 8, greenRS: 2})
	wantEqual(t, "still paused at the step", w.ro.Status.Message, "CanaryPauseStep")
	wantEqual(t, "step", w.stepIndex(), int32(1))
	wantEqual(t, "HPAReplicas", w.ro.Status.HPAReplicas, int32(10))
	wantEqual(t, "selector", w.ro.Status.Selector, "app=rollouts-demo")
	w.ro.Spec.Replicas = ptrTo(int32(5))
	w.settle()
	wantEqual(t, "back to 20% of 5", w.Replicas(), map[string]int32{canaryBlue: 4, greenRS: 1})
	wantEqual(t, "HPAReplicas", w.ro.Status.HPAReplicas, int32(5))
}

// A manual pause (spec.paused) holds the steps, not the size: scaling keeps each
// version's share, and unpausing carries on from the same step.
func TestCanaryScaleWhileManuallyPaused(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	w.ro.Spec.Paused = true
	w.ro.Spec.Replicas = ptrTo(int32(7))
	w.settle()
	wantEqual(t, "stable follows the scale", w.Replicas(), map[string]int32{canaryBlue: 7})
	wantEqual(t, "still paused", w.ro.Status.Message, "manually paused")

	w.ro.Spec.Paused = false
	w.ro.Spec.Replicas = ptrTo(int32(5))
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	greenRS := w.rsOf(w.currentHash())
	wantEqual(t, "20% of 5", w.Replicas(), map[string]int32{canaryBlue: 4, greenRS: 1})
	w.ro.Spec.Paused = true
	w.ro.Spec.Replicas = ptrTo(int32(10))
	w.settleChecking(func() {
		if n := specReplicas(w.ReplicaSet(canaryBlue)); n > 8 {
			t.Fatalf("stable inflated to %d", n)
		}
	})
	wantEqual(t, "20% of 10", w.Replicas(), map[string]int32{canaryBlue: 8, greenRS: 2})
	wantEqual(t, "step", w.stepIndex(), int32(1))
	wantEqual(t, "paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	w.ro.Spec.Paused = false
	w.Promote()
	w.settle()
	wantEqual(t, "40% of 10 after the unpause", w.Replicas(), map[string]int32{canaryBlue: 6, greenRS: 4})
}
