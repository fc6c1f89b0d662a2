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

const timeout = 60 * time.Second

// bgManifest is the blue-green Rollout of these tests; spec holds extra lines of the spec.
// Its pods declare port 8080 and its Services target it, as in the seed manifest.
func bgManifest(name, image string, replicas int, strategy, spec string) string {
	return framework.Rollout{Name: name, Image: image, Replicas: replicas, Port: 8080, Spec: spec}.BlueGreen(strategy)
}

func hashOf(t *testing.T, r *rollout) string {
	t.Helper()
	return r.Get().Status.CurrentPodHash
}

// The seed walkthrough, as the seed runs it.
func TestBlueGreenSeedWalkthrough(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-seed")

	// Given the seed's Rollout and Services
	r := fixture.GivenFixture(t, ns, "rollout-bluegreen", "seed-bluegreen.yaml")
	// Then its first ReplicaSet has the seed's hash and the active Service selects it
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if got := r.ReplicaSets(); got["rollout-bluegreen-558dcdc6d"] != 2 || len(got) != 1 {
		t.Fatalf("replicasets %v, want rollout-bluegreen-558dcdc6d at 2", got)
	}
	if s := r.Selector("rollout-bluegreen-active"); s != "558dcdc6d" {
		t.Fatalf("active selector %q", s)
	}

	// When the image changes
	r.SetImage("argoproj/rollouts-demo:yellow")
	// Then the preview Service selects the new version and the rollout pauses
	ro := r.Phase(v1alpha1.RolloutPhasePaused, timeout)
	yellow := ro.Status.CurrentPodHash
	if ro.Status.Message != "BlueGreenPause" {
		t.Fatalf("message %q", ro.Status.Message)
	}
	if s := r.Selector("rollout-bluegreen-preview"); s != yellow {
		t.Fatalf("preview selects %q, want %q", s, yellow)
	}
	if s := r.Selector("rollout-bluegreen-active"); s != "558dcdc6d" {
		t.Fatalf("active moved to %q before promotion", s)
	}
	if n := r.ReadyPods(yellow); n != 2 {
		t.Fatalf("preview has %d ready pods, want 2", n)
	}

	// When promoted
	r.Promote()
	// Then the active Service moves, and the old version goes once its delay passed
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if s := r.Selector("rollout-bluegreen-active"); s != yellow {
		t.Fatalf("active selects %q after promote, want %q", s, yellow)
	}
	r.ReplicaSetsAre(map[string]int32{"rollout-bluegreen-558dcdc6d": 0, "rollout-bluegreen-" + yellow: 2}, 60*time.Second)
	want := []string{"RolloutAddedToInformer", "RolloutUpdated", "NewReplicaSetCreated", "ScalingReplicaSet", "RolloutCompleted", "SwitchService",
		"RolloutUpdated", "NewReplicaSetCreated", "RolloutNotCompleted", "ScalingReplicaSet", "SwitchService", "RolloutPaused",
		"RolloutResumed", "SwitchService", "RolloutCompleted", "ScalingReplicaSet"}
	framework.Eventually(t, 10*time.Second, func() (bool, string) {
		got := r.Events()
		return fixture.ContainsInOrder(got, want), fmt.Sprintf("events %v do not contain %v in order", got, want)
	})
}

