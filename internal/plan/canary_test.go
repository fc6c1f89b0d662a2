package plan_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/hash"
	"github.com/tern-rollouts/tern/internal/plan"
	"github.com/tern-rollouts/tern/internal/plan/simulate"
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
		w.AddService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: s}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": canaryRO}}})
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
	for _, e := range w.Events() {
		if e.Reason == reason {
			out = append(out, e.Message)
		}
	}
	return out
}

// availablePods counts the available pods of every version, as the kubelet left them.
func (w *world) availablePods() int32 {
	var n int32
	for _, rs := range w.ReplicaSets() {
		n += rs.Status.AvailableReplicas
	}
	return n
}

func TestCanaryInitialDeploy(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	wantEqual(t, "replicasets", w.Replicas(), map[string]int32{canaryBlue: 5})
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
	w.ClearEvents()
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellow := w.currentHash()
	yellowRS := w.rsOf(yellow)
	wantEqual(t, "20%", w.Replicas(), map[string]int32{canaryBlue: 4, yellowRS: 1})
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "message", w.ro.Status.Message, "CanaryPauseStep")
	wantEqual(t, "step", w.stepIndex(), int32(1))
	wantEqual(t, "controllerPause", w.ro.Status.ControllerPause, true)
	wantEqual(t, "no requeue for an indefinite pause", w.Last().RequeueAfter, time.Duration(0))
	wantEqual(t, "events", w.eventReasons(), []string{"RolloutUpdated", "NewReplicaSetCreated", "RolloutNotCompleted", "ScalingReplicaSet", "ScalingReplicaSet", "RolloutStepCompleted", "RolloutPaused"})
	wantEqual(t, "step message", w.eventMessages("RolloutStepCompleted"), []string{"Rollout step 1/8 completed (setWeight: 20)"})
	if c := w.condition(v1alpha1.RolloutPaused); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("Paused condition = %+v", c)
	}

	w.ClearEvents()
	w.Promote()
	w.settle()
	wantEqual(t, "40%", w.Replicas(), map[string]int32{canaryBlue: 3, yellowRS: 2})
	wantEqual(t, "step", w.stepIndex(), int32(3))
	wantEqual(t, "paused for 10s", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "requeue", w.Last().RequeueAfter, 10*time.Second)
	wantEqual(t, "events on promote", w.eventReasons(), []string{"RolloutStepCompleted", "RolloutResumed", "ScalingReplicaSet", "ScalingReplicaSet", "RolloutStepCompleted", "RolloutPaused"})
	wantEqual(t, "step messages", w.eventMessages("RolloutStepCompleted"), []string{"Rollout step 2/8 completed (pause)", "Rollout step 3/8 completed (setWeight: 40)"})

	w.advance(10 * time.Second)
	wantEqual(t, "60%", w.Replicas(), map[string]int32{canaryBlue: 2, yellowRS: 3})
	wantEqual(t, "step", w.stepIndex(), int32(5))
	w.advance(10 * time.Second)
	wantEqual(t, "80%", w.Replicas(), map[string]int32{canaryBlue: 1, yellowRS: 4})
	wantEqual(t, "step", w.stepIndex(), int32(7))
	w.ClearEvents()
	w.advance(10 * time.Second)
	wantEqual(t, "done", w.Replicas(), map[string]int32{canaryBlue: 0, yellowRS: 5})
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
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	wantEqual(t, "paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	green := w.rsOf(w.currentHash())
	wantEqual(t, "50% of one replica", w.Replicas(), map[string]int32{canaryBlue: 1, green: 1})

	w.ro.Status.Abort = true
	w.settle()
	wantEqual(t, "degraded", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
	wantEqual(t, "message", w.ro.Status.Message, "RolloutAborted: Rollout aborted update to revision 2")
	wantEqual(t, "canary gone", w.Replicas(), map[string]int32{canaryBlue: 1, green: 0})

	w.ro.Status.Abort = false
	w.settle()
	wantEqual(t, "paused again", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "requeue", w.Last().RequeueAfter, 3*time.Second)
	w.advance(3 * time.Second)
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "replicasets", w.Replicas(), map[string]int32{canaryBlue: 0, green: 1})

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

// settleChecking settles like w.settle, running check after every step.
func (w *world) settleChecking(check func()) {
	w.t.Helper()
	w.must(w.Run(40, func() bool {
		check()
		return w.Settled()
	}))
}

func TestCanaryAbortRetryWithServices(t *testing.T) {
	w := withServices(seedCanary(t))
	w.settle()
	wantEqual(t, "stable svc", w.Selector(stableSvc), blueHash)
	wantEqual(t, "canary svc", w.Selector(canarySvc), blueHash)
	wantEqual(t, "plain service untouched", w.Selector(canaryRO), "")

	w.SetImage("argoproj/rollouts-demo:red")
	w.settle()
	red := w.currentHash()
	wantEqual(t, "canary svc on the canary", w.Selector(canarySvc), red)
	wantEqual(t, "stable svc stays", w.Selector(stableSvc), blueHash)

	w.ClearEvents()
	w.ro.Status.Abort = true
	w.settle()
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
	wantEqual(t, "canary svc back on stable", w.Selector(canarySvc), blueHash)
	wantEqual(t, "replicasets", w.Replicas(), map[string]int32{canaryBlue: 5, w.rsOf(red): 0})
	wantEqual(t, "step index reset", w.stepIndex(), int32(0))
	wantEqual(t, "pause cleared", len(w.ro.Status.PauseConditions), 0)
	wantEqual(t, "controllerPause cleared", w.ro.Status.ControllerPause, false)
	if w.ro.Status.AbortedAt == nil {
		t.Fatal("abortedAt not set")
	}
	if c := w.condition(v1alpha1.RolloutProgressing); c.Status != corev1.ConditionFalse || c.Reason != v1alpha1.RolloutAbortedReason {
		t.Fatalf("Progressing = %+v", c)
	}
	wantEqual(t, "events", w.eventReasons(), []string{"ScalingReplicaSet", "SwitchService", "ScalingReplicaSet", "RolloutAborted"})
	wantEqual(t, "stable stays stable", w.ro.Status.StableRS, blueHash)

	w.ClearEvents()
	w.ro.Status.Abort = false
	w.settle()
	wantEqual(t, "abortedAt cleared", w.ro.Status.AbortedAt == nil, true)
	wantEqual(t, "back at the first pause", w.stepIndex(), int32(1))
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "replicasets", w.Replicas(), map[string]int32{canaryBlue: 4, w.rsOf(red): 1})
	wantEqual(t, "canary svc", w.Selector(canarySvc), red)
	if c := w.condition(v1alpha1.RolloutProgressing); c.Reason != v1alpha1.PausedRolloutReason {
		t.Fatalf("Progressing = %+v", c)
	}
}

