package plan

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/hash"
)

const (
	canaryRO   = "rollouts-demo"
	canaryBlue = "rollouts-demo-5cd66ff7ff"
	blueHash   = "5cd66ff7ff"
	canarySvc  = "rollouts-demo-canary"
	stableSvc  = "rollouts-demo-stable"
)

// seedCanary is the getting-started canary: 5 replicas, setWeight 20, an indefinite
// pause, then 40/60/80 with 10 s pauses.
func seedCanary(t *testing.T) *world {
	t.Helper()
	return newWorld(t, loadRollout(t, "seed-canary-rollout.yaml"))
}

// withServices names a canary and a stable Service in the strategy and creates them.
func withServices(w *world) *world {
	c := w.ro.Spec.Strategy.Canary
	c.CanaryService, c.StableService = canarySvc, stableSvc
	for _, s := range []string{canarySvc, stableSvc, canaryRO} {
		w.svcs[s] = &corev1.Service{Spec: corev1.ServiceSpec{Selector: map[string]string{"app": canaryRO}}}
	}
	return w
}

func (w *world) stepIndex() int32 {
	if w.ro.Status.CurrentStepIndex == nil {
		return -1
	}
	return *w.ro.Status.CurrentStepIndex
}

func (w *world) rsOf(hash string) string { return w.ro.Name + "-" + hash }

func (w *world) eventMessages(reason string) []string {
	var out []string
	for _, e := range w.events {
		if e.Reason == reason {
			out = append(out, e.Message)
		}
	}
	return out
}

// checkAvailability fails when fewer than replicas-maxUnavailable pods are available
// across the ReplicaSets, once the rollout had that many.
func (w *world) minAvailable() int32 {
	var n int32
	for _, rs := range w.rss {
		n += rs.Status.AvailableReplicas
	}
	return n
}

func TestCanaryInitialDeploy(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	wantEqual(t, "replicasets", w.replicas(), map[string]int32{canaryBlue: 5})
	st := w.ro.Status
	wantEqual(t, "stableRS", st.StableRS, blueHash)
	wantEqual(t, "phase", st.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "step index", w.stepIndex(), int32(8))
	wantEqual(t, "step hash", st.CurrentStepHash, hash.Steps(w.ro.Spec.Strategy.Canary.Steps))
	wantEqual(t, "counts", []int32{st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas, st.HPAReplicas}, []int32{5, 5, 5, 5, 5})
	wantEqual(t, "selector", st.Selector, "app=rollouts-demo")
	wantEqual(t, "events", w.eventReasons(), []string{"RolloutUpdated", "NewReplicaSetCreated", "RolloutNotCompleted", "ScalingReplicaSet", "RolloutCompleted"})
	wantEqual(t, "completed", w.condition(v1alpha1.RolloutCompleted).Message, "Rollout completed update to revision 1 (5cd66ff7ff): Initial deploy")
	if st.Canary.Weights != nil {
		t.Fatal("weights are for traffic routing only")
	}
}

