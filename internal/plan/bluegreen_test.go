package plan_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/hash"
	"github.com/tern-rollouts/tern/internal/plan"
)

const (
	activeSvc  = "rollout-bluegreen-active"
	previewSvc = "rollout-bluegreen-preview"
	blueRS     = "rollout-bluegreen-558dcdc6d"
)

func seedBlueGreen(t *testing.T) *world {
	t.Helper()
	ro := loadRollout(t, "seed-bluegreen.yaml")
	return newWorld(t, ro, activeSvc, previewSvc)
}

func (w *world) currentHash() string {
	return hash.PodTemplate(&w.ro.Spec.Template, w.ro.Status.CollisionCount)
}

func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func TestBlueGreenInitialDeploy(t *testing.T) {
	w := seedBlueGreen(t)
	w.settle()
	wantEqual(t, "replicasets", w.Replicas(), map[string]int32{blueRS: 2})
	wantEqual(t, "active selector", w.Selector(activeSvc), "558dcdc6d")
	wantEqual(t, "preview selector", w.Selector(previewSvc), "558dcdc6d")
	st := w.ro.Status
	wantEqual(t, "stableRS", st.StableRS, "558dcdc6d")
	wantEqual(t, "phase", st.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "observedGeneration", st.ObservedGeneration, "1")
	wantEqual(t, "activeSelector", st.BlueGreen.ActiveSelector, "558dcdc6d")
	wantEqual(t, "counts", []int32{st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas}, []int32{2, 2, 2, 2})
	wantEqual(t, "selector", st.Selector, "app=rollout-bluegreen,rollouts-pod-template-hash=558dcdc6d")
	wantEqual(t, "events", w.eventReasons(), []string{"RolloutUpdated", "NewReplicaSetCreated", "ScalingReplicaSet", "RolloutCompleted", "SwitchService", "SwitchService"})
	wantEqual(t, "completed message", w.condition(v1alpha1.RolloutCompleted).Message, "Rollout completed update to revision 1 (558dcdc6d): Initial deploy")
	rs := w.ReplicaSet(blueRS)
	wantEqual(t, "rs revision", rs.Annotations[v1alpha1.RevisionAnnotation], "1")
	wantEqual(t, "rs labels", rs.Labels, map[string]string{"app": "rollout-bluegreen", hashKey: "558dcdc6d"})
	wantEqual(t, "rs selector", rs.Spec.Selector.MatchLabels, map[string]string{"app": "rollout-bluegreen", hashKey: "558dcdc6d"})
	wantEqual(t, "rollout revision", w.ro.Annotations[v1alpha1.RevisionAnnotation], "1")
	if c := w.condition(v1alpha1.RolloutHealthy); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("Healthy condition = %+v", c)
	}
}

// The seed walkthrough: update, pause with the preview on the new version, promote,
// and the old version scaled down once the scale-down delay has passed.
func TestBlueGreenSeedWalkthrough(t *testing.T) {
	w := seedBlueGreen(t)
	w.settle()
	w.ClearEvents()
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellow := w.currentHash()
	yellowRS := "rollout-bluegreen-" + yellow
	wantEqual(t, "replicasets while paused", w.Replicas(), map[string]int32{blueRS: 2, yellowRS: 2})
	wantEqual(t, "preview", w.Selector(previewSvc), yellow)
	wantEqual(t, "active", w.Selector(activeSvc), "558dcdc6d")
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "message", w.ro.Status.Message, "BlueGreenPause")
	wantEqual(t, "controllerPause", w.ro.Status.ControllerPause, true)
	if c := w.condition(v1alpha1.RolloutPaused); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("Paused condition = %+v (kubectl wait --for=condition=Paused needs it True)", c)
	}
	wantEqual(t, "events until pause", w.eventReasons(), []string{"RolloutUpdated", "NewReplicaSetCreated", "RolloutNotCompleted", "ScalingReplicaSet", "SwitchService", "RolloutPaused"})

	w.ClearEvents()
	w.Promote()
	w.settle()
	wantEqual(t, "active after promote", w.Selector(activeSvc), yellow)
	wantEqual(t, "stable", w.ro.Status.StableRS, yellow)
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	if _, ok := w.ReplicaSet(blueRS).Annotations[v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey]; !ok {
		t.Fatal("old active ReplicaSet has no scale-down-deadline")
	}
	wantEqual(t, "old kept during delay", w.Replicas()[blueRS], int32(2))
	wantEqual(t, "requeue for the delay", w.Last().RequeueAfter, 30*time.Second)
	wantEqual(t, "events on promote", w.eventReasons(), []string{"RolloutResumed", "SwitchService", "RolloutCompleted"})
	wantEqual(t, "completion", w.condition(v1alpha1.RolloutCompleted).Message, "Rollout completed update to revision 2 ("+yellow+"): Completed blue-green update")

	w.ClearEvents()
	w.advance(31 * time.Second)
	wantEqual(t, "after delay", w.Replicas(), map[string]int32{blueRS: 0, yellowRS: 2})
	wantEqual(t, "scale-down event", w.eventReasons(), []string{"ScalingReplicaSet"})
	wantEqual(t, "message", w.Events()[0].Message, "Scaled down ReplicaSet "+blueRS+" (revision 1) from 2 to 0")
	wantEqual(t, "counts", []int32{w.ro.Status.Replicas, w.ro.Status.UpdatedReplicas, w.ro.Status.AvailableReplicas}, []int32{2, 2, 2})
}