// After an abort, going back to the stable template skips the steps: no new ReplicaSet,
// Healthy as soon as the stable version is whole again.
func TestCanaryAbortThenStableImage(t *testing.T) {
	w := withServices(seedCanary(t))
	w.settle()
	w.SetImage("argoproj/rollouts-demo:red")
	w.settle()
	redRS := w.rsOf(w.currentHash())
	w.ro.Status.Abort = true
	w.settle()
	w.ClearEvents()
	w.SetImage("argoproj/rollouts-demo:blue")
	w.settle()
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "abort cleared", w.ro.Status.Abort, false)
	wantEqual(t, "abortedAt cleared", w.ro.Status.AbortedAt == nil, true)
	wantEqual(t, "no new replicaset", w.Replicas(), map[string]int32{canaryBlue: 5, redRS: 0})
	wantEqual(t, "steps skipped", w.stepIndex(), int32(8))
	wantEqual(t, "events", w.eventReasons(), []string{"RolloutUpdated", "SkipSteps", "RolloutCompleted"})
	wantEqual(t, "skip message", w.eventMessages("SkipSteps"), []string{"Rollback to stable ReplicaSets"})
	wantEqual(t, "stable revision bumped", w.ReplicaSet(canaryBlue).Annotations[v1alpha1.RevisionAnnotation], "3")
}

// Going back to the stable template in the middle of an update (no abort) also skips
// the steps and drops the canary at once.
func TestCanaryBackToStableMidUpdate(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	w.SetImage("argoproj/rollouts-demo:red")
	w.settle()
	redRS := w.rsOf(w.currentHash())
	w.ClearEvents()
	w.SetImage("argoproj/rollouts-demo:blue")
	w.step()
	wantEqual(t, "scaled at once", w.Replicas(), map[string]int32{canaryBlue: 5, redRS: 0})
	w.settle()
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "not paused", len(w.ro.Status.PauseConditions), 0)
	wantEqual(t, "events", w.eventReasons(), []string{"RolloutUpdated", "SkipSteps", "RolloutResumed", "ScalingReplicaSet", "ScalingReplicaSet", "RolloutCompleted"})
	if !strings.HasSuffix(w.condition(v1alpha1.RolloutCompleted).Message, "Fast rollback") {
		t.Fatalf("completion %q", w.condition(v1alpha1.RolloutCompleted).Message)
	}
}

