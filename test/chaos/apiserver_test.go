package chaos

import (
	"fmt"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// TestAPIServerRestart: a blue-green and a canary rollout update together while the API
// server is stopped and started again at a random point of each update (0-2 s down beyond its
// own shutdown). Every watch of the controller breaks and re-lists; the updates must still
// complete with the monitor silent. Restarting the API server disturbs every other user of the
// control plane, so this runs in the long form (the suite's own control plane) or with
// TERN_E2E_DISRUPTIVE=1.
func TestAPIServerRestart(t *testing.T) {
	framework.Disruptive(t)
	updates := intEnv(envUpdates, 1, 4)
	res := &result{scenario: "apiserver-restart", faultKinds: "kube-apiserver restarts"}
	recordResult(t, res)

	ns, id, mon := newScenario(t, "chaos-apiserver")
	startController(t, "controller", ns, id)
	rnd := newRand(t)
	rollouts := givenRollouts(t, ns, id, rnd,
		named{"bg", framework.BlueGreenManifest("bg", "nginx:1", 2, "autoPromotionEnabled: false\nscaleDownDelaySeconds: 2")},
		named{"cn", framework.CanaryManifest("cn", "nginx:1", 3, `steps:
- setWeight: 34
- pause: {duration: 2}
- setWeight: 67
- pause: {}`)})
	for u := 0; u < updates; u++ {
		image := fmt.Sprintf("nginx:%d", u+2)
		for _, r := range rollouts {
			r.SetImage(image)
			res.attempted++
		}
		time.Sleep(rnd.duration(300*time.Millisecond, 4*time.Second))
		framework.RestartAPIServer(t, rnd.duration(0, 2*time.Second))
		res.faults++
		for _, r := range rollouts {
			r.WaitDone(image, updateTimeout)
			res.completed++
		}
		t.Logf("update %d to %s complete across an API server restart", u+1, image)
	}
	res.violations = monitorResult(t, mon)
	res.note = fmt.Sprintf("%d changes checked", mon.Changes())
}
