package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

func stepIndex(ro *v1alpha1.Rollout) int32 {
	if ro.Status.CurrentStepIndex == nil {
		return -1
	}
	return *ro.Status.CurrentStepIndex
}

// The seed canary walkthrough: 20% then an indefinite pause, promote, 40/60/80% with
// 10 s pauses, Healthy; then abort of a later update and a return to the stable image.
func TestCanarySeedWalkthrough(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-seed")
	r := givenManifest(t, ns, "seed-canary-rollout.yaml", "rollouts-demo")
	framework.Apply(t, ns, mustRead(t, "seed-canary-service.yaml"))
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if got := r.replicaSets(); got["rollouts-demo-5cd66ff7ff"] != 5 || len(got) != 1 {
		t.Fatalf("replicasets %v, want rollouts-demo-5cd66ff7ff at 5", got)
	}

	r.setImage("argoproj/rollouts-demo:yellow")
	ro := r.until("paused at step 1", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && stepIndex(ro) == 1
	})
	if ro.Status.Message != "CanaryPauseStep" || ro.Status.UpdatedReplicas != 1 {
		t.Fatalf("paused with message %q and %d updated pods, want CanaryPauseStep and 1", ro.Status.Message, ro.Status.UpdatedReplicas)
	}
	yellow := ro.Status.CurrentPodHash
	if got := r.replicaSets(); got["rollouts-demo-5cd66ff7ff"] != 4 || got["rollouts-demo-"+yellow] != 1 {
		t.Fatalf("replicasets at 20%%: %v", got)
	}
	if svc := r.selector("rollouts-demo"); svc != "" {
		t.Fatalf("the plain Service was changed: selects %q", svc)
	}

	start := time.Now()
	r.promote()
	ro = r.until("promoted to stable", 90*time.Second, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == yellow
	})
	if took := time.Since(start); took < 25*time.Second {
		t.Fatalf("three 10 s pauses took only %v", took)
	}
	if stepIndex(ro) != 8 {
		t.Fatalf("step index %d, want 8", stepIndex(ro))
	}
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		got := r.replicaSets()
		return got["rollouts-demo-5cd66ff7ff"] == 0 && got["rollouts-demo-"+yellow] == 5, fmt.Sprint(got)
	})

	r.setImage("argoproj/rollouts-demo:red")
	red := r.phase(v1alpha1.RolloutPhasePaused, timeout).Status.CurrentPodHash
	r.abort()
	ro = r.until("aborted with the canary at zero", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && r.replicaSets()["rollouts-demo-"+red] == 0
	})
	if ro.Status.StableRS != yellow || r.readyPods(yellow) != 5 {
		t.Fatalf("stable %q with %d ready pods after abort", ro.Status.StableRS, r.readyPods(yellow))
	}
	before := len(r.replicaSets())
	r.setImage("argoproj/rollouts-demo:yellow")
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if after := len(r.replicaSets()); after != before {
		t.Fatalf("going back to the stable image made a ReplicaSet (%d → %d)", before, after)
	}
}