func TestCanaryPromoteFull(t *testing.T) {
	w := withServices(seedCanary(t))
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	green := w.currentHash()
	w.ro.Status.PromoteFull = true
	w.settleChecking(func() {
		if w.availablePods() < 4 {
			t.Fatalf("available %d below replicas-maxUnavailable", w.availablePods())
		}
	})
	wantEqual(t, "replicasets", w.Replicas(), map[string]int32{canaryBlue: 0, w.rsOf(green): 5})
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "promoteFull cleared", w.ro.Status.PromoteFull, false)
	wantEqual(t, "steps done", w.stepIndex(), int32(8))
	wantEqual(t, "stable svc", w.Selector(stableSvc), green)
	wantEqual(t, "canary svc", w.Selector(canarySvc), green)
	if !strings.HasSuffix(w.condition(v1alpha1.RolloutCompleted).Message, "Full promotion requested") {
		t.Fatalf("completion = %q", w.condition(v1alpha1.RolloutCompleted).Message)
	}
}

// Pods of a version that never becomes ready: the stable version never drops below
// replicas-maxUnavailable available pods, and the total stays within replicas+maxSurge.
func TestCanaryNeverReadyWithinSurgeAndUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name           string
		steps          []v1alpha1.CanaryStep
		surge, unavail intstr.IntOrString
	}{
		{"steps, defaults", nil, intstr.FromString("25%"), intstr.FromString("25%")},
		{"no steps, defaults", []v1alpha1.CanaryStep{}, intstr.FromString("25%"), intstr.FromString("25%")},
		{"no steps, surge 3 unavailable 0", []v1alpha1.CanaryStep{}, intstr.FromInt32(3), intstr.FromInt32(0)},
		{"no steps, surge 0 unavailable 2", []v1alpha1.CanaryStep{}, intstr.FromInt32(0), intstr.FromInt32(2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := seedCanary(t)
			c := w.ro.Spec.Strategy.Canary
			if tc.steps != nil {
				c.Steps = tc.steps
			}
			c.MaxSurge, c.MaxUnavailable = &tc.surge, &tc.unavail
			surge, unavail := plan.SurgeAndUnavailable(5, tc.surge, tc.unavail)
			w.NeverReady("argoproj/rollouts-demo:bad")
			w.settle()
			w.SetImage("argoproj/rollouts-demo:bad")
			check := func() {
				var total, stableAvail int32
				for _, rs := range w.ReplicaSets() {
					total += specReplicas(rs)
				}
				stableAvail = w.ReplicaSet(canaryBlue).Status.AvailableReplicas
				if stableAvail < 5-unavail {
					t.Fatalf("stable has %d available, below %d", stableAvail, 5-unavail)
				}
				if total > 5+surge {
					t.Fatalf("%d pods, over %d", total, 5+surge)
				}
			}
			w.settleChecking(check)
			wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
			wantEqual(t, "stable", w.ro.Status.StableRS, blueHash)
			w.SetNow(w.Now().Add(11 * time.Minute))
			w.settleChecking(check)
			wantEqual(t, "deadline", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
			if !strings.HasPrefix(w.ro.Status.Message, "ProgressDeadlineExceeded: ") {
				t.Fatalf("message %q", w.ro.Status.Message)
			}
		})
	}
}

