package chaos

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return s
}()

// updateTimeout bounds one update under faults. Generous: the machine is shared and every
// controller restart re-lists the cluster; nothing is asserted on how long it takes.
const updateTimeout = 6 * time.Minute

func newClient(t testing.TB) client.Client {
	t.Helper()
	c, err := client.New(framework.Config(t), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
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

// controller is one tern-controller replica of a scenario, restarted after each kill. Only
// the processes it started are ever signalled, by their PIDs.
type controller struct {
	t       testing.TB
	name    string
	args    []string
	logPath string
	metrics string // host:port of /metrics, "" when off

	mu     sync.Mutex
	p      *framework.Process
	starts int
}

// startController starts a replica handling only the scenario's namespace and instance id.
func startController(t testing.TB, name, ns, id string, extra ...string) *controller {
	t.Helper()
	c := &controller{t: t, name: name, logPath: filepath.Join(t.TempDir(), name+".log")}
	c.metrics = freeAddr(t)
	c.args = framework.ControllerArgs(framework.Kubeconfig(t),
		append([]string{"--instance-id", id, "--namespace", ns, "--metrics-bind-address", c.metrics}, extra...)...)
	c.start()
	t.Cleanup(func() {
		c.mu.Lock()
		p := c.p
		c.mu.Unlock()
		p.Stop()
		if t.Failed() {
			p.DumpLog(80)
		}
	})
	return c
}

func (c *controller) start() {
	c.t.Helper()
	p, err := framework.StartProcess(c.logPath, controllerBin, c.args...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.p = p
	c.starts++
	c.mu.Unlock()
}

// kill SIGKILLs the replica, as a crash or an OOM kill would, and starts it again at once.
func (c *controller) kill() {
	c.t.Helper()
	c.mu.Lock()
	p := c.p
	c.mu.Unlock()
	p.Kill()
	// Marks the kill in the log, so that a failure's log dump shows where each life ends.
	if f, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		fmt.Fprintf(f, "---- chaos: SIGKILL at %s, restarting ----\n", time.Now().Format(time.RFC3339Nano))
		f.Close()
	}
	c.start()
}

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

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// rollout is a handle on one Rollout of a scenario.
type rollout struct {
	t    testing.TB
	c    client.Client
	ns   string
	name string
}

func (r *rollout) get() (*v1alpha1.Rollout, error) {
	ro := &v1alpha1.Rollout{}
	err := r.c.Get(context.Background(), types.NamespacedName{Namespace: r.ns, Name: r.name}, ro)
	return ro, err
}

func (r *rollout) mustGet() *v1alpha1.Rollout {
	r.t.Helper()
	var ro *v1alpha1.Rollout
	// The API server may be restarting: reads are retried, not failed.
	framework.Eventually(r.t, 2*time.Minute, func() (bool, string) {
		var err error
		ro, err = r.get()
		return err == nil, fmt.Sprint(err)
	})
	return ro
}

// patch applies a merge patch to the spec or, with status, the status subresource,
// retrying while the API server is away.
func (r *rollout) patch(status bool, patch string) {
	r.t.Helper()
	framework.Eventually(r.t, 2*time.Minute, func() (bool, string) {
		ro := &v1alpha1.Rollout{}
		ro.Namespace, ro.Name = r.ns, r.name
		p := client.RawPatch(types.MergePatchType, []byte(patch))
		var err error
		if status {
			err = r.c.Status().Patch(context.Background(), ro, p)
		} else {
			err = r.c.Patch(context.Background(), ro, p)
		}
		return err == nil, fmt.Sprintf("patch %s: %v", patch, err)
	})
}

func (r *rollout) setImage(image string) {
	r.t.Helper()
	r.patch(false, fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image))
}

// promote is what `kubectl argo rollouts promote` does: clear the pause conditions.
func (r *rollout) promote() error {
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = r.ns, r.name
	return r.c.Status().Patch(context.Background(), ro, client.RawPatch(types.MergePatchType, []byte(`{"status":{"pauseConditions":null}}`)))
}

// observed reports whether the status describes the rollout's latest spec.
func observed(ro *v1alpha1.Rollout) bool {
	return ro.Status.ObservedGeneration == strconv.FormatInt(ro.Generation, 10)
}

// done reports whether the rollout finished its update to image: Healthy on that image,
// stable, its Services on it, every pod Ready and every older ReplicaSet scaled to zero
// (so that the next update starts from a settled state). why says what is missing.
func (r *rollout) done(image string) (ok bool, why string) {
	ro, err := r.get()
	if err != nil {
		return false, err.Error()
	}
	st := ro.Status
	desc := fmt.Sprintf("phase=%s message=%q stable=%s current=%s step=%v pause=%v abort=%v observed=%v",
		st.Phase, st.Message, st.StableRS, st.CurrentPodHash, stepOf(ro), st.PauseConditions, st.Abort, observed(ro))
	if ro.Spec.Template.Spec.Containers[0].Image != image || !observed(ro) || st.Phase != v1alpha1.RolloutPhaseHealthy ||
		st.StableRS == "" || st.StableRS != st.CurrentPodHash {
		return false, desc
	}
	var svcs []string
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		svcs = []string{bg.ActiveService, bg.PreviewService}
	} else if c := ro.Spec.Strategy.Canary; c != nil {
		svcs = []string{c.StableService, c.CanaryService}
	}
	for _, name := range svcs {
		svc := &corev1.Service{}
		if err := r.c.Get(context.Background(), types.NamespacedName{Namespace: r.ns, Name: name}, svc); err != nil {
			return false, err.Error()
		}
		if got := svc.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]; got != st.StableRS {
			return false, fmt.Sprintf("service %s selects %q; %s", name, got, desc)
		}
	}
	rss := &appsv1.ReplicaSetList{}
	if err := r.c.List(context.Background(), rss, client.InNamespace(r.ns)); err != nil {
		return false, err.Error()
	}
	for _, rs := range rss.Items {
		if owner := rolloutOf(&rs); owner != r.name {
			continue
		}
		want := int32(0)
		if rs.Labels[v1alpha1.DefaultRolloutUniqueLabelKey] == st.StableRS {
			want = ro.GetReplicas()
		}
		if rs.Spec.Replicas == nil || *rs.Spec.Replicas != want || rs.Status.ReadyReplicas != want {
			return false, fmt.Sprintf("replicaset %s at %v (%d ready), want %d; %s", rs.Name, rs.Spec.Replicas, rs.Status.ReadyReplicas, want, desc)
		}
	}
	return true, desc
}

