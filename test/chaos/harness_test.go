package chaos

import (
	"context"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/fixture"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// updateTimeout bounds one update under faults. Generous: the machine is shared and every
// controller restart re-lists the cluster; nothing is asserted on how long it takes.
const updateTimeout = 6 * time.Minute

// apiRetry is how long a scenario's reads and writes are retried: the API server may be
// restarting under them.
const apiRetry = 2 * time.Minute

// rollout is a Rollout of a scenario, read and written with retries.
type rollout = fixture.Rollout

func newRollout(t testing.TB, ns, name string) *rollout {
	t.Helper()
	return fixture.On(t, ns, name).Retrying(apiRetry)
}

// rng is a scenario's random source, derived from the run's seed and the scenario's name so
// that scenarios do not shift each other's kill points.
func rng(t testing.TB) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// newScenario gives a scenario its namespace, watched by the invariant monitor from the start.
// The namespace's name is also the instance id of the scenario's controllers and objects, so
// that no other controller touches them and the scenario's kills disturb no other test.
func newScenario(t testing.TB, prefix string) (ns, id string, mon *framework.Monitor) {
	t.Helper()
	ns = framework.NewNamespace(t, prefix)
	return ns, ns, framework.StartMonitor(t, ns)
}

// controller is one tern-controller replica of a scenario, restarted after each kill,
// with its /metrics on a port of its own.
type controller struct {
	*fixture.Controller
	metrics string // host:port of /metrics
}

// startController starts a replica handling only the scenario's namespace and instance id.
func startController(t testing.TB, name, ns, id string, extra ...string) *controller {
	t.Helper()
	metrics := fixture.FreeAddr(t)
	return &controller{fixture.StartController(t, name, framework.Kubeconfig(t),
		append([]string{"--instance-id", id, "--namespace", ns, "--metrics-bind-address", metrics}, extra...)...), metrics}
}

// kill SIGKILLs the replica, as a crash or an OOM kill would, and starts it again at once.
func (c *controller) kill() { c.KillAndRestart() }

// scrape returns the replica's /metrics text ("" when it does not answer).
func (c *controller) scrape() string {
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get("http://" + c.metrics + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// metricSum adds up the samples of a metric whose labels contain every one of match.
func metricSum(text, metric string, match ...string) float64 {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		ok := true
		for _, m := range match {
			if !strings.Contains(line, m) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// promoter plays the user of the scenarios: it promotes a rollout whenever it waits for
// one (a blue-green before its switch, a canary at an indefinite pause step), after a random
// moment, until stopped. Promotions race with the kills on purpose.
func promoter(t testing.TB, r *rollout, rnd *lockedRand) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			sleep(ctx, 200*time.Millisecond)
			ro, err := r.TryGet()
			if err != nil || !waitsForUser(ro) {
				continue
			}
			sleep(ctx, rnd.duration(0, 1500*time.Millisecond))
			if ro, err := r.TryGet(); err == nil && waitsForUser(ro) {
				_ = r.TryPromote() // retried on the next turn if the API server is away
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// waitsForUser reports whether the rollout is paused until someone promotes it.
func waitsForUser(ro *v1alpha1.Rollout) bool {
	for _, pc := range ro.Status.PauseConditions {
		switch pc.Reason {
		case v1alpha1.PauseReasonBlueGreenPause:
			return true
		case v1alpha1.PauseReasonCanaryPauseStep:
			c := ro.Spec.Strategy.Canary
			i := ro.Status.CurrentStepIndex
			if c != nil && i != nil && int(*i) < len(c.Steps) {
				if p := c.Steps[*i].Pause; p != nil && p.Duration == nil {
					return true
				}
			}
		}
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// lockedRand is a rand shared by a scenario's goroutines.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newRand(t testing.TB) *lockedRand { return &lockedRand{r: rng(t)} }

func (l *lockedRand) duration(lo, hi time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return lo + time.Duration(l.r.Int64N(int64(hi-lo)+1))
}

func (l *lockedRand) intN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

// monitorResult fails the test for each violation and returns how many there were.
func monitorResult(t testing.TB, m *framework.Monitor) int {
	t.Helper()
	vs := m.Violations()
	for _, v := range vs {
		t.Errorf("invariant violated: %s", v)
	}
	return len(vs)
}

// named is a manifest of a Rollout (with its Services) and the Rollout's name.
type named struct{ name, manifest string }

// givenRollouts is the Given of a scenario: it applies each manifest labelled with the
// scenario's instance id and waits until its Rollout has settled on nginx:1; with rnd, a
// promoter then plays the user of each until the test ends.
func givenRollouts(t testing.TB, ns, id string, rnd *lockedRand, manifests ...named) []*rollout {
	t.Helper()
	var out []*rollout
	for _, m := range manifests {
		framework.Apply(t, ns, []byte(framework.WithInstanceID(m.manifest, m.name, id)))
		out = append(out, newRollout(t, ns, m.name))
	}
	for _, r := range out {
		r.WaitDone("nginx:1", updateTimeout)
		if rnd != nil {
			t.Cleanup(promoter(t, r, rnd))
		}
	}
	return out
}