// A bad update replaced by a good one: the abandoned canary goes first, the stable
// version stays stable, and the good one goes through the steps.
func TestCanaryBadThenGood(t *testing.T) {
	w := seedCanary(t)
	w.NeverReady("argoproj/rollouts-demo:bad")
	w.settle()
	w.SetImage("argoproj/rollouts-demo:bad")
	w.settle()
	badRS := w.rsOf(w.currentHash())
	wantEqual(t, "bad canary", w.Replicas(), map[string]int32{canaryBlue: 4, badRS: 1})
	wantEqual(t, "waits at step 0", w.stepIndex(), int32(0))
	w.ClearEvents()
	w.SetImage("argoproj/rollouts-demo:good")
	w.step()
	goodRS := w.rsOf(w.currentHash())
	wantEqual(t, "abandoned canary scaled down first", w.Replicas(), map[string]int32{canaryBlue: 4, badRS: 0, goodRS: 1})
	w.settle()
	wantEqual(t, "stable stays", w.ro.Status.StableRS, blueHash)
	wantEqual(t, "paused at step 1", w.stepIndex(), int32(1))
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	w.ro.Status.PromoteFull = true
	w.settle()
	wantEqual(t, "promoted", w.Replicas(), map[string]int32{canaryBlue: 0, badRS: 0, goodRS: 5})
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}

// A good update replaced mid-way by a bad one: the abandoned canary is drained, the
// stable version keeps its pods, and the bad one never gets more than its share.
func TestCanaryGoodThenBad(t *testing.T) {
	w := seedCanary(t)
	w.NeverReady("argoproj/rollouts-demo:bad")
	w.settle()
	w.SetImage("argoproj/rollouts-demo:good")
	w.settle()
	w.Promote()
	w.settle()
	goodRS := w.rsOf(w.currentHash())
	wantEqual(t, "40%", w.Replicas(), map[string]int32{canaryBlue: 3, goodRS: 2})
	w.SetImage("argoproj/rollouts-demo:bad")
	check := func() {
		if w.availablePods() < 4 {
			t.Fatalf("available %d below replicas-maxUnavailable: %v", w.availablePods(), w.Replicas())
		}
	}
	w.settleChecking(check)
	badRS := w.rsOf(w.currentHash())
	wantEqual(t, "stable stays", w.ro.Status.StableRS, blueHash)
	wantEqual(t, "abandoned canary gone, stable back to its share", w.Replicas(), map[string]int32{canaryBlue: 4, goodRS: 0, badRS: 1})
	wantEqual(t, "restarted at step 0", w.stepIndex(), int32(0))
	wantEqual(t, "not paused", len(w.ro.Status.PauseConditions), 0)
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
}

