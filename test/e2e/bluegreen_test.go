package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

const timeout = 60 * time.Second

// bgManifest is the blue-green Rollout of these tests; spec holds extra lines of the spec.
// Its pods declare port 8080 and its Services target it, as in the seed manifest.
func bgManifest(name, image string, replicas int, strategy, spec string) string {
	return framework.Rollout{Name: name, Image: image, Replicas: replicas, Port: 8080, Spec: spec}.BlueGreen(strategy)
}

func hashOf(t *testing.T, r *rollout) string {
	t.Helper()
	return r.get().Status.CurrentPodHash
}

// The seed walkthrough, as the seed runs it.
func TestBlueGreenSeedWalkthrough(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-seed")

	// Given the seed's Rollout and Services
	r := givenManifest(t, ns, "seed-bluegreen.yaml", "rollout-bluegreen")
	// Then its first ReplicaSet has the seed's hash and the active Service selects it
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if got := r.replicaSets(); got["rollout-bluegreen-558dcdc6d"] != 2 || len(got) != 1 {
		t.Fatalf("replicasets %v, want rollout-bluegreen-558dcdc6d at 2", got)
	}
	if s := r.selector("rollout-bluegreen-active"); s != "558dcdc6d" {
		t.Fatalf("active selector %q", s)
	}

	// When the image changes
	r.setImage("argoproj/rollouts-demo:yellow")
	// Then the preview Service selects the new version and the rollout pauses
	ro := r.phase(v1alpha1.RolloutPhasePaused, timeout)
	yellow := ro.Status.CurrentPodHash
	if ro.Status.Message != "BlueGreenPause" {
		t.Fatalf("message %q", ro.Status.Message)
	}
	if s := r.selector("rollout-bluegreen-preview"); s != yellow {
		t.Fatalf("preview selects %q, want %q", s, yellow)
	}
	if s := r.selector("rollout-bluegreen-active"); s != "558dcdc6d" {
		t.Fatalf("active moved to %q before promotion", s)
	}
	if n := r.readyPods(yellow); n != 2 {
		t.Fatalf("preview has %d ready pods, want 2", n)
	}

	// When promoted
	r.promote()
	// Then the active Service moves, and the old version goes once its delay passed
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if s := r.selector("rollout-bluegreen-active"); s != yellow {
		t.Fatalf("active selects %q after promote, want %q", s, yellow)
	}
	framework.Eventually(t, 60*time.Second, func() (bool, string) {
		got := r.replicaSets()
		return got["rollout-bluegreen-558dcdc6d"] == 0 && got["rollout-bluegreen-"+yellow] == 2, fmt.Sprint(got)
	})
	want := []string{"RolloutAddedToInformer", "RolloutUpdated", "NewReplicaSetCreated", "ScalingReplicaSet", "RolloutCompleted", "SwitchService",
		"RolloutUpdated", "NewReplicaSetCreated", "RolloutNotCompleted", "ScalingReplicaSet", "SwitchService", "RolloutPaused",
		"RolloutResumed", "SwitchService", "RolloutCompleted", "ScalingReplicaSet"}
	framework.Eventually(t, 10*time.Second, func() (bool, string) {
		got := r.events()
		return containsInOrder(got, want), fmt.Sprintf("events %v do not contain %v in order", got, want)
	})
}

func TestBlueGreenAutoPromotion(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-auto")
	r := givenYAML(t, ns, "auto", bgManifest("auto", "nginx:1", 2, "scaleDownDelaySeconds: 2", ""))
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	r.setImage("nginx:2")
	ro := r.until("active on the new version", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.StableRS == ro.Status.CurrentPodHash && ro.Status.BlueGreen.ActiveSelector == ro.Status.CurrentPodHash
	})
	if len(ro.Status.PauseConditions) != 0 {
		t.Fatalf("auto-promotion paused: %v", ro.Status.PauseConditions)
	}
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		got := r.replicaSets()
		n := 0
		for _, v := range got {
			n += int(v)
		}
		return n == 2, fmt.Sprint(got)
	})
}

func TestBlueGreenAutoPromotionSeconds(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-autosec")
	r := givenYAML(t, ns, "autosec", bgManifest("autosec", "nginx:1", 1, "autoPromotionSeconds: 4", ""))
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	r.setImage("nginx:2")
	paused := r.phase(v1alpha1.RolloutPhasePaused, timeout)
	start := paused.Status.PauseConditions[0].StartTime.Time
	ro := r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if ro.Status.BlueGreen.ActiveSelector != ro.Status.CurrentPodHash {
		t.Fatalf("not promoted: %+v", ro.Status.BlueGreen)
	}
	if since := time.Since(start); since < 3*time.Second {
		t.Fatalf("promoted %v after the pause began, before autoPromotionSeconds", since)
	}
}

