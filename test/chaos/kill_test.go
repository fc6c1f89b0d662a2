package chaos

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// killable is what a kill scenario kills: one replica, or the leader of two.
type killable interface {
	// killOne SIGKILLs one replica and starts it again.
	killOne(t testing.TB)
}

type single struct{ c *controller }

func (s single) killOne(testing.TB) { s.c.kill() }

// pair is two replicas with leader election; the leader is the one killed, so that the
// standby has to take over, and the killed one comes back as the new standby.
type pair struct{ replicas [2]*controller }

func (p pair) killOne(t testing.TB) {
	t.Helper()
	leader := -1
	// During a takeover no one leads for up to a lease: wait for the next leader.
	framework.Eventually(t, 2*time.Minute, func() (bool, string) {
		for i, c := range p.replicas {
			if metricSum(c.scrape(), "leader_election_master_status", `name="tern-controller-lock"`) == 1 {
				leader = i
				return true, ""
			}
		}
		return false, "no replica reports itself leader"
	})
	p.replicas[leader].kill()
}

// killDuring kills at random points of the update to image until it is done or budget
// kills are spent, and returns how many kills landed while the update was under way. A
// point is either a random delay (0.2-3 s) or just after the next change the monitor sees
// plus up to 400 ms, so that kills also fall in the middle of the controller's writes.
func killDuring(t testing.TB, target killable, r *rollout, image string, mon *framework.Monitor, rnd *lockedRand, budget int) int {
	t.Helper()
	kills := 0
	for kills < budget {
		if rnd.intN(2) == 0 {
			time.Sleep(rnd.duration(200*time.Millisecond, 3*time.Second))
		} else {
			base := mon.Changes()
			for i := 0; i < 500 && mon.Changes() == base; i++ {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(rnd.duration(0, 400*time.Millisecond))
		}
		if ok, _ := r.Done(image); ok {
			break
		}
		target.killOne(t)
		kills++
	}
	return kills
}

// killScenario runs updates of one rollout with kills during each, until budget kills have
// landed during updates, and checks that every update completes with the monitor silent.
func killScenario(t *testing.T, scenario string, leaders bool, manifest func(name, image string) string) {
	framework.Kubeconfig(t)
	budget := intEnv(envKills, 3, 24)
	if leaders {
		budget = intEnv(envKills+"_LEADER", 0, 8)
	}
	if budget == 0 {
		t.Skip("no kill points asked for in the " + form() + " form")
	}
	planned := max(intEnv(envUpdates, 2, 4), 1)
	perUpdate := (budget + planned - 1) / planned
	res := &result{scenario: scenario, faultKinds: "SIGKILL"}
	recordResult(t, res)

	ns, id, mon := newScenario(t, "chaos-"+scenario)
	var target killable
	if leaders {
		lease := []string{"--leader-elect", "--leader-election-namespace", ns, "--leader-election-lease-duration", "6s",
			"--leader-election-renew-deadline", "4s", "--leader-election-retry-period", "1s"}
		target = pair{[2]*controller{startController(t, "replica-0", ns, id, lease...), startController(t, "replica-1", ns, id, lease...)}}
	} else {
		target = single{startController(t, "controller", ns, id)}
	}
	rnd := newRand(t)
	r := newRollout(t, ns, "app")
	framework.Apply(t, ns, []byte(framework.WithInstanceID(manifest("app", "nginx:1"), "app", id)))
	r.WaitDone("nginx:1", updateTimeout)
	stop := promoter(t, r, rnd)
	defer stop()
	// Beyond the planned updates only if the updates were too quick to take their kills.
	for u := 0; res.killPoints < budget && u < 3*planned; u++ {
		image := fmt.Sprintf("nginx:%d", u+2)
		res.attempted++
		r.SetImage(image)
		k := killDuring(t, target, r, image, mon, rnd, min(perUpdate, budget-res.killPoints))
		res.killPoints += k
		res.faults += k
		r.WaitDone(image, updateTimeout)
		res.completed++
		t.Logf("update %d to %s complete after %d kills (%d of %d kill points)", u+1, image, k, res.killPoints, budget)
	}
	stop()
	if res.killPoints < budget {
		res.note = fmt.Sprintf("updates ended before %d kills", budget)
	}
	res.violations = monitorResult(t, mon)
	res.note = strings.TrimSpace(res.note + fmt.Sprintf(" %d changes checked", mon.Changes()))
}

// TestKillBlueGreen: a blue-green rollout promoted by hand while its controller is killed at
// random points, before and after the switch and during the old version's scale-down delay.
func TestKillBlueGreen(t *testing.T) {
	killScenario(t, "kill-bluegreen", false, func(name, image string) string {
		return framework.BlueGreenManifest(name, image, 3, "autoPromotionEnabled: false\nscaleDownDelaySeconds: 2")
	})
}

// TestKillCanary: a canary with timed and indefinite pauses, killed at random points of its
// steps.
func TestKillCanary(t *testing.T) {
	killScenario(t, "kill-canary", false, func(name, image string) string {
		return framework.CanaryManifest(name, image, 4, `steps:
- setWeight: 25
- pause: {duration: 2}
- setWeight: 50
- pause: {}
- setWeight: 75
- pause: {duration: 1}`)
	})
}

// TestKillLeader: two replicas with leader election; the leader is killed at random points of
// canary updates and the standby must take over and finish them. The long form only: each
// takeover waits for a lease to expire.
func TestKillLeader(t *testing.T) {
	killScenario(t, "kill-leader", true, func(name, image string) string {
		return framework.CanaryManifest(name, image, 3, `steps:
- setWeight: 34
- pause: {duration: 2}
- setWeight: 67
- pause: {}`)
	})
}