// upstream TestRolloutScalingWhenPaused: one replica paused at 25% (1/1), scaled to 8
// then to 4, keeping the weight.
func TestCanaryScalingWhenPaused(t *testing.T) {
	w := seedCanary(t)
	w.ro.Spec.Replicas = ptrTo(int32(1))
	w.ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{SetWeight: ptrTo(int32(25))}, {Pause: &v1alpha1.RolloutPause{}}}
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	greenRS := w.rsOf(w.currentHash())
	wantEqual(t, "1/1", w.Replicas(), map[string]int32{canaryBlue: 1, greenRS: 1})
	wantEqual(t, "paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	w.ro.Spec.Replicas = ptrTo(int32(8))
	w.settle()
	wantEqual(t, "2/6", w.Replicas(), map[string]int32{canaryBlue: 6, greenRS: 2})
	wantEqual(t, "still paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "desired-replicas", w.ReplicaSet(greenRS).Annotations[v1alpha1.DesiredReplicasAnnotation], "8")
	w.ro.Spec.Replicas = ptrTo(int32(4))
	w.settle()
	wantEqual(t, "1/3", w.Replicas(), map[string]int32{canaryBlue: 3, greenRS: 1})
	wantEqual(t, "still at step 1", w.stepIndex(), int32(1))
	wantEqual(t, "available", w.ro.Status.AvailableReplicas, int32(4))
}

// Scaling in the middle of an update keeps the weight of the current step.
func TestCanaryScalingMidUpdate(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	w.Promote()
	w.settle() // 40%, paused 10 s
	greenRS := w.rsOf(w.currentHash())
	w.ro.Spec.Replicas = ptrTo(int32(10))
	w.settle()
	wantEqual(t, "40% of 10", w.Replicas(), map[string]int32{canaryBlue: 6, greenRS: 4})
	w.advance(10 * time.Second)
	wantEqual(t, "60% of 10", w.Replicas(), map[string]int32{canaryBlue: 4, greenRS: 6})
}

// No steps: a rolling update straight to 100%, within maxSurge and maxUnavailable.
func TestCanaryNoStepsRollingUpdate(t *testing.T) {
	w := seedCanary(t)
	w.ro.Spec.Strategy.Canary.Steps = nil
	w.ro.Spec.Replicas = ptrTo(int32(10))
	w.settle()
	wantEqual(t, "no step index without steps", w.ro.Status.CurrentStepIndex == nil, true)
	w.SetImage("argoproj/rollouts-demo:green")
	greenRS := ""
	steps := 0
	w.settleChecking(func() {
		steps++
		greenRS = w.rsOf(w.currentHash())
		var total int32
		for _, rs := range w.ReplicaSets() {
			total += specReplicas(rs)
		}
		if total > 13 { // 10 + 25% rounded up
			t.Fatalf("%d pods over replicas+maxSurge", total)
		}
		if w.availablePods() < 8 { // 10 - 25% rounded down
			t.Fatalf("%d available", w.availablePods())
		}
	})
	wantEqual(t, "replicasets", w.Replicas(), map[string]int32{canaryBlue: 0, greenRS: 10})
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	if steps < 3 {
		t.Fatalf("went over in %d steps: surge/unavailable not honoured", steps)
	}
	if !strings.HasSuffix(w.condition(v1alpha1.RolloutCompleted).Message, "Completed all 0 canary steps") {
		t.Fatalf("completion %q", w.condition(v1alpha1.RolloutCompleted).Message)
	}
	wantEqual(t, "no step completed events", len(w.eventMessages("RolloutStepCompleted")), 0)
}

// A timed pause asks to be woken at its end, for the time that remains, and ends on
// its own without polling.
func TestCanaryTimedPauseRequeue(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	w.Promote()
	w.settle()
	wantEqual(t, "at the 10 s pause", w.stepIndex(), int32(3))
	wantEqual(t, "requeue", w.Last().RequeueAfter, 10*time.Second)
	w.advance(4 * time.Second)
	wantEqual(t, "still paused", w.stepIndex(), int32(3))
	wantEqual(t, "remaining", w.Last().RequeueAfter, 6*time.Second)
	w.advance(6 * time.Second)
	wantEqual(t, "next pause", w.stepIndex(), int32(5))
	wantEqual(t, "requeue for the next pause", w.Last().RequeueAfter, 10*time.Second)
	pc := findPause(w.ro.Status.PauseConditions, v1alpha1.PauseReasonCanaryPauseStep)
	wantEqual(t, "pause start", pc.StartTime.Time, epoch.Add(10*time.Second))
}

// Pause durations in the other forms manifests use.
func TestCanaryPauseDurationForms(t *testing.T) {
	for _, d := range []intstr.IntOrString{intstr.FromString("1m"), intstr.FromString("60"), intstr.FromInt32(60)} {
		w := seedCanary(t)
		w.ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{SetWeight: ptrTo(int32(20))}, {Pause: &v1alpha1.RolloutPause{Duration: &d}}}
		w.settle()
		w.SetImage("argoproj/rollouts-demo:green")
		w.settle()
		wantEqual(t, "requeue "+d.String(), w.Last().RequeueAfter, time.Minute)
		w.advance(time.Minute)
		wantEqual(t, "done "+d.String(), w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
		wantEqual(t, "step string", w.eventMessages("RolloutStepCompleted")[1], "Rollout step 2/2 completed (pause: "+d.String()+")")
	}
}

// A change of steps in the middle of an update starts the steps over.
func TestCanaryStepsChangedMidUpdate(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	w.Promote()
	w.settle()
	wantEqual(t, "at step 3", w.stepIndex(), int32(3))
	w.ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{SetWeight: ptrTo(int32(60))}, {Pause: &v1alpha1.RolloutPause{}}}
	w.ro.Generation++
	w.settle()
	greenRS := w.rsOf(w.currentHash())
	wantEqual(t, "restarted and at the new pause", w.stepIndex(), int32(1))
	wantEqual(t, "60%", w.Replicas(), map[string]int32{canaryBlue: 2, greenRS: 3})
	wantEqual(t, "step hash", w.ro.Status.CurrentStepHash, hash.Steps(w.ro.Spec.Strategy.Canary.Steps))
	wantEqual(t, "no second replicaset", len(w.ReplicaSets()), 2)
}

