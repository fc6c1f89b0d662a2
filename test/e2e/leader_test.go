package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/fixture"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

func httpGet(url string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Two replicas elect a leader through a Lease; the standby serves /healthz and /readyz
// but does not act; when the leader is killed the standby takes over within the lease
// time and the update finishes.
func TestLeaderElectionFailover(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "leader")
	const id = "leader-test"
	type replica struct {
		*fixture.Controller
		health, metric string
	}
	start := func(i int) *replica {
		r := &replica{health: fixture.FreeAddr(t), metric: fixture.FreeAddr(t)}
		r.Controller = fixture.StartController(t, fmt.Sprintf("controller-%d", i), framework.Kubeconfig(t),
			"--instance-id", id, "--namespace", ns, "--leader-elect", "--leader-election-namespace", ns,
			"--leader-election-lease-duration", "6s", "--leader-election-renew-deadline", "4s", "--leader-election-retry-period", "1s",
			"--health-probe-bind-address", r.health, "--metrics-bind-address", r.metric)
		return r
	}
	replicas := []*replica{start(0), start(1)}
	for _, r := range replicas {
		framework.Eventually(t, 30*time.Second, func() (bool, string) {
			code, body := httpGet("http://" + r.health + "/readyz")
			return code == 200, fmt.Sprintf("readyz: %d %s", code, body)
		})
		if code, _ := httpGet("http://" + r.health + "/healthz"); code != 200 {
			t.Fatalf("healthz answered %d", code)
		}
	}
	leader := -1
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		for i, r := range replicas {
			_, body := httpGet("http://" + r.metric + "/metrics")
			if strings.Contains(body, `leader_election_master_status{name="tern-controller-lock"} 1`) {
				leader = i
				return true, ""
			}
		}
		return false, "no replica reports itself leader on /metrics"
	})

	manifest := framework.WithInstanceID(bgManifest("le", "nginx:1", 2, "scaleDownDelaySeconds: 2", ""), "le", id)
	r := fixture.Given(t, ns, "le", manifest)
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	_, body := httpGet("http://" + replicas[leader].metric + "/metrics")
	if !strings.Contains(body, `controller_runtime_reconcile_total{controller="rollout"`) {
		t.Fatal("the leader's /metrics has no rollout reconcile counts")
	}

	// Kill the leader; the standby must take over and finish an update.
	replicas[leader].Process().Kill()
	killed := time.Now()
	r.SetImage("nginx:2")
	r.Until("update finished by the standby", 60*time.Second, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash &&
			ro.Spec.Template.Spec.Containers[0].Image == "nginx:2" && fixture.Observed(ro)
	})
	t.Logf("update finished %v after the leader was killed (lease 6s)", time.Since(killed).Round(100*time.Millisecond))
}