// The getting-started walkthrough: 20%, pause until promoted, then 40/60/80% with 10 s
// pauses that end on their own, and the old version gone at the end.
func TestCanarySeedWalkthrough(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	w.clearEvents()
	w.setImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellow := w.currentHash()
	yellowRS := w.rsOf(yellow)
	wantEqual(t, "20%", w.replicas(), map[string]int32{canaryBlue: 4, yellowRS: 1})
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "message", w.ro.Status.Message, "CanaryPauseStep")
	wantEqual(t, "step", w.stepIndex(), int32(1))
	wantEqual(t, "controllerPause", w.ro.Status.ControllerPause, true)
	wantEqual(t, "no requeue for an indefinite pause", w.last.RequeueAfter, time.Duration(0))
	wantEqual(t, "events", w.eventReasons(), []string{"RolloutUpdated", "NewReplicaSetCreated", "RolloutNotCompleted", "ScalingReplicaSet", "ScalingReplicaSet", "RolloutStepCompleted", "RolloutPaused"})
	wantEqual(t, "step message", w.eventMessages("RolloutStepCompleted"), []string{"Rollout step 1/8 completed (setWeight: 20)"})
	if c := w.condition(v1alpha1.RolloutPaused); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("Paused condition = %+v", c)
	}

	w.clearEvents()
	w.promote()
	w.settle()
	wantEqual(t, "40%", w.replicas(), map[string]int32{canaryBlue: 3, yellowRS: 2})
	wantEqual(t, "step", w.stepIndex(), int32(3))
	wantEqual(t, "paused for 10s", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "requeue", w.last.RequeueAfter, 10*time.Second)
	wantEqual(t, "events on promote", w.eventReasons(), []string{"RolloutStepCompleted", "RolloutResumed", "ScalingReplicaSet", "ScalingReplicaSet", "RolloutStepCompleted", "RolloutPaused"})
	wantEqual(t, "step messages", w.eventMessages("RolloutStepCompleted"), []string{"Rollout step 2/8 completed (pause)", "Rollout step 3/8 completed (setWeight: 40)"})

	w.advance(10 * time.Second)
	wantEqual(t, "60%", w.replicas(), map[string]int32{canaryBlue: 2, yellowRS: 3})
	wantEqual(t, "step", w.stepIndex(), int32(5))
	w.advance(10 * time.Second)
	wantEqual(t, "80%", w.replicas(), map[string]int32{canaryBlue: 1, yellowRS: 4})
	wantEqual(t, "step", w.stepIndex(), int32(7))
	w.clearEvents()
	w.advance(10 * time.Second)
	wantEqual(t, "done", w.replicas(), map[string]int32{canaryBlue: 0, yellowRS: 5})
	wantEqual(t, "step", w.stepIndex(), int32(8))
	wantEqual(t, "stable", w.ro.Status.StableRS, yellow)
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "completed", w.condition(v1alpha1.RolloutCompleted).Message, "Rollout completed update to revision 2 ("+yellow+"): Completed all 8 canary steps")
	wantEqual(t, "events at the end", w.eventReasons(), []string{"RolloutStepCompleted", "RolloutResumed", "ScalingReplicaSet", "ScalingReplicaSet", "RolloutCompleted"})
	st := w.ro.Status
	wantEqual(t, "counts", []int32{st.Replicas, st.UpdatedReplicas, st.AvailableReplicas}, []int32{5, 5, 5})
	if c := w.condition(v1alpha1.RolloutProgressing); c.Reason != v1alpha1.NewRSAvailableReason {
		t.Fatalf("Progressing = %+v", c)
	}
}

// The planner's part of the event order of upstream's TestRolloutAbortRetryPromote
// (compat.md §2.4): setWeight 50, pause 3s, abort, retry. The first event,
// RolloutAddedToInformer, comes from the controller.
func TestCanaryAbortRetryPromoteEvents(t *testing.T) {
	ro := loadRollout(t, "seed-canary-rollout.yaml")
	ro.Spec.Replicas = ptrTo(int32(1))
	ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{
		{SetWeight: ptrTo(int32(50))},
		{Pause: &v1alpha1.RolloutPause{Duration: ptrTo(intstr.FromString("3s"))}},
	}
	w := newWorld(t, ro)
	w.settle()
	w.setImage("argoproj/rollouts-demo:green")
	w.settle()
	wantEqual(t, "paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	green := w.rsOf(w.currentHash())
	wantEqual(t, "50% of one replica", w.replicas(), map[string]int32{canaryBlue: 1, green: 1})

	w.ro.Status.Abort = true
	w.settle()
	wantEqual(t, "degraded", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
	wantEqual(t, "message", w.ro.Status.Message, "RolloutAborted: Rollout aborted update to revision 2")
	wantEqual(t, "canary gone", w.replicas(), map[string]int32{canaryBlue: 1, green: 0})

	w.ro.Status.Abort = false
	w.settle()
	wantEqual(t, "paused again", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "requeue", w.last.RequeueAfter, 3*time.Second)
	w.advance(3 * time.Second)
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "replicasets", w.replicas(), map[string]int32{canaryBlue: 0, green: 1})

	wantEqual(t, "events", w.eventReasons(), []string{
		"RolloutUpdated", "NewReplicaSetCreated", "RolloutNotCompleted", "ScalingReplicaSet", "RolloutCompleted",
		"RolloutUpdated", "NewReplicaSetCreated", "RolloutNotCompleted", "ScalingReplicaSet", "RolloutStepCompleted", "RolloutPaused",
		"ScalingReplicaSet", "RolloutAborted",
		"ScalingReplicaSet", "RolloutStepCompleted", "RolloutPaused",
		"RolloutStepCompleted", "RolloutResumed", "ScalingReplicaSet", "RolloutCompleted",
	})
	wantEqual(t, "step messages", w.eventMessages("RolloutStepCompleted"), []string{
		"Rollout step 1/2 completed (setWeight: 50)", "Rollout step 1/2 completed (setWeight: 50)", "Rollout step 2/2 completed (pause: 3s)",
	})
	wantEqual(t, "completion", w.eventMessages("RolloutCompleted")[1], "Rollout completed update to revision 2 ("+w.currentHash()+"): Completed all 2 canary steps")
}