func TestCanaryManualPauseFreezes(t *testing.T) {
	w := seedCanary(t)
	w.settle()
	w.ro.Spec.Paused = true
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "message", w.ro.Status.Message, "manually paused")
	wantEqual(t, "nothing created", len(w.ReplicaSets()), 1)
	w.ro.Spec.Paused = false
	w.settle()
	wantEqual(t, "20% after unpause", w.Replicas(), map[string]int32{canaryBlue: 4, w.rsOf(w.currentHash()): 1})
	wantEqual(t, "then the pause step", w.ro.Status.Message, "CanaryPauseStep")
}

// The progress deadline does not run while paused: a long pause is not a stall.
func TestCanaryNoDeadlineWhilePaused(t *testing.T) {
	w := seedCanary(t)
	w.ro.Spec.ProgressDeadlineSeconds = ptrTo(int32(10))
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	w.advance(time.Hour)
	wantEqual(t, "paused, not degraded", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	w.Promote()
	w.settle()
	w.advance(10 * time.Second)
	w.advance(10 * time.Second)
	w.advance(10 * time.Second)
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}

func TestCanaryProgressDeadlineAbort(t *testing.T) {
	w := withServices(seedCanary(t))
	w.ro.Spec.ProgressDeadlineSeconds = ptrTo(int32(10))
	w.ro.Spec.ProgressDeadlineAbort = true
	w.NeverReady("argoproj/rollouts-demo:bad")
	w.settle()
	w.SetImage("argoproj/rollouts-demo:bad")
	w.settle()
	badRS := w.rsOf(w.currentHash())
	wantEqual(t, "canary svc not on unready pods", w.Selector(canarySvc), blueHash)
	w.advance(11 * time.Second)
	wantEqual(t, "aborted", w.ro.Status.Abort, true)
	wantEqual(t, "degraded", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
	wantEqual(t, "canary gone", w.Replicas(), map[string]int32{canaryBlue: 5, badRS: 0})
	wantEqual(t, "message", w.ro.Status.Message, `RolloutAborted: Rollout aborted update to revision 2: ReplicaSet "`+badRS+`" has timed out progressing.`)
}

// rollbackWindow: going back to a recent revision skips the steps.
func TestCanaryRollbackWithinWindow(t *testing.T) {
	for _, tc := range []struct {
		revisions int32
		fast      bool
	}{{1, true}, {0, false}} {
		w := seedCanary(t)
		if tc.revisions > 0 {
			w.ro.Spec.RollbackWindow = &v1alpha1.RollbackWindowSpec{Revisions: tc.revisions}
		}
		w.settle()
		w.SetNow(w.Now().Add(time.Minute))
		w.SetImage("argoproj/rollouts-demo:green")
		w.settle()
		w.ro.Status.PromoteFull = true
		w.settle()
		greenRS := w.rsOf(w.currentHash())
		wantEqual(t, "green stable", w.Replicas(), map[string]int32{canaryBlue: 0, greenRS: 5})
		w.SetNow(w.Now().Add(time.Minute))
		w.SetImage("argoproj/rollouts-demo:blue")
		w.settle()
		if tc.fast {
			wantEqual(t, "fast rollback", w.Replicas(), map[string]int32{canaryBlue: 5, greenRS: 0})
			wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
			if !strings.HasSuffix(w.condition(v1alpha1.RolloutCompleted).Message, "Rollback within window") {
				t.Fatalf("completion %q", w.condition(v1alpha1.RolloutCompleted).Message)
			}
		} else {
			wantEqual(t, "full steps", w.Replicas(), map[string]int32{canaryBlue: 1, greenRS: 4})
			wantEqual(t, "paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
		}
	}
}

func TestCanaryStableAndCanaryServices(t *testing.T) {
	w := withServices(seedCanary(t))
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.step()
	green := w.currentHash()
	wantEqual(t, "canary svc waits for an available pod", w.Selector(canarySvc), blueHash)
	w.settle()
	wantEqual(t, "canary svc", w.Selector(canarySvc), green)
	wantEqual(t, "stable svc", w.Selector(stableSvc), blueHash)
	w.ro.Status.PromoteFull = true
	w.settle()
	wantEqual(t, "stable svc after promotion", w.Selector(stableSvc), green)
	wantEqual(t, "plain service never touched", w.Selector(canaryRO), "")
	for _, a := range w.Actions() {
		if s, ok := a.(plan.SetTraffic); ok {
			for _, sel := range s.Desired.Services {
				if sel.Service == canaryRO {
					t.Fatal("the plain service was switched")
				}
			}
		}
	}
}

func stepRun(w *world, step int, phase v1alpha1.AnalysisPhase, msg string) *v1alpha1.AnalysisRun {
	isController := true
	name := w.ro.Name + "-" + w.currentHash() + "-2-" + strconv.Itoa(step)
	if ar := w.AnalysisRun(name); ar != nil {
		// The planner created it on reaching the step.
		ar.Status.Phase, ar.Status.Message = phase, msg
		return ar
	}
	ar := &v1alpha1.AnalysisRun{}
	ar.Name = name
	ar.OwnerReferences = []metav1.OwnerReference{{Kind: "Rollout", Name: w.ro.Name, UID: w.ro.UID, Controller: &isController}}
	ar.Status.Phase = phase
	ar.Status.Message = msg
	w.AddAnalysisRun(ar)
	return ar
}

func analysisSteps() []v1alpha1.CanaryStep {
	return []v1alpha1.CanaryStep{
		{SetWeight: ptrTo(int32(20))},
		{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "success-rate"}}}},
		{SetWeight: ptrTo(int32(60))},
	}
}