func TestBlueGreenPreviewReplicaCount(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-previewcount")
	r := givenYAML(t, ns, "pc", bgManifest("pc", "nginx:1", 3, "autoPromotionEnabled: false\npreviewReplicaCount: 1\nscaleDownDelaySeconds: 2", ""))
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	r.setImage("nginx:2")
	ro := r.phase(v1alpha1.RolloutPhasePaused, timeout)
	newRS := "pc-" + ro.Status.CurrentPodHash
	if got := r.replicaSets()[newRS]; got != 1 {
		t.Fatalf("preview runs %d replicas, want previewReplicaCount 1", got)
	}
	r.promote()
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if got := r.replicaSets()[newRS]; got != 3 {
		t.Fatalf("promoted version runs %d replicas, want 3", got)
	}
	if r.readyPods(ro.Status.CurrentPodHash) != 3 {
		t.Fatal("promoted version not fully ready")
	}
}

func TestBlueGreenScaleDownDelayAcrossUpdates(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-delay")
	r := givenYAML(t, ns, "delay", bgManifest("delay", "nginx:1", 1, "scaleDownDelaySeconds: 8", ""))
	v1 := r.phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	r.setImage("nginx:2")
	v2 := r.until("v2 stable", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.StableRS == ro.Status.CurrentPodHash && ro.Status.CurrentPodHash != v1
	}).Status.CurrentPodHash
	r.setImage("nginx:3")
	v3 := r.until("v3 stable", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.StableRS == ro.Status.CurrentPodHash && ro.Status.CurrentPodHash != v2
	}).Status.CurrentPodHash
	got := r.replicaSets()
	if got["delay-"+v1] != 1 || got["delay-"+v2] != 1 || got["delay-"+v3] != 1 {
		t.Fatalf("old versions should wait out their delays: %v", got)
	}
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		got := r.replicaSets()
		return got["delay-"+v1] == 0 && got["delay-"+v2] == 0 && got["delay-"+v3] == 1, fmt.Sprint(got)
	})
}

func TestBlueGreenAbortRetry(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-abort")
	r := givenYAML(t, ns, "ab", bgManifest("ab", "nginx:1", 2, "autoPromotionEnabled: false\nabortScaleDownDelaySeconds: 3", ""))
	stable := r.phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	r.setImage("nginx:2")
	canary := r.phase(v1alpha1.RolloutPhasePaused, timeout).Status.CurrentPodHash

	r.abort()
	ro := r.phase(v1alpha1.RolloutPhaseDegraded, timeout)
	if !strings.HasPrefix(ro.Status.Message, "RolloutAborted: Rollout aborted update to revision 2") {
		t.Fatalf("message %q", ro.Status.Message)
	}
	if r.selector("ab-active") != stable || r.selector("ab-preview") != stable {
		t.Fatal("services not back on the stable version after abort")
	}
	framework.Eventually(t, 20*time.Second, func() (bool, string) {
		got := r.replicaSets()
		return got["ab-"+canary] == 0, fmt.Sprint(got)
	})

	r.retry()
	r.phase(v1alpha1.RolloutPhasePaused, timeout)
	if r.selector("ab-preview") != canary {
		t.Fatal("preview not back on the new version after retry")
	}
	r.promote()
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if r.selector("ab-active") != canary {
		t.Fatal("active not on the new version after retry and promote")
	}
}

func TestBlueGreenAbortThenStableImage(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-abort-back")
	r := givenYAML(t, ns, "back", bgManifest("back", "nginx:1", 2, "autoPromotionEnabled: false", ""))
	stable := r.phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	r.setImage("nginx:2")
	r.phase(v1alpha1.RolloutPhasePaused, timeout)
	r.abort()
	r.phase(v1alpha1.RolloutPhaseDegraded, timeout)
	r.setImage("nginx:1")
	ro := r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if ro.Status.CurrentPodHash != stable || ro.Status.Abort {
		t.Fatalf("status %+v", ro.Status)
	}
	if got := r.replicaSets(); len(got) != 2 {
		t.Fatalf("a new ReplicaSet was made for the stable image: %v", got)
	}
}

