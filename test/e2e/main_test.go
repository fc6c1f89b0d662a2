// Package e2e holds the end-to-end scenarios of Tern, run against the local control plane
// (test/cluster) with the controller built from this tree, written as Given/When/Then.
package e2e

import (
	"context"
	"fmt"
	"github.com/go-logr/logr"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

var (
	// controllerBin is the tern-controller built for this run.
	controllerBin string
	scheme        = runtime.NewScheme()
)

func TestMain(m *testing.M) {
	// The tests' own clients log nothing worth reading; without a logger controller-runtime
	// prints a warning with a stack trace.
	ctrllog.SetLogger(logr.Discard())
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	os.Exit(run(m))
}

func run(m *testing.M) int {
	kubeconfig := os.Getenv(framework.EnvKubeconfig)
	if kubeconfig == "" {
		// The tests skip (or fail, when required) on their own.
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "tern-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	controllerBin, err = framework.BuildBinary(dir, "github.com/tern-rollouts/tern/cmd/tern-controller")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctl, err := startController(filepath.Join(dir, "controller.log"), kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	stopAnalysisEnv()
	ctl.Stop()
	if code != 0 {
		ctl.DumpLog(200)
	}
	return code
}

// controllerProcess is a tern-controller started by a test.
type controllerProcess = framework.Process

func startController(logPath, kubeconfig string, extra ...string) (*controllerProcess, error) {
	return framework.StartProcess(logPath, controllerBin, framework.ControllerArgs(kubeconfig, extra...)...)
}

// ownController is a tern-controller of one test, for the tests that kill it: it handles
// only the test's namespace and the Rollouts labelled with its instance id
// (framework.WithInstanceID), so that killing it disturbs no other test and the suite's
// controller does not finish the test's updates in its place.
type ownController struct {
	t       *testing.T
	logPath string
	args    []string
	p       *controllerProcess
}

func startOwnController(t *testing.T, ns, id string) *ownController {
	t.Helper()
	c := &ownController{t: t, logPath: filepath.Join(t.TempDir(), "controller.log"),
		args: []string{"--instance-id", id, "--namespace", ns}}
	c.start()
	t.Cleanup(func() {
		c.p.Stop()
		if t.Failed() {
			c.p.DumpLog(100)
		}
	})
	return c
}

func (c *ownController) start() {
	c.t.Helper()
	p, err := startController(c.logPath, framework.Kubeconfig(c.t), c.args...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.p = p
}

// killAndRestart SIGKILLs the controller, as a crash would, and starts it again at once.
func (c *ownController) killAndRestart() {
	c.t.Helper()
	c.p.Kill()
	c.start()
}

func newClient(t testing.TB) client.Client {
	t.Helper()
	c, err := client.New(framework.Config(t), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rollout is a handle on one Rollout under test, with the Given/When/Then vocabulary.
type rollout struct {
	t    *testing.T
	c    client.Client
	ns   string
	name string
}

func givenManifest(t *testing.T, ns, file, name string) *rollout {
	t.Helper()
	framework.Apply(t, ns, mustRead(t, file))
	return &rollout{t: t, c: newClient(t), ns: ns, name: name}
}

// readFixture reads one of the seed manifests in test/fixtures.
func readFixture(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "fixtures", name))
}

func givenYAML(t *testing.T, ns, name, manifest string) *rollout {
	t.Helper()
	framework.Apply(t, ns, []byte(manifest))
	return &rollout{t: t, c: newClient(t), ns: ns, name: name}
}

func (r *rollout) get() *v1alpha1.Rollout {
	r.t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := r.c.Get(context.Background(), types.NamespacedName{Namespace: r.ns, Name: r.name}, ro); err != nil {
		r.t.Fatalf("reading rollout %s/%s: %v", r.ns, r.name, err)
	}
	return ro
}

// until waits for a condition on the rollout, reporting its status on timeout.
func (r *rollout) until(what string, timeout time.Duration, cond func(*v1alpha1.Rollout) bool) *v1alpha1.Rollout {
	r.t.Helper()
	var last *v1alpha1.Rollout
	framework.Eventually(r.t, timeout, func() (bool, string) {
		last = r.get()
		return cond(last), fmt.Sprintf("waiting for %s; phase=%s message=%q stable=%s current=%s active=%s preview=%s pause=%v abort=%v",
			what, last.Status.Phase, last.Status.Message, last.Status.StableRS, last.Status.CurrentPodHash,
			last.Status.BlueGreen.ActiveSelector, last.Status.BlueGreen.PreviewSelector, last.Status.PauseConditions, last.Status.Abort)
	})
	return last
}

// observed reports whether the status describes the rollout's latest spec.
func observed(ro *v1alpha1.Rollout) bool {
	return ro.Status.ObservedGeneration == strconv.FormatInt(ro.Generation, 10)
}

func (r *rollout) phase(p v1alpha1.RolloutPhase, timeout time.Duration) *v1alpha1.Rollout {
	r.t.Helper()
	return r.until("phase "+string(p), timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == p && observed(ro)
	})
}

func (r *rollout) setImage(image string) {
	r.t.Helper()
	r.patchSpec(types.JSONPatchType, fmt.Sprintf(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":%q}]`, image))
}

func (r *rollout) patchSpec(patchType types.PatchType, patch string) {
	r.t.Helper()
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = r.ns, r.name
	if err := r.c.Patch(context.Background(), ro, client.RawPatch(patchType, []byte(patch))); err != nil {
		r.t.Fatalf("patching rollout %s/%s with %s: %v", r.ns, r.name, patch, err)
	}
}

func (r *rollout) patchStatus(patch string) {
	r.t.Helper()
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = r.ns, r.name
	if err := r.c.Status().Patch(context.Background(), ro, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		r.t.Fatalf("patching status of rollout %s/%s with %s: %v", r.ns, r.name, patch, err)
	}
}

func (r *rollout) promote() { r.patchStatus(`{"status":{"pauseConditions":null}}`) }
func (r *rollout) abort()   { r.patchStatus(`{"status":{"abort":true}}`) }
func (r *rollout) retry()   { r.patchStatus(`{"status":{"abort":false}}`) }

func (r *rollout) selector(svc string) string {
	r.t.Helper()
	s := &corev1.Service{}
	if err := r.c.Get(context.Background(), types.NamespacedName{Namespace: r.ns, Name: svc}, s); err != nil {
		r.t.Fatal(err)
	}
	return s.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]
}

// replicaSets returns spec replicas by ReplicaSet name.
func (r *rollout) replicaSets() map[string]int32 {
	r.t.Helper()
	list := &appsv1.ReplicaSetList{}
	if err := r.c.List(context.Background(), list, client.InNamespace(r.ns)); err != nil {
		r.t.Fatal(err)
	}
	out := map[string]int32{}
	for _, rs := range list.Items {
		if rs.Spec.Replicas != nil {
			out[rs.Name] = *rs.Spec.Replicas
		}
	}
	return out
}

// readyPods counts the Ready pods of a pod-template-hash.
func (r *rollout) readyPods(hash string) int {
	r.t.Helper()
	pods := &corev1.PodList{}
	if err := r.c.List(context.Background(), pods, client.InNamespace(r.ns), client.MatchingLabels{v1alpha1.DefaultRolloutUniqueLabelKey: hash}); err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				n++
			}
		}
	}
	return n
}

// events lists the reasons of the rollout's Events in the order they were recorded (the
// recorder names each Event after its creation time in nanoseconds).
func (r *rollout) events() []string {
	r.t.Helper()
	list := &corev1.EventList{}
	if err := r.c.List(context.Background(), list, client.InNamespace(r.ns)); err != nil {
		r.t.Fatal(err)
	}
	type ev struct {
		at     int64
		reason string
	}
	var evs []ev
	for _, e := range list.Items {
		if e.InvolvedObject.Kind != "Rollout" || e.InvolvedObject.Name != r.name {
			continue
		}
		// Repeats of an Event are folded into its count; only the first one has a place
		// in the order.
		at, _ := strconv.ParseInt(e.Name[strings.LastIndex(e.Name, ".")+1:], 16, 64)
		evs = append(evs, ev{at, e.Reason})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	var out []string
	for _, e := range evs {
		out = append(out, e.reason)
	}
	return out
}

// containsInOrder reports whether want appears in got as a subsequence.
func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