func mustRead(t *testing.T, fixture string) []byte {
	t.Helper()
	data, err := readFixture(fixture)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestCanaryServicesAbortRetry(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-abort")
	r := givenYAML(t, ns, "cab", framework.CanaryManifest("cab", "nginx:1", 4, "steps:\n- setWeight: 50\n- pause: {duration: 3s}\n- setWeight: 75\n- pause: {}"))
	stable := r.phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	if r.selector("cab-stable") != stable || r.selector("cab-canary") != stable {
		t.Fatal("services do not select the stable version after the initial deploy")
	}
	r.setImage("nginx:2")
	ro := r.until("paused at step 3", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && stepIndex(ro) == 3
	})
	canary := ro.Status.CurrentPodHash
	if r.selector("cab-canary") != canary || r.selector("cab-stable") != stable {
		t.Fatalf("canary service %q stable service %q", r.selector("cab-canary"), r.selector("cab-stable"))
	}
	if got := r.replicaSets(); got["cab-"+canary] != 3 || got["cab-"+stable] != 1 {
		t.Fatalf("replicasets at 75%%: %v", got)
	}

	r.abort()
	ro = r.until("aborted", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && r.replicaSets()["cab-"+canary] == 0
	})
	if stepIndex(ro) != 0 || r.selector("cab-canary") != stable {
		t.Fatalf("after abort: step %d, canary service %q", stepIndex(ro), r.selector("cab-canary"))
	}
	if !strings.HasPrefix(ro.Status.Message, "RolloutAborted: ") {
		t.Fatalf("message %q", ro.Status.Message)
	}

	r.retry()
	r.until("paused at step 3 again", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && stepIndex(ro) == 3
	})
	r.patchStatus(`{"status":{"promoteFull":true}}`)
	r.promote()
	ro = r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if ro.Status.StableRS != canary || r.selector("cab-stable") != canary {
		t.Fatal("not promoted after retry")
	}
	// The recorder folds repeats of an Event into a count, so only the first pass of the
	// steps has a place in this order; that the retry ran the steps again is shown above
	// by the rollout pausing at step 3 once more.
	want := []string{"RolloutUpdated", "NewReplicaSetCreated", "RolloutNotCompleted", "ScalingReplicaSet", "RolloutStepCompleted",
		"RolloutPaused", "RolloutStepCompleted", "RolloutResumed", "RolloutStepCompleted", "RolloutAborted", "RolloutCompleted"}
	framework.Eventually(t, 10*time.Second, func() (bool, string) {
		got := r.events()
		return containsInOrder(got, want), fmt.Sprintf("events %v do not contain %v in order", got, want)
	})
}

// New pods that never become ready: the stable side never drops below
// replicas - maxUnavailable available pods, and the canary Service never selects them.
func TestCanaryNeverReady(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-bad")
	r := givenYAML(t, ns, "bad", framework.CanaryManifest("bad", "nginx:1", 4, "maxSurge: 1\nmaxUnavailable: 1\nsteps:\n- setWeight: 50\n- pause: {}"))
	stable := r.phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	r.setImage("nginx:bad-ready")
	framework.Consistently(t, 6*time.Second, func() (bool, string) {
		ro := r.get()
		ready := r.readyPods(stable)
		return ready >= 3 && r.selector("bad-canary") == stable,
			fmt.Sprintf("stable ready pods %d, canary service %q, phase %s", ready, r.selector("bad-canary"), ro.Status.Phase)
	})
	total := int32(0)
	for _, n := range r.replicaSets() {
		total += n
	}
	if total > 5 {
		t.Fatalf("%d pods requested, more than replicas+maxSurge", total)
	}
	// A good image afterwards goes through.
	r.setImage("nginx:2")
	r.until("paused on the good version", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && r.selector("bad-canary") == ro.Status.CurrentPodHash
	})
}

func TestCanaryNoStepsRollingUpdate(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-nosteps")
	r := givenYAML(t, ns, "ns", framework.CanaryManifest("ns", "nginx:1", 3, ""))
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	r.setImage("nginx:2")
	ro := r.until("rolled", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash &&
			ro.Spec.Template.Spec.Containers[0].Image == "nginx:2" && observed(ro)
	})
	if r.readyPods(ro.Status.CurrentPodHash) != 3 {
		t.Fatal("new version not fully ready")
	}
}

func TestCanaryControllerKilledMidStep(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-kill")
	const id = "canary-kill-test"
	manifest := framework.WithInstanceID(framework.CanaryManifest("ck", "nginx:1", 4, "steps:\n- setWeight: 25\n- pause: {duration: 1}\n- setWeight: 50\n- pause: {duration: 1}\n- setWeight: 75"), "ck", id)
	ctl := startOwnController(t, ns, id)
	r := givenYAML(t, ns, "ck", manifest)
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	for i, img := range []string{"nginx:2", "nginx:3"} {
		r.setImage(img)
		for k := 0; k < 3; k++ {
			time.Sleep(time.Duration(300+200*i+100*k) * time.Millisecond)
			ctl.killAndRestart()
		}
		ro := r.until("update "+img+" complete", 90*time.Second, func(ro *v1alpha1.Rollout) bool {
			return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash &&
				ro.Spec.Template.Spec.Containers[0].Image == img && observed(ro)
		})
		if r.selector("ck-stable") != ro.Status.CurrentPodHash || r.readyPods(ro.Status.CurrentPodHash) != 4 {
			t.Fatalf("after %s: stable service %q, %d ready", img, r.selector("ck-stable"), r.readyPods(ro.Status.CurrentPodHash))
		}
	}
}
