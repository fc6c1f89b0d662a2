package phase

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// healthyCanary is a basic canary done with its update: every rule of §2.2 falls through.
func healthyCanary() *v1alpha1.Rollout {
	ro := &v1alpha1.Rollout{}
	ro.Generation = 4
	ro.Spec.Replicas = ptr.To[int32](2)
	ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
		{SetWeight: ptr.To[int32](20)}, {Pause: &v1alpha1.RolloutPause{}},
	}}
	ro.Status = v1alpha1.RolloutStatus{
		ObservedGeneration: "4", CurrentStepIndex: ptr.To[int32](2),
		Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2, StableRS: "a", CurrentPodHash: "a",
	}
	return ro
}

// healthyBlueGreen is a blue-green done with its update, the active Service on it.
func healthyBlueGreen() *v1alpha1.Rollout {
	ro := healthyCanary()
	ro.Spec.Strategy = v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "active"}}
	ro.Status.CurrentStepIndex = nil
	ro.Status.BlueGreen.ActiveSelector = "a"
	return ro
}

func condition(t v1alpha1.RolloutConditionType, reason, msg string) v1alpha1.RolloutCondition {
	return v1alpha1.RolloutCondition{Type: t, Status: "False", Reason: reason, Message: msg}
}

var (
	restartAt     = metav1.NewTime(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	beforeRestart = metav1.NewTime(restartAt.Add(-time.Hour))
	afterRestart  = metav1.NewTime(restartAt.Add(time.Hour))
)

type phaseCase struct {
	base    func() *v1alpha1.Rollout
	change  func(*v1alpha1.Rollout)
	phase   v1alpha1.RolloutPhase
	message string
}

func runCases(t *testing.T, f func(*v1alpha1.Rollout) (v1alpha1.RolloutPhase, string), cases map[string]phaseCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ro := tc.base()
			tc.change(ro)
			phase, msg := f(ro)
			if phase != tc.phase || msg != tc.message {
				t.Errorf("got %s %q, want %s %q", phase, msg, tc.phase, tc.message)
			}
		})
	}
}

func of(ro *v1alpha1.Rollout) (v1alpha1.RolloutPhase, string) { return Of(ro, &ro.Status) }

// TestOfRules has one case per rule of compat.md §2.2, named after it, in its order.
func TestOfRules(t *testing.T) {
	aborted := condition(v1alpha1.RolloutProgressing, v1alpha1.RolloutAbortedReason, "Rollout aborted update to revision 2")
	runCases(t, of, map[string]phaseCase{
		"1 InvalidSpec condition is Degraded": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.Conditions = []v1alpha1.RolloutCondition{{Type: v1alpha1.InvalidSpec, Status: "True", Reason: v1alpha1.InvalidSpecReason, Message: "bad"}}
		}, v1alpha1.RolloutPhaseDegraded, "InvalidSpec: bad"},
		"1 InvalidSpec wins over an abort listed before it": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.Conditions = []v1alpha1.RolloutCondition{aborted, {Type: v1alpha1.InvalidSpec, Status: "True", Reason: v1alpha1.InvalidSpecReason, Message: "bad"}}
		}, v1alpha1.RolloutPhaseDegraded, "InvalidSpec: bad"},
		"2 RolloutAborted reason is Degraded": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Spec.Paused = true
			ro.Status.Conditions = []v1alpha1.RolloutCondition{aborted}
		}, v1alpha1.RolloutPhaseDegraded, "RolloutAborted: Rollout aborted update to revision 2"},
		"2 ProgressDeadlineExceeded reason is Degraded": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.Conditions = []v1alpha1.RolloutCondition{condition(v1alpha1.RolloutProgressing, v1alpha1.TimedOutReason, `ReplicaSet "x" has timed out progressing.`)}
		}, v1alpha1.RolloutPhaseDegraded, `ProgressDeadlineExceeded: ReplicaSet "x" has timed out progressing.`},
		"3 spec.paused is Paused manually paused": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Spec.Paused = true
			ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep}}
		}, v1alpha1.RolloutPhasePaused, "manually paused"},
		"4 first pauseCondition is Paused with its reason": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonInconclusiveAnalysis}, {Reason: v1alpha1.PauseReasonCanaryPauseStep}}
		}, v1alpha1.RolloutPhasePaused, "InconclusiveAnalysisRun"},
		"5 restartAt pending is rollout is restarting": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Spec.RestartAt = &restartAt
			ro.Status.UpdatedReplicas = 0
		}, v1alpha1.RolloutPhaseProgressing, "rollout is restarting"},
		"6 updated below replicas": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.UpdatedReplicas = 1
			ro.Status.AvailableReplicas = 0
		}, v1alpha1.RolloutPhaseProgressing, "more replicas need to be updated"},
		"7 available below updated": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.AvailableReplicas = 1
		}, v1alpha1.RolloutPhaseProgressing, "updated replicas are still becoming available"},
		"8 blue-green activeSelector not current is cutover pending": {healthyBlueGreen, func(ro *v1alpha1.Rollout) {
			ro.Status.CurrentPodHash = "b"
		}, v1alpha1.RolloutPhaseProgressing, "active service cutover pending"},
		"8 blue-green stable not current with analysis running waits for analysis": {healthyBlueGreen, func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.BlueGreen.PostPromotionAnalysis = &v1alpha1.RolloutAnalysis{}
			ro.Status.StableRS = "z"
			ro.Status.BlueGreen.PostPromotionAnalysisRunStatus = &v1alpha1.RolloutAnalysisRunStatus{Name: "r", Status: v1alpha1.AnalysisPhaseRunning}
		}, v1alpha1.RolloutPhaseProgressing, "waiting for analysis to complete"},
		"8 blue-green stable not current without analysis waits for verification": {healthyBlueGreen, func(ro *v1alpha1.Rollout) {
			ro.Status.StableRS = "z"
		}, v1alpha1.RolloutPhaseProgressing, "waiting for post-promotion verification to complete"},
		"9 basic canary with more replicas than updated has old pending termination": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.Replicas = 3
		}, v1alpha1.RolloutPhaseProgressing, "old replicas are pending termination"},
		"9 canary stable not current waits for all steps": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.CurrentPodHash = "b"
		}, v1alpha1.RolloutPhaseProgressing, "waiting for all steps to complete"},
		"10 canary otherwise Healthy":     {healthyCanary, func(*v1alpha1.Rollout) {}, v1alpha1.RolloutPhaseHealthy, ""},
		"10 blue-green otherwise Healthy": {healthyBlueGreen, func(*v1alpha1.Rollout) {}, v1alpha1.RolloutPhaseHealthy, ""},
	})
}