func TestBlueGreenAutoPromotion(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-auto")
	r := fixture.Given(t, ns, "auto", bgManifest("auto", "nginx:1", 2, "scaleDownDelaySeconds: 2", ""))
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	r.SetImage("nginx:2")
	ro := r.Until("active on the new version", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.StableRS == ro.Status.CurrentPodHash && ro.Status.BlueGreen.ActiveSelector == ro.Status.CurrentPodHash
	})
	if len(ro.Status.PauseConditions) != 0 {
		t.Fatalf("auto-promotion paused: %v", ro.Status.PauseConditions)
	}
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		got := r.ReplicaSets()
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
	r := fixture.Given(t, ns, "autosec", bgManifest("autosec", "nginx:1", 1, "autoPromotionSeconds: 4", ""))
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	r.SetImage("nginx:2")
	paused := r.Phase(v1alpha1.RolloutPhasePaused, timeout)
	start := paused.Status.PauseConditions[0].StartTime.Time
	ro := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
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
	r := fixture.Given(t, ns, "pc", bgManifest("pc", "nginx:1", 3, "autoPromotionEnabled: false\npreviewReplicaCount: 1\nscaleDownDelaySeconds: 2", ""))
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	r.SetImage("nginx:2")
	ro := r.Phase(v1alpha1.RolloutPhasePaused, timeout)
	newRS := "pc-" + ro.Status.CurrentPodHash
	if got := r.ReplicaSets()[newRS]; got != 1 {
		t.Fatalf("preview runs %d replicas, want previewReplicaCount 1", got)
	}
	r.Promote()
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if got := r.ReplicaSets()[newRS]; got != 3 {
		t.Fatalf("promoted version runs %d replicas, want 3", got)
	}
	if r.ReadyPods(ro.Status.CurrentPodHash) != 3 {
		t.Fatal("promoted version not fully ready")
	}
}

func TestBlueGreenScaleDownDelayAcrossUpdates(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-delay")
	r := fixture.Given(t, ns, "delay", bgManifest("delay", "nginx:1", 1, "scaleDownDelaySeconds: 8", ""))
	v1 := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	r.SetImage("nginx:2")
	v2 := r.Until("v2 stable", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.StableRS == ro.Status.CurrentPodHash && ro.Status.CurrentPodHash != v1
	}).Status.CurrentPodHash
	r.SetImage("nginx:3")
	v3 := r.Until("v3 stable", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.StableRS == ro.Status.CurrentPodHash && ro.Status.CurrentPodHash != v2
	}).Status.CurrentPodHash
	got := r.ReplicaSets()
	if got["delay-"+v1] != 1 || got["delay-"+v2] != 1 || got["delay-"+v3] != 1 {
		t.Fatalf("old versions should wait out their delays: %v", got)
	}
	r.ReplicaSetsAre(map[string]int32{"delay-" + v1: 0, "delay-" + v2: 0, "delay-" + v3: 1}, 30*time.Second)
}

func TestBlueGreenAbortRetry(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-abort")
	r := fixture.Given(t, ns, "ab", bgManifest("ab", "nginx:1", 2, "autoPromotionEnabled: false\nabortScaleDownDelaySeconds: 3", ""))
	stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	r.SetImage("nginx:2")
	canary := r.Phase(v1alpha1.RolloutPhasePaused, timeout).Status.CurrentPodHash

	r.Abort()
	ro := r.Phase(v1alpha1.RolloutPhaseDegraded, timeout)
	if !strings.HasPrefix(ro.Status.Message, "RolloutAborted: Rollout aborted update to revision 2") {
		t.Fatalf("message %q", ro.Status.Message)
	}
	if r.Selector("ab-active") != stable || r.Selector("ab-preview") != stable {
		t.Fatal("services not back on the stable version after abort")
	}
	r.ReplicaSetsAre(map[string]int32{"ab-" + canary: 0}, 20*time.Second)

	r.Retry()
	r.Phase(v1alpha1.RolloutPhasePaused, timeout)
	if r.Selector("ab-preview") != canary {
		t.Fatal("preview not back on the new version after retry")
	}
	r.Promote()
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if r.Selector("ab-active") != canary {
		t.Fatal("active not on the new version after retry and promote")
	}
}

