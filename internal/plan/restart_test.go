package plan_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/plan"
)

// requestRestart sets spec.restartAt to a minute after the pods were created.
func (w *world) requestRestart() metav1.Time {
	w.SetNow(w.Now().Add(time.Minute))
	at := metav1.NewTime(w.Now())
	w.ro.Spec.RestartAt = &at
	w.ro.Generation++
	return at
}

// restartOver settles the world, checking after every step that the rollout never has
// more than maxDown pods unavailable and never asks for more than maxEvict evictions at
// once.
func (w *world) restartOver(maxEvict, maxDown int32) {
	w.t.Helper()
	w.settleChecking(func() {
		w.t.Helper()
		evictions := 0
		for _, a := range w.Last().Actions {
			if _, ok := a.(plan.EvictPod); ok {
				evictions++
			}
		}
		if int32(evictions) > maxEvict {
			w.t.Fatalf("%d evictions in one decision, more than %d", evictions, maxEvict)
		}
		if n := w.Unavailable(); n > maxDown {
			w.t.Fatalf("%d pods unavailable, more than %d", n, maxDown)
		}
	})
}

func (w *world) podsBefore(at metav1.Time) int {
	n := 0
	for _, p := range w.Pods() {
		if p.CreationTimestamp.Before(&at) {
			n++
		}
	}
	return n
}

// A canary of 5 at rest restarts one pod at a time (25% of 5, rounded down, is 1),
// waiting for each replacement to be ready, and reports the restart once no pod is
// older than restartAt.
func TestRestartCanaryOneAtATime(t *testing.T) {
	w := withPods(seedCanary(t))
	w.settle()
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	at := w.requestRestart()

	d := w.step()
	wantEqual(t, "phase while restarting", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
	wantEqual(t, "message", w.ro.Status.Message, "rollout is restarting")
	if len(d.Actions) != 1 {
		t.Fatalf("first restart decision %+v, want one eviction", d.Actions)
	}
	w.restartOver(1, 1)
	wantEqual(t, "all pods replaced", w.podsBefore(at), 0)
	wantEqual(t, "evictions", len(w.Evicted()), 5)
	wantEqual(t, "restartedAt", w.ro.Status.RestartedAt, &at)
	wantEqual(t, "healthy again", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "no ReplicaSet change", w.Replicas(), map[string]int32{canaryBlue: 5})

	// Done means done: the next decisions evict nothing.
	n := len(w.Evicted())
	w.advance(time.Minute)
	wantEqual(t, "no more evictions", len(w.Evicted()), n)
}

// maxUnavailable sets the batch size; a PodDisruptionBudget that allows fewer
// disruptions refuses the rest, and the restart still completes.
func TestRestartBatchesAndDisruptionBudget(t *testing.T) {
	w := withPods(seedCanary(t))
	w.ro.Spec.Replicas = ptrTo(int32(6))
	mu := intstr.FromInt32(2)
	w.ro.Spec.Strategy.Canary.MaxUnavailable = &mu
	w.settle()
	at := w.requestRestart()
	d := w.step()
	wantEqual(t, "two at a time", len(d.Actions), 2)
	w.restartOver(2, 2)
	wantEqual(t, "all replaced", w.podsBefore(at), 0)
	wantEqual(t, "restartedAt", w.ro.Status.RestartedAt, &at)

	w.SetDisruptionBudget(1)
	at = w.requestRestart()
	w.restartOver(2, 1)
	wantEqual(t, "all replaced under the budget", w.podsBefore(at), 0)
	if w.RefusedEvictions() == 0 {
		t.Fatal("the budget never refused an eviction; the test does not test it")
	}
	wantEqual(t, "restartedAt", w.ro.Status.RestartedAt, &at)
}

// Blue-green uses blueGreen.maxUnavailable (25% by default, at least one pod).
func TestRestartBlueGreen(t *testing.T) {
	w := withPods(seedBlueGreen(t))
	w.ro.Spec.Replicas = ptrTo(int32(4))
	mu := intstr.FromString("50%")
	w.ro.Spec.Strategy.BlueGreen.MaxUnavailable = &mu
	w.settle()
	at := w.requestRestart()
	d := w.step()
	wantEqual(t, "two at a time", len(d.Actions), 2)
	w.restartOver(2, 2)
	wantEqual(t, "all replaced", w.podsBefore(at), 0)
	wantEqual(t, "restartedAt", w.ro.Status.RestartedAt, &at)
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}

// A restartAt in the future waits for its time; a manual pause holds the restart.
func TestRestartWaits(t *testing.T) {
	w := withPods(seedCanary(t))
	w.settle()
	at := metav1.NewTime(w.Now().Add(time.Hour))
	w.ro.Spec.RestartAt = &at
	d := w.step()
	wantEqual(t, "no action before restartAt", len(d.Actions), 0)
	wantEqual(t, "wake-up at restartAt", d.RequeueAfter, time.Hour)

	w.SetNow(at.Time)
	w.ro.Spec.Paused = true
	w.settle()
	wantEqual(t, "nothing evicted while paused", len(w.Evicted()), 0)
	w.ro.Spec.Paused = false
	w.restartOver(1, 1)
	wantEqual(t, "restartedAt", w.ro.Status.RestartedAt, &at)
}

// Pods that never become ready use up the budget: the restart does not take healthy
// pods away meanwhile.
func TestRestartHeldByUnavailablePods(t *testing.T) {
	w := withPods(seedCanary(t))
	w.settle()
	w.SetImage("argoproj/rollouts-demo:bad-ready")
	w.NeverReady("argoproj/rollouts-demo:bad-ready")
	w.settle() // 20%: one canary pod, never ready
	w.requestRestart()
	w.settle()
	wantEqual(t, "no eviction while a pod is unavailable", len(w.Evicted()), 0)
	wantEqual(t, "still restarting", w.ro.Status.RestartedAt == nil, true)
}