func TestCanaryAnalysisStep(t *testing.T) {
	w := seedCanary(t)
	w.ro.Spec.Strategy.Canary.Steps = analysisSteps()
	w.ro.Spec.ProgressDeadlineSeconds = ptrTo(int32(10))
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	greenRS := w.rsOf(w.currentHash())
	wantEqual(t, "waits at the analysis step", w.stepIndex(), int32(1))
	w.advance(time.Hour)
	wantEqual(t, "no deadline while the analysis runs", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
	ar := stepRun(w, 1, v1alpha1.AnalysisPhaseRunning, "")
	w.settle()
	wantEqual(t, "still waiting", w.stepIndex(), int32(1))
	wantEqual(t, "run status", *w.ro.Status.Canary.CurrentStepAnalysisRunStatus, v1alpha1.RolloutAnalysisRunStatus{Name: ar.Name, Status: v1alpha1.AnalysisPhaseRunning})
	ar.Status.Phase = v1alpha1.AnalysisPhaseSuccessful
	w.ClearEvents()
	w.settle()
	wantEqual(t, "step message", w.eventMessages("RolloutStepCompleted")[0], "Rollout step 2/3 completed (analysis)")
	wantEqual(t, "done", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "replicasets", w.Replicas(), map[string]int32{canaryBlue: 0, greenRS: 5})
	if w.ro.Status.Canary.CurrentStepAnalysisRunStatus != nil {
		t.Fatal("run status kept after the update")
	}
}

func TestCanaryAnalysisStepFails(t *testing.T) {
	for _, phase := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError} {
		w := withServices(seedCanary(t))
		w.ro.Spec.Strategy.Canary.Steps = analysisSteps()
		w.settle()
		w.SetImage("argoproj/rollouts-demo:green")
		w.settle()
		greenRS := w.rsOf(w.currentHash())
		stepRun(w, 1, phase, `Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)`)
		w.settle()
		wantEqual(t, "aborted", w.ro.Status.Abort, true)
		wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
		wantEqual(t, "message", w.ro.Status.Message, `RolloutAborted: Rollout aborted update to revision 2: Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)`)
		wantEqual(t, "canary gone", w.Replicas(), map[string]int32{canaryBlue: 5, greenRS: 0})
		wantEqual(t, "never promoted", w.ro.Status.StableRS, blueHash)
		wantEqual(t, "canary svc on stable", w.Selector(canarySvc), blueHash)
	}
}

func TestCanaryAnalysisStepInconclusive(t *testing.T) {
	w := seedCanary(t)
	w.ro.Spec.Strategy.Canary.Steps = analysisSteps()
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	stepRun(w, 1, v1alpha1.AnalysisPhaseInconclusive, "")
	w.settle()
	wantEqual(t, "paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "message", w.ro.Status.Message, "InconclusiveAnalysisRun")
	wantEqual(t, "at the step", w.stepIndex(), int32(1))
	w.Promote() // a resume that only clears the pause conditions runs the analysis again
	w.settle()
	wantEqual(t, "measuring again", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
	stepRun(w, 1, v1alpha1.AnalysisPhaseInconclusive, "")
	w.current(simulate.StepRun).Status.Phase = v1alpha1.AnalysisPhaseSuccessful
	w.settle()
	wantEqual(t, "the rerun decided", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}