// TestOfDisagreements covers the cases where the two copies this rule replaces (the
// planner's and the plugin's) disagreed; each says which behaviour was kept and why.
func TestOfDisagreements(t *testing.T) {
	runCases(t, of, map[string]phaseCase{
		// Blue-green message during post-promotion analysis. The planner's copy said
		// "verification" whenever a post-promotion analysis was configured; upstream
		// (and §2.2's order of the two messages) says "analysis" while the run has not
		// completed and "verification" once it has and only the promotion is left.
		"bluegreen post-promotion analysis not yet started": {healthyBlueGreen, func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.BlueGreen.PostPromotionAnalysis = &v1alpha1.RolloutAnalysis{}
			ro.Status.StableRS = "z"
		}, v1alpha1.RolloutPhaseProgressing, "waiting for analysis to complete"},
		"bluegreen post-promotion analysis completed": {healthyBlueGreen, func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.BlueGreen.PostPromotionAnalysis = &v1alpha1.RolloutAnalysis{}
			ro.Status.StableRS = "z"
			ro.Status.BlueGreen.PostPromotionAnalysisRunStatus = &v1alpha1.RolloutAnalysisRunStatus{Name: "r", Status: v1alpha1.AnalysisPhaseSuccessful}
		}, v1alpha1.RolloutPhaseProgressing, "waiting for post-promotion verification to complete"},

		// InvalidSpec need not be True. §2.2 says "any condition InvalidSpec", and
		// upstream removes the condition once the spec is valid rather than setting it
		// False, so its presence is what marks an invalid spec. (The planner's copy
		// required True; the controller itself only ever writes True, so what it writes
		// does not change.)
		"InvalidSpec with status False is still Degraded": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.Conditions = []v1alpha1.RolloutCondition{condition(v1alpha1.InvalidSpec, v1alpha1.InvalidSpecReason, "bad")}
		}, v1alpha1.RolloutPhaseDegraded, "InvalidSpec: bad"},

		// restartAt comparison: pending while restartedAt is unset or earlier than
		// restartAt (the planner's copy), not whenever the two differ (the plugin's copy
		// and upstream). The controller's restart treats a restart recorded at or after
		// the asked instant as done and never rewrites restartedAt then; comparing for
		// equality would report "restarting" forever for a restartAt moved backwards.
		"restartedAt earlier than restartAt is restarting": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Spec.RestartAt, ro.Status.RestartedAt = &restartAt, &beforeRestart
		}, v1alpha1.RolloutPhaseProgressing, "rollout is restarting"},
		"restartedAt equal to restartAt is done": {healthyCanary, func(ro *v1alpha1.Rollout) {
			at := restartAt
			ro.Spec.RestartAt, ro.Status.RestartedAt = &restartAt, &at
		}, v1alpha1.RolloutPhaseHealthy, ""},
		"restartedAt later than restartAt is done": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Spec.RestartAt, ro.Status.RestartedAt = &restartAt, &afterRestart
		}, v1alpha1.RolloutPhaseHealthy, ""},

		// An empty activeSelector is a cutover still to do, even when the current hash
		// is empty too (the planner's copy called that Healthy); upstream and the
		// plugin's copy agree: nothing was switched yet.
		"bluegreen empty activeSelector is cutover pending": {healthyBlueGreen, func(ro *v1alpha1.Rollout) {
			ro.Status.BlueGreen.ActiveSelector = ""
			ro.Status.CurrentPodHash, ro.Status.StableRS = "", ""
		}, v1alpha1.RolloutPhaseProgressing, "active service cutover pending"},
		// Likewise an unknown stable version is an update not finished.
		"canary empty stableRS waits for all steps": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.CurrentPodHash, ro.Status.StableRS = "", ""
		}, v1alpha1.RolloutPhaseProgressing, "waiting for all steps to complete"},

		// Traffic-routed canaries skip only the "old replicas pending termination"
		// check (they keep old replicas up on purpose for scaleDownDelaySeconds); the
		// planner's copy skipped the steps check too and so called a canary midway
		// through its steps Healthy. Upstream applies the steps check to every canary.
		"traffic-routed canary keeps old replicas and is Healthy": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{}
			ro.Status.Replicas = 4
		}, v1alpha1.RolloutPhaseHealthy, ""},
		"traffic-routed canary with steps left waits for all steps": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{}
			ro.Status.Replicas = 4
			ro.Status.CurrentPodHash = "b"
		}, v1alpha1.RolloutPhaseProgressing, "waiting for all steps to complete"},
	})
}