func TestBlueGreenAutoPromotion(t *testing.T) {
	w := seedBlueGreen(t)
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = nil
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	green := w.currentHash()
	wantEqual(t, "active", w.Selector(activeSvc), green)
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "no pause", len(w.ro.Status.PauseConditions), 0)
}

func TestBlueGreenAutoPromotionSeconds(t *testing.T) {
	w := seedBlueGreen(t)
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = nil
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionSeconds = 20
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	wantEqual(t, "paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "requeue at the auto-promotion", w.Last().RequeueAfter, 20*time.Second)
	w.advance(10 * time.Second)
	wantEqual(t, "still paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	w.advance(10 * time.Second)
	wantEqual(t, "active", w.Selector(activeSvc), w.currentHash())
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}

func TestBlueGreenPreviewReplicaCount(t *testing.T) {
	w := seedBlueGreen(t)
	w.ro.Spec.Replicas = ptrTo(int32(4))
	w.ro.Spec.Strategy.BlueGreen.PreviewReplicaCount = ptrTo(int32(1))
	w.settle()
	wantEqual(t, "initial at full size", w.Replicas()[blueRS], int32(4))
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	greenRS := "rollout-bluegreen-" + w.currentHash()
	wantEqual(t, "preview at reduced size", w.Replicas()[greenRS], int32(1))
	wantEqual(t, "paused", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	w.Promote()
	w.step()
	wantEqual(t, "scaled up before the switch", w.Replicas()[greenRS], int32(4))
	wantEqual(t, "checkpoint", w.ro.Status.BlueGreen.ScaleUpPreviewCheckPoint, true)
	wantEqual(t, "active not switched yet", w.Selector(activeSvc), "558dcdc6d")
	w.settle()
	wantEqual(t, "active", w.Selector(activeSvc), w.currentHash())
	wantEqual(t, "checkpoint reset", w.ro.Status.BlueGreen.ScaleUpPreviewCheckPoint, false)
}

func TestBlueGreenAbortRetry(t *testing.T) {
	w := seedBlueGreen(t)
	w.settle()
	w.SetImage("argoproj/rollouts-demo:red")
	w.settle()
	redRS := "rollout-bluegreen-" + w.currentHash()
	w.ClearEvents()
	w.ro.Status.Abort = true
	w.settle()
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
	wantEqual(t, "message", w.ro.Status.Message, "RolloutAborted: Rollout aborted update to revision 2")
	wantEqual(t, "active stays", w.Selector(activeSvc), "558dcdc6d")
	wantEqual(t, "preview back to stable", w.Selector(previewSvc), "558dcdc6d")
	wantEqual(t, "preview kept for the abort delay", w.Replicas()[redRS], int32(2))
	if w.ro.Status.AbortedAt == nil {
		t.Fatal("abortedAt not set")
	}
	wantEqual(t, "events", w.eventReasons(), []string{"SwitchService", "RolloutAborted"})
	w.advance(30 * time.Second)
	wantEqual(t, "preview scaled down", w.Replicas()[redRS], int32(0))
	wantEqual(t, "still degraded", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)

	// retry
	w.ro.Status.Abort = false
	w.settle()
	wantEqual(t, "abortedAt cleared", w.ro.Status.AbortedAt == nil, true)
	wantEqual(t, "scaled up again", w.Replicas()[redRS], int32(2))
	wantEqual(t, "paused again", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "preview", w.Selector(previewSvc), w.currentHash())
}

func TestBlueGreenAbortThenBackToStable(t *testing.T) {
	w := seedBlueGreen(t)
	w.settle()
	w.SetImage("argoproj/rollouts-demo:red")
	w.settle()
	redRS := "rollout-bluegreen-" + w.currentHash()
	w.ro.Status.Abort = true
	w.settle()
	w.SetImage("argoproj/rollouts-demo:blue")
	w.settle()
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "abort cleared", w.ro.Status.Abort, false)
	wantEqual(t, "replicasets", w.Replicas(), map[string]int32{blueRS: 2, redRS: 0})
	wantEqual(t, "stable revision bumped", w.ReplicaSet(blueRS).Annotations[v1alpha1.RevisionAnnotation], "3")
	wantEqual(t, "history", w.ReplicaSet(blueRS).Annotations[v1alpha1.RevisionHistoryAnnotation], "1")
	wantEqual(t, "no new replicaset", len(w.ReplicaSets()), 2)
}

func TestBlueGreenFastTrackRollbackWithinDelay(t *testing.T) {
	w := seedBlueGreen(t)
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = nil
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	wantEqual(t, "blue waits out its delay", w.Replicas()[blueRS], int32(2))
	// Back to blue while it is still up: no pause, straight back to active.
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = ptrTo(false)
	w.SetImage("argoproj/rollouts-demo:blue")
	w.settle()
	wantEqual(t, "active", w.Selector(activeSvc), "558dcdc6d")
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	if !strings.HasSuffix(w.condition(v1alpha1.RolloutCompleted).Message, "Fast rollback") {
		t.Fatalf("completion = %q", w.condition(v1alpha1.RolloutCompleted).Message)
	}
}

func TestBlueGreenScaleDownDelayAcrossUpdates(t *testing.T) {
	w := seedBlueGreen(t)
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = nil
	w.ro.Spec.RevisionHistoryLimit = ptrTo(int32(5))
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	greenRS := "rollout-bluegreen-" + w.currentHash()
	w.advance(10 * time.Second)
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellowRS := "rollout-bluegreen-" + w.currentHash()
	wantEqual(t, "both old versions wait", w.Replicas(), map[string]int32{blueRS: 2, greenRS: 2, yellowRS: 2})
	w.advance(21 * time.Second)
	wantEqual(t, "first delay passed", w.Replicas(), map[string]int32{blueRS: 0, greenRS: 2, yellowRS: 2})
	w.advance(10 * time.Second)
	wantEqual(t, "second delay passed", w.Replicas(), map[string]int32{blueRS: 0, greenRS: 0, yellowRS: 2})
}

func TestBlueGreenRevisionHistoryLimit(t *testing.T) {
	w := seedBlueGreen(t)
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = nil
	w.ro.Spec.Strategy.BlueGreen.ScaleDownDelaySeconds = ptrTo(int32(0))
	w.ro.Spec.RevisionHistoryLimit = ptrTo(int32(1))
	w.settle()
	for _, img := range []string{"a", "b", "c"} {
		w.SetImage("argoproj/rollouts-demo:" + img)
		w.settle()
	}
	wantEqual(t, "replicasets kept", len(w.ReplicaSets()), 2)
	if w.ReplicaSet("rollout-bluegreen-"+w.currentHash()) == nil {
		t.Fatal("current ReplicaSet deleted")
	}
}

func TestBlueGreenNeverReadyProgressDeadline(t *testing.T) {
	for _, abort := range []bool{false, true} {
		w := seedBlueGreen(t)
		w.ro.Spec.ProgressDeadlineSeconds = ptrTo(int32(10))
		w.ro.Spec.ProgressDeadlineAbort = abort
		w.NeverReady("argoproj/rollouts-demo:bad-ready")
		w.settle()
		w.SetImage("argoproj/rollouts-demo:bad-ready")
		w.settle()
		wantEqual(t, "no preview switch to unready pods", w.Selector(previewSvc), "558dcdc6d")
		wantEqual(t, "progressing", w.ro.Status.Phase, v1alpha1.RolloutPhaseProgressing)
		w.advance(11 * time.Second)
		wantEqual(t, "degraded", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
		wantEqual(t, "active untouched", w.Selector(activeSvc), "558dcdc6d")
		if abort {
			wantEqual(t, "aborted", w.ro.Status.Abort, true)
			if !strings.HasPrefix(w.ro.Status.Message, "RolloutAborted: ") {
				t.Fatalf("message %q", w.ro.Status.Message)
			}
		} else {
			wantEqual(t, "message", w.ro.Status.Message, `ProgressDeadlineExceeded: ReplicaSet "rollout-bluegreen-`+w.currentHash()+`" has timed out progressing.`)
		}
	}
}

func TestBlueGreenInvalidSpecThenFixed(t *testing.T) {
	w := seedBlueGreen(t)
	w.DeleteService(previewSvc)
	w.settle()
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
	if !strings.Contains(w.ro.Status.Message, `service "rollout-bluegreen-preview" not found`) {
		t.Fatalf("message %q does not say what to fix", w.ro.Status.Message)
	}
	wantEqual(t, "nothing created", len(w.ReplicaSets()), 0)
	w.AddService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: previewSvc}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "rollout-bluegreen"}}})
	w.settle()
	wantEqual(t, "recovered", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	if w.condition(v1alpha1.InvalidSpec) != nil {
		t.Fatal("InvalidSpec condition kept after the fix")
	}
}