func TestBlueGreenProgressDeadline(t *testing.T) {
	t.Parallel()
	for _, abort := range []bool{false, true} {
		t.Run(fmt.Sprintf("abort=%v", abort), func(t *testing.T) {
			t.Parallel()
			ns := framework.NewNamespace(t, "bg-deadline")
			spec := fmt.Sprintf("progressDeadlineSeconds: 5\nprogressDeadlineAbort: %v", abort)
			r := givenYAML(t, ns, "dl", bgManifest("dl", "nginx:1", 1, "autoPromotionEnabled: false", spec))
			stable := r.phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
			// When the new version's pods never become ready
			r.setImage("nginx:bad-ready")
			wantPrefix := "ProgressDeadlineExceeded: "
			if abort {
				// The deadline is reported first, then the abort it triggers.
				wantPrefix = "RolloutAborted: "
			}
			ro := r.until("degraded with "+wantPrefix, timeout, func(ro *v1alpha1.Rollout) bool {
				return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && strings.HasPrefix(ro.Status.Message, wantPrefix)
			})
			if !strings.HasPrefix(ro.Status.Message, wantPrefix) {
				t.Fatalf("message %q, want prefix %q", ro.Status.Message, wantPrefix)
			}
			if ro.Status.Abort != abort {
				t.Fatalf("abort = %v", ro.Status.Abort)
			}
			// Then no Service ever pointed at the unready version
			if r.selector("dl-active") != stable || r.selector("dl-preview") != stable {
				t.Fatal("a service selects the never-ready version")
			}
		})
	}
}

func TestBlueGreenInvalidSpecThenFixed(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-invalid")
	// Given a Rollout whose preview Service does not exist
	manifest := bgManifest("inv", "nginx:1", 1, "", "")
	manifest = manifest[:strings.LastIndex(manifest, "---")]
	r := givenYAML(t, ns, "inv", manifest)
	ro := r.phase(v1alpha1.RolloutPhaseDegraded, timeout)
	if !strings.Contains(ro.Status.Message, `service "inv-preview" not found`) {
		t.Fatalf("message %q does not name the missing service", ro.Status.Message)
	}
	if got := r.replicaSets(); len(got) != 0 {
		t.Fatalf("replicasets created for an invalid rollout: %v", got)
	}
	// When the user adds it, the rollout recovers
	framework.Apply(t, ns, []byte(`apiVersion: v1
kind: Service
metadata: {name: inv-preview}
spec:
  selector: {app: inv}
  ports: [{port: 80}]
`))
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)

	// Given a selector that does not match the template
	r2 := givenYAML(t, ns, "mismatch", strings.Replace(bgManifest("mismatch", "nginx:1", 1, "", ""), "matchLabels: {app: mismatch}", "matchLabels: {app: other}", 1))
	ro = r2.phase(v1alpha1.RolloutPhaseDegraded, timeout)
	if !strings.HasPrefix(ro.Status.Message, "InvalidSpec: ") || !strings.Contains(ro.Status.Message, "selector") {
		t.Fatalf("message %q does not explain the selector mismatch", ro.Status.Message)
	}
}

func TestBlueGreenKubectlWaitPaused(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-wait")
	r := givenYAML(t, ns, "wait", bgManifest("wait", "nginx:1", 1, "autoPromotionEnabled: false", ""))
	framework.Kubectl(t, "-n", ns, "wait", "--for=condition=Healthy", "rollout/wait", "--timeout=60s")
	r.setImage("nginx:2")
	out := framework.Kubectl(t, "-n", ns, "wait", "--for=condition=Paused", "rollout/wait", "--timeout=60s")
	if !strings.Contains(out, "condition met") {
		t.Fatalf("kubectl wait: %s", out)
	}
	r.promote()
	framework.Kubectl(t, "-n", ns, "wait", "--for=condition=Paused=False", "rollout/wait", "--timeout=60s")
	framework.Kubectl(t, "-n", ns, "wait", "--for=condition=Completed", "rollout/wait", "--timeout=60s")
}

// The controller is killed (SIGKILL) in the middle of an update, restarted, and the
// update completes with the Services never on an unready version.
func TestBlueGreenControllerKilledMidUpdate(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-kill")
	const id = "kill-test"
	manifest := framework.WithInstanceID(bgManifest("kill", "nginx:1", 3, "scaleDownDelaySeconds: 2", ""), "kill", id)
	ctl := startOwnController(t, ns, id)
	r := givenYAML(t, ns, "kill", manifest)
	r.phase(v1alpha1.RolloutPhaseHealthy, timeout)
	for i, img := range []string{"nginx:2", "nginx:3", "nginx:4"} {
		r.setImage(img)
		// Kill at a different point of each update.
		time.Sleep(time.Duration(50+150*i) * time.Millisecond)
		ctl.killAndRestart()
		ro := r.until("update "+img+" complete", timeout, func(ro *v1alpha1.Rollout) bool {
			return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash &&
				ro.Spec.Template.Spec.Containers[0].Image == img && observed(ro)
		})
		if r.selector("kill-active") != ro.Status.CurrentPodHash {
			t.Fatalf("after %s the active service selects %q", img, r.selector("kill-active"))
		}
		if r.readyPods(ro.Status.CurrentPodHash) != 3 {
			t.Fatalf("after %s the new version is not fully ready", img)
		}
	}
}