// TestForClient covers what a client adds on top of the controller's phase (the end of
// compat.md §2.2).
func TestForClient(t *testing.T) {
	runCases(t, ForClient, map[string]phaseCase{
		"controller phase is shown": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.Phase, ro.Status.Message = v1alpha1.RolloutPhasePaused, "CanaryPauseStep"
		}, v1alpha1.RolloutPhasePaused, "CanaryPauseStep"},
		"observedGeneration behind generation is spec not observed": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Generation = 5
			ro.Status.Phase = v1alpha1.RolloutPhaseHealthy
		}, v1alpha1.RolloutPhaseProgressing, MsgSpecNotObserved},
		"legacy hash observedGeneration counts as observed": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.ObservedGeneration = "7d66d4485f"
		}, v1alpha1.RolloutPhaseHealthy, ""},
		"controllerPause without pauseConditions is unpausing": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.ControllerPause = true
			ro.Status.Phase = v1alpha1.RolloutPhasePaused
		}, v1alpha1.RolloutPhaseProgressing, MsgUnpausing},
		"no status.phase is derived": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Spec.Paused = true
		}, v1alpha1.RolloutPhasePaused, "manually paused"},
		"no status.phase, steps pending": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.CurrentPodHash = "b"
		}, v1alpha1.RolloutPhaseProgressing, "waiting for all steps to complete"},
		"no status.phase, old replicas": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.Replicas = 3
		}, v1alpha1.RolloutPhaseProgressing, "old replicas are pending termination"},
		"no status.phase, aborted": {healthyCanary, func(ro *v1alpha1.Rollout) {
			ro.Status.Conditions = []v1alpha1.RolloutCondition{condition(v1alpha1.RolloutProgressing, v1alpha1.RolloutAbortedReason, "x")}
		}, v1alpha1.RolloutPhaseDegraded, "RolloutAborted: x"},
	})
}

func TestCurrentStepIndex(t *testing.T) {
	ro := healthyCanary()
	if idx, ok := CurrentStepIndex(ro); idx != 2 || !ok {
		t.Errorf("set: %d %v, want 2 true", idx, ok)
	}
	ro.Status.CurrentStepIndex = nil
	if idx, ok := CurrentStepIndex(ro); idx != 0 || !ok {
		t.Errorf("unset: %d %v, want 0 true", idx, ok)
	}
	if idx, ok := CurrentStepIndex(healthyBlueGreen()); idx != 0 || ok {
		t.Errorf("blue-green: %d %v, want 0 false", idx, ok)
	}
}