func TestBlueGreenAbortThenStableImage(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-abort-back")
	r := fixture.Given(t, ns, "back", bgManifest("back", "nginx:1", 2, "autoPromotionEnabled: false", ""))
	stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	r.SetImage("nginx:2")
	r.Phase(v1alpha1.RolloutPhasePaused, timeout)
	r.Abort()
	r.Phase(v1alpha1.RolloutPhaseDegraded, timeout)
	r.SetImage("nginx:1")
	ro := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if ro.Status.CurrentPodHash != stable || ro.Status.Abort {
		t.Fatalf("status %+v", ro.Status)
	}
	if got := r.ReplicaSets(); len(got) != 2 {
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
			r := fixture.Given(t, ns, "dl", bgManifest("dl", "nginx:1", 1, "autoPromotionEnabled: false", spec))
			stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
			// When the new version's pods never become ready
			r.SetImage("nginx:bad-ready")
			wantPrefix := "ProgressDeadlineExceeded: "
			if abort {
				// The deadline is reported first, then the abort it triggers.
				wantPrefix = "RolloutAborted: "
			}
			ro := r.Until("degraded with "+wantPrefix, timeout, func(ro *v1alpha1.Rollout) bool {
				return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && strings.HasPrefix(ro.Status.Message, wantPrefix)
			})
			if !strings.HasPrefix(ro.Status.Message, wantPrefix) {
				t.Fatalf("message %q, want prefix %q", ro.Status.Message, wantPrefix)
			}
			if ro.Status.Abort != abort {
				t.Fatalf("abort = %v", ro.Status.Abort)
			}
			// Then no Service ever pointed at the unready version
			if r.Selector("dl-active") != stable || r.Selector("dl-preview") != stable {
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
	r := fixture.Given(t, ns, "inv", manifest)
	ro := r.Phase(v1alpha1.RolloutPhaseDegraded, timeout)
	if !strings.Contains(ro.Status.Message, `service "inv-preview" not found`) {
		t.Fatalf("message %q does not name the missing service", ro.Status.Message)
	}
	if got := r.ReplicaSets(); len(got) != 0 {
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
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)

	// Given a selector that does not match the template
	r2 := fixture.Given(t, ns, "mismatch", strings.Replace(bgManifest("mismatch", "nginx:1", 1, "", ""), "matchLabels: {app: mismatch}", "matchLabels: {app: other}", 1))
	ro = r2.Phase(v1alpha1.RolloutPhaseDegraded, timeout)
	if !strings.HasPrefix(ro.Status.Message, "InvalidSpec: ") || !strings.Contains(ro.Status.Message, "selector") {
		t.Fatalf("message %q does not explain the selector mismatch", ro.Status.Message)
	}
}

func TestBlueGreenKubectlWaitPaused(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "bg-wait")
	r := fixture.Given(t, ns, "wait", bgManifest("wait", "nginx:1", 1, "autoPromotionEnabled: false", ""))
	framework.Kubectl(t, "-n", ns, "wait", "--for=condition=Healthy", "rollout/wait", "--timeout=60s")
	r.SetImage("nginx:2")
	out := framework.Kubectl(t, "-n", ns, "wait", "--for=condition=Paused", "rollout/wait", "--timeout=60s")
	if !strings.Contains(out, "condition met") {
		t.Fatalf("kubectl wait: %s", out)
	}
	r.Promote()
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
	r := fixture.Given(t, ns, "kill", manifest)
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	for i, img := range []string{"nginx:2", "nginx:3", "nginx:4"} {
		r.SetImage(img)
		// Kill at a different point of each update.
		time.Sleep(time.Duration(50+150*i) * time.Millisecond)
		ctl.KillAndRestart()
		ro := r.Until("update "+img+" complete", timeout, func(ro *v1alpha1.Rollout) bool {
			return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash &&
				ro.Spec.Template.Spec.Containers[0].Image == img && fixture.Observed(ro)
		})
		if r.Selector("kill-active") != ro.Status.CurrentPodHash {
			t.Fatalf("after %s the active service selects %q", img, r.Selector("kill-active"))
		}
		if r.ReadyPods(ro.Status.CurrentPodHash) != 3 {
			t.Fatalf("after %s the new version is not fully ready", img)
		}
	}
}