func TestBlueGreenManualPause(t *testing.T) {
	w := seedBlueGreen(t)
	w.settle()
	w.ro.Spec.Paused = true
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "message", w.ro.Status.Message, "manually paused")
	wantEqual(t, "nothing created while paused", len(w.ReplicaSets()), 1)
	w.ro.Spec.Paused = false
	w.ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled = nil
	w.settle()
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "active", w.Selector(activeSvc), w.currentHash())
}

// A paused rollout still follows spec.replicas, as a paused Deployment does: the active
// version and the preview take the new size, nothing else changes.
func TestBlueGreenManualPauseScales(t *testing.T) {
	w := seedBlueGreen(t)
	w.settle()
	w.ro.Spec.Paused = true
	w.ro.Spec.Replicas = ptrTo(int32(4))
	w.settle()
	wantEqual(t, "stable scaled while paused", w.Replicas(), map[string]int32{blueRS: 4})
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhasePaused)
	wantEqual(t, "status replicas", w.ro.Status.AvailableReplicas, int32(4))

	// Mid-update, paused with the preview up: both sides follow, the Services stay.
	w.ro.Spec.Paused = false
	w.SetImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellow := w.currentHash()
	yellowRS := "rollout-bluegreen-" + yellow
	wantEqual(t, "preview up", w.Replicas(), map[string]int32{blueRS: 4, yellowRS: 4})
	w.ro.Spec.Paused = true
	w.ro.Spec.Replicas = ptrTo(int32(3))
	w.settle()
	wantEqual(t, "both sides scaled while paused", w.Replicas(), map[string]int32{blueRS: 3, yellowRS: 3})
	wantEqual(t, "active stays", w.Selector(activeSvc), "558dcdc6d")
	wantEqual(t, "preview stays", w.Selector(previewSvc), yellow)

	// A template changed under the pause creates nothing, yet a resize still applies to
	// the active version; the abandoned preview is left for the unpause to drain.
	w.SetImage("argoproj/rollouts-demo:green")
	w.ro.Spec.Replicas = ptrTo(int32(2))
	w.settle()
	wantEqual(t, "active resized, nothing new", w.Replicas(), map[string]int32{blueRS: 2, yellowRS: 3})
	w.ro.Spec.Paused = false
	w.settle()
	if n := w.Replicas()[yellowRS]; n != 0 {
		t.Fatalf("the abandoned preview kept %d replicas after the unpause", n)
	}
}

