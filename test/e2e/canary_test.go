package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/fixture"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// The seed canary walkthrough: 20% then an indefinite pause, promote, 40/60/80% with
// 10 s pauses, Healthy; then abort of a later update and a return to the stable image.
func TestCanarySeedWalkthrough(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-seed")
	r := fixture.GivenFixture(t, ns, "rollouts-demo", "seed-canary-rollout.yaml")
	framework.Apply(t, ns, fixture.ReadFixture(t, "seed-canary-service.yaml"))
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if got := r.ReplicaSets(); got["rollouts-demo-5cd66ff7ff"] != 5 || len(got) != 1 {
		t.Fatalf("replicasets %v, want rollouts-demo-5cd66ff7ff at 5", got)
	}

	r.SetImage("argoproj/rollouts-demo:yellow")
	ro := r.PausedAt(1, timeout)
	if ro.Status.Message != "CanaryPauseStep" || ro.Status.UpdatedReplicas != 1 {
		t.Fatalf("paused with message %q and %d updated pods, want CanaryPauseStep and 1", ro.Status.Message, ro.Status.UpdatedReplicas)
	}
	yellow := ro.Status.CurrentPodHash
	if got := r.ReplicaSets(); got["rollouts-demo-5cd66ff7ff"] != 4 || got["rollouts-demo-"+yellow] != 1 {
		t.Fatalf("replicasets at 20%%: %v", got)
	}
	if svc := r.Selector("rollouts-demo"); svc != "" {
		t.Fatalf("the plain Service was changed: selects %q", svc)
	}

	start := time.Now()
	r.Promote()
	ro = r.Until("promoted to stable", 90*time.Second, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == yellow
	})
	if took := time.Since(start); took < 25*time.Second {
		t.Fatalf("three 10 s pauses took only %v", took)
	}
	if fixture.StepIndex(ro) != 8 {
		t.Fatalf("step index %d, want 8", fixture.StepIndex(ro))
	}
	r.ReplicaSetsAre(map[string]int32{"rollouts-demo-5cd66ff7ff": 0, "rollouts-demo-" + yellow: 5}, 30*time.Second)

	r.SetImage("argoproj/rollouts-demo:red")
	red := r.Phase(v1alpha1.RolloutPhasePaused, timeout).Status.CurrentPodHash
	r.Abort()
	ro = r.Until("aborted with the canary at zero", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && r.ReplicaSets()["rollouts-demo-"+red] == 0
	})
	if ro.Status.StableRS != yellow || r.ReadyPods(yellow) != 5 {
		t.Fatalf("stable %q with %d ready pods after abort", ro.Status.StableRS, r.ReadyPods(yellow))
	}
	before := len(r.ReplicaSets())
	r.SetImage("argoproj/rollouts-demo:yellow")
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if after := len(r.ReplicaSets()); after != before {
		t.Fatalf("going back to the stable image made a ReplicaSet (%d → %d)", before, after)
	}
}

func TestCanaryServicesAbortRetry(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-abort")
	r := fixture.Given(t, ns, "cab", framework.CanaryManifest("cab", "nginx:1", 4, "steps:\n- setWeight: 50\n- pause: {duration: 3s}\n- setWeight: 75\n- pause: {}"))
	stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	if r.Selector("cab-stable") != stable || r.Selector("cab-canary") != stable {
		t.Fatal("services do not select the stable version after the initial deploy")
	}
	r.SetImage("nginx:2")
	ro := r.PausedAt(3, timeout)
	canary := ro.Status.CurrentPodHash
	if r.Selector("cab-canary") != canary || r.Selector("cab-stable") != stable {
		t.Fatalf("canary service %q stable service %q", r.Selector("cab-canary"), r.Selector("cab-stable"))
	}
	if got := r.ReplicaSets(); got["cab-"+canary] != 3 || got["cab-"+stable] != 1 {
		t.Fatalf("replicasets at 75%%: %v", got)
	}

	r.Abort()
	ro = r.Until("aborted", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && r.ReplicaSets()["cab-"+canary] == 0
	})
	if fixture.StepIndex(ro) != 0 || r.Selector("cab-canary") != stable {
		t.Fatalf("after abort: step %d, canary service %q", fixture.StepIndex(ro), r.Selector("cab-canary"))
	}
	if !strings.HasPrefix(ro.Status.Message, "RolloutAborted: ") {
		t.Fatalf("message %q", ro.Status.Message)
	}

	r.Retry()
	r.PausedAt(3, timeout)
	r.PatchStatus(`{"status":{"promoteFull":true}}`)
	r.Promote()
	ro = r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if ro.Status.StableRS != canary || r.Selector("cab-stable") != canary {
		t.Fatal("not promoted after retry")
	}
	// The recorder folds repeats of an Event into a count, so only the first pass of the
	// steps has a place in this order; that the retry ran the steps again is shown above
	// by the rollout pausing at step 3 once more.
	want := []string{"RolloutUpdated", "NewReplicaSetCreated", "RolloutNotCompleted", "ScalingReplicaSet", "RolloutStepCompleted",
		"RolloutPaused", "RolloutStepCompleted", "RolloutResumed", "RolloutStepCompleted", "RolloutAborted", "RolloutCompleted"}
	framework.Eventually(t, 10*time.Second, func() (bool, string) {
		got := r.Events()
		return fixture.ContainsInOrder(got, want), fmt.Sprintf("events %v do not contain %v in order", got, want)
	})
}