func rolloutOf(rs *appsv1.ReplicaSet) string {
	for _, ref := range rs.OwnerReferences {
		if ref.Kind == "Rollout" {
			return ref.Name
		}
	}
	return ""
}

func stepOf(ro *v1alpha1.Rollout) string {
	if ro.Status.CurrentStepIndex == nil {
		return "-"
	}
	return strconv.Itoa(int(*ro.Status.CurrentStepIndex))
}

// waitDone waits for done, failing the test with what is missing after updateTimeout.
func (r *rollout) waitDone(image string) {
	r.t.Helper()
	framework.Eventually(r.t, updateTimeout, func() (bool, string) { return r.done(image) })
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
			ro, err := r.get()
			if err != nil || !waitsForUser(ro) {
				continue
			}
			sleep(ctx, rnd.duration(0, 1500*time.Millisecond))
			if ro, err := r.get(); err == nil && waitsForUser(ro) {
				_ = r.promote() // retried on the next turn if the API server is away
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

// selectorOf is the pod-template-hash a Service selects ("" when unreadable).
func (r *rollout) selectorOf(name string) string {
	svc := &corev1.Service{}
	if err := r.c.Get(context.Background(), types.NamespacedName{Namespace: r.ns, Name: name}, svc); err != nil {
		return ""
	}
	return svc.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]
}