func TestBlueGreenPromoteFull(t *testing.T) {
	w := seedBlueGreen(t)
	w.ro.Spec.Strategy.BlueGreen.PreviewReplicaCount = ptrTo(int32(1))
	w.settle()
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	w.ro.Status.PromoteFull = true
	w.ro.Status.PauseConditions = nil
	w.settle()
	wantEqual(t, "active", w.Selector(activeSvc), w.currentHash())
	wantEqual(t, "promoteFull cleared", w.ro.Status.PromoteFull, false)
	if !strings.HasSuffix(w.condition(v1alpha1.RolloutCompleted).Message, "Full promotion requested") {
		t.Fatalf("completion = %q", w.condition(v1alpha1.RolloutCompleted).Message)
	}
}

func TestBlueGreenActiveMetadata(t *testing.T) {
	w := seedBlueGreen(t)
	bg := w.ro.Spec.Strategy.BlueGreen
	bg.ActiveMetadata = &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "active"}}
	bg.PreviewMetadata = &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "preview"}}
	w.settle()
	wantEqual(t, "initial gets active metadata", w.ReplicaSet(blueRS).Spec.Template.Labels["role"], "active")
	w.SetImage("argoproj/rollouts-demo:green")
	w.settle()
	greenRS := "rollout-bluegreen-" + w.currentHash()
	wantEqual(t, "preview metadata", w.ReplicaSet(greenRS).Spec.Template.Labels["role"], "preview")
	w.Promote()
	w.settle()
	wantEqual(t, "promoted gets active metadata", w.ReplicaSet(greenRS).Spec.Template.Labels["role"], "active")
}

func TestBlueGreenAdoptsOrphan(t *testing.T) {
	w := seedBlueGreen(t)
	w.settle()
	rs := w.ReplicaSet(blueRS)
	rs.OwnerReferences = nil
	snap := w.Snapshot()
	snap.Orphans = snap.ReplicaSets
	snap.ReplicaSets = nil
	d := plan.Plan(snap)
	if len(d.Actions) == 0 {
		t.Fatal("no action for an orphan")
	}
	if a, ok := d.Actions[0].(plan.AdoptReplicaSet); !ok || a.Name != blueRS {
		t.Fatalf("first action %#v, want adoption of %s", d.Actions[0], blueRS)
	}
	for _, a := range d.Actions {
		if _, ok := a.(plan.CreateReplicaSet); ok {
			t.Fatal("created a ReplicaSet although the orphan matches")
		}
	}
}