// New pods that never become ready: the stable side never drops below
// replicas - maxUnavailable available pods, and the canary Service never selects them.
func TestCanaryNeverReady(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-bad")
	r := fixture.Given(t, ns, "bad", framework.CanaryManifest("bad", "nginx:1", 4, "maxSurge: 1\nmaxUnavailable: 1\nsteps:\n- setWeight: 50\n- pause: {}"))
	stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	r.SetImage("nginx:bad-ready")
	framework.Consistently(t, 6*time.Second, func() (bool, string) {
		ro := r.Get()
		ready := r.ReadyPods(stable)
		return ready >= 3 && r.Selector("bad-canary") == stable,
			fmt.Sprintf("stable ready pods %d, canary service %q, phase %s", ready, r.Selector("bad-canary"), ro.Status.Phase)
	})
	total := int32(0)
	for _, n := range r.ReplicaSets() {
		total += n
	}
	if total > 5 {
		t.Fatalf("%d pods requested, more than replicas+maxSurge", total)
	}
	// A good image afterwards goes through.
	r.SetImage("nginx:2")
	r.Until("paused on the good version", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && r.Selector("bad-canary") == ro.Status.CurrentPodHash
	})
}

func TestCanaryNoStepsRollingUpdate(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-nosteps")
	r := fixture.Given(t, ns, "ns", framework.CanaryManifest("ns", "nginx:1", 3, ""))
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	r.SetImage("nginx:2")
	ro := r.Until("rolled", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash &&
			ro.Spec.Template.Spec.Containers[0].Image == "nginx:2" && fixture.Observed(ro)
	})
	if r.ReadyPods(ro.Status.CurrentPodHash) != 3 {
		t.Fatal("new version not fully ready")
	}
}

func TestCanaryControllerKilledMidStep(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-kill")
	const id = "canary-kill-test"
	manifest := framework.WithInstanceID(framework.CanaryManifest("ck", "nginx:1", 4, "steps:\n- setWeight: 25\n- pause: {duration: 1}\n- setWeight: 50\n- pause: {duration: 1}\n- setWeight: 75"), "ck", id)
	ctl := startOwnController(t, ns, id)
	r := fixture.Given(t, ns, "ck", manifest)
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	for i, img := range []string{"nginx:2", "nginx:3"} {
		r.SetImage(img)
		for k := 0; k < 3; k++ {
			time.Sleep(time.Duration(300+200*i+100*k) * time.Millisecond)
			ctl.KillAndRestart()
		}
		ro := r.Until("update "+img+" complete", 90*time.Second, func(ro *v1alpha1.Rollout) bool {
			return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash &&
				ro.Spec.Template.Spec.Containers[0].Image == img && fixture.Observed(ro)
		})
		if r.Selector("ck-stable") != ro.Status.CurrentPodHash || r.ReadyPods(ro.Status.CurrentPodHash) != 4 {
			t.Fatalf("after %s: stable service %q, %d ready", img, r.Selector("ck-stable"), r.ReadyPods(ro.Status.CurrentPodHash))
		}
	}
}
