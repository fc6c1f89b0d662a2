package framework

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// The Monitor's judging, without a cluster: states are fed as its streams would.

func newTestMonitor() *Monitor {
	m := &Monitor{grace: time.Hour, healthyAt: map[string]uint64{}, active: map[string]bool{}}
	for k := range m.hist {
		m.hist[k] = map[string][]version{}
	}
	return m
}

func objMeta(name string, rv uint64) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "ns", ResourceVersion: strconv.FormatUint(rv, 10)}
}

func owned(om metav1.ObjectMeta, rollout string) metav1.ObjectMeta {
	yes := true
	om.OwnerReferences = []metav1.OwnerReference{{Kind: "Rollout", Name: rollout, Controller: &yes}}
	return om
}

func pod(name, hash string, ready bool, rv uint64) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p := &corev1.Pod{ObjectMeta: objMeta(name, rv)}
	p.Labels = map[string]string{"app": "web", v1alpha1.DefaultRolloutUniqueLabelKey: hash}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	return p
}

func service(name, hash string, rv uint64) *corev1.Service {
	s := &corev1.Service{ObjectMeta: objMeta(name, rv)}
	s.Annotations = map[string]string{v1alpha1.ManagedByRolloutsKey: "web"}
	s.Spec.Selector = map[string]string{"app": "web", v1alpha1.DefaultRolloutUniqueLabelKey: hash}
	return s
}

func healthyRollout(rv uint64) *v1alpha1.Rollout {
	ro := &v1alpha1.Rollout{ObjectMeta: objMeta("web", rv)}
	ro.Status.Phase = v1alpha1.RolloutPhaseHealthy
	return ro
}

// Streams deliver kinds in any order; the view at a revision is what etcd held then.
func TestMonitorViewAtRevision(t *testing.T) {
	m := newTestMonitor()
	m.putLocked(kindRollout, healthyRollout(3), 0)
	m.putLocked(kindPod, pod("a-1", "a", true, 5), 0)
	m.putLocked(kindPod, pod("b-1", "b", true, 12), 0)
	// the Service switch arrives before the old pod's later loss of readiness
	m.putLocked(kindService, service("web-active", "b", 15), 0)
	m.putLocked(kindService, service("web-active", "a", 10), 0) // a stale replay: ignored
	m.putLocked(kindPod, pod("a-1", "a", false, 20), 0)
	m.deleteLocked(kindPod, "b-1", 30, false)

	count := func(rv uint64) (pods int, selector string) {
		v := m.viewLocked(rv)
		for _, o := range v.list(kindService) {
			selector = o.(*corev1.Service).Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]
		}
		return len(v.list(kindPod)), selector
	}
	for _, tc := range []struct {
		rv       uint64
		pods     int
		selector string
	}{{4, 0, ""}, {12, 2, ""}, {15, 2, "b"}, {29, 2, "b"}, {30, 1, "b"}} {
		if pods, sel := count(tc.rv); pods != tc.pods || sel != tc.selector {
			t.Errorf("at %d: %d pods, selector %q; want %d, %q", tc.rv, pods, sel, tc.pods, tc.selector)
		}
	}
	healthy := func(string) bool { return true }
	if f := checkServices(m.viewLocked(20), healthy); len(f) != 0 {
		t.Errorf("at 20 the Service selects a Ready pod of b: %v", f)
	}
	f := checkServices(m.viewLocked(30), healthy)
	if len(f) != 1 || f[0].inv != ServiceSelectsReadyPod || !strings.Contains(f[0].msg, "no Ready pod") {
		t.Fatalf("at 30 b has no pod left: %v", f)
	}
}

func TestMonitorJudgesInRevisionOrderOnceStreamsCaughtUp(t *testing.T) {
	m := newTestMonitor()
	for k := range m.seen {
		m.seen[k] = 100
	}
	m.putLocked(kindPod, pod("a-1", "a", true, 120), 0)
	m.putLocked(kindService, service("web-active", "a", 110), 0)
	if _, _, ok := m.next(); ok {
		t.Fatal("judged 110 before every stream reached it")
	}
	for k := range m.seen {
		m.seen[k] = max(m.seen[k], 125)
	}
	var order []uint64
	for {
		c, v, ok := m.next()
		if !ok {
			break
		}
		m.busy = false
		order = append(order, c.at)
		if v.rv != c.at {
			t.Errorf("view at %d for a change at %d", v.rv, c.at)
		}
	}
	if len(order) != 2 || order[0] != 110 || order[1] != 120 {
		t.Fatalf("judged %v, want [110 120]", order)
	}
	// A stream that stays silent holds nothing back longer than the grace period.
	m.grace = 0
	m.putLocked(kindPod, pod("a-2", "a", true, 200), 0)
	if _, _, ok := m.next(); !ok {
		t.Fatal("a change past the grace period was not judged")
	}
}

func TestCheckServices(t *testing.T) {
	deleting := pod("a-2", "a", true, 3)
	deleting.DeletionTimestamp = &metav1.Time{}
	v := &snapshotView{}
	v.objs[kindService] = []object{service("web-active", "a", 1)}
	v.objs[kindPod] = []object{pod("a-1", "a", false, 2), deleting, pod("b-1", "b", true, 4)}
	if f := checkServices(v, func(string) bool { return false }); len(f) != 0 {
		t.Errorf("a rollout never Healthy yet: %v", f)
	}
	f := checkServices(v, func(string) bool { return true })
	if len(f) != 1 || f[0].rollout != "web" || !strings.Contains(f[0].msg, "no Ready pod among 2") {
		t.Fatalf("got %v", f)
	}
	v.objs[kindPod] = append(v.objs[kindPod], pod("a-3", "a", true, 5))
	if f := checkServices(v, func(string) bool { return true }); len(f) != 0 {
		t.Errorf("a-3 is Ready: %v", f)
	}
}

func rs(name string, replicas int32, ann map[string]string) *appsv1.ReplicaSet {
	r := &appsv1.ReplicaSet{ObjectMeta: owned(objMeta(name, 1), "web")}
	r.Annotations = ann
	r.Spec.Replicas = &replicas
	return r
}

func TestCheckSurgeCanary(t *testing.T) {
	ro := &v1alpha1.Rollout{ObjectMeta: objMeta("web", 1)}
	four := int32(4)
	ro.Spec.Replicas = &four
	ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{}
	v := &snapshotView{}
	v.objs[kindRollout] = []object{ro}
	v.objs[kindReplicaSet] = []object{rs("web-a", 4, nil), rs("web-b", 1, nil), rs("web-old", 0, nil)}
	if f := checkSurge(v, "web-b"); len(f) != 0 {
		t.Errorf("5 is within 4 + 25%%: %v", f)
	}
	v.objs[kindReplicaSet] = []object{rs("web-a", 4, nil), rs("web-b", 2, nil)}
	if f := checkSurge(v, "web-b"); len(f) != 1 || !strings.Contains(f[0].msg, "above the bound 5") {
		t.Errorf("6 is above 4 + 1: %v", f)
	}
	// The controller decided with spec.replicas 6, which a user has just lowered to 4.
	v.objs[kindReplicaSet] = []object{rs("web-a", 4, nil), rs("web-b", 2, map[string]string{v1alpha1.DesiredReplicasAnnotation: "6"})}
	if f := checkSurge(v, "web-b"); len(f) != 0 {
		t.Errorf("within the bound for 6 replicas: %v", f)
	}
	surge := intstr.FromInt32(0)
	ro.Spec.Strategy.Canary.MaxSurge = &surge
	v.objs[kindReplicaSet] = []object{rs("web-a", 4, nil), rs("web-b", 1, nil)}
	if f := checkSurge(v, "web-b"); len(f) != 1 {
		t.Errorf("maxSurge 0 allows no pod above 4: %v", f)
	}
}

func TestCheckSurgeBlueGreen(t *testing.T) {
	ro := &v1alpha1.Rollout{ObjectMeta: objMeta("web", 1)}
	two := int32(2)
	ro.Spec.Replicas = &two
	ro.Spec.Strategy.BlueGreen = &v1alpha1.BlueGreenStrategy{ActiveService: "web-active"}
	delayed := map[string]string{v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey: "2030-01-01T00:00:00Z"}
	v := &snapshotView{}
	v.objs[kindRollout] = []object{ro}
	v.objs[kindReplicaSet] = []object{rs("web-a", 2, delayed), rs("web-b", 2, nil), rs("web-c", 2, nil)}
	if f := checkSurge(v, "web-c"); len(f) != 0 {
		t.Errorf("active and preview with one version in its scale-down delay: %v", f)
	}
	// An update made while another is in preview: active, old preview and new version.
	v.objs[kindReplicaSet] = []object{rs("web-a", 2, nil), rs("web-b", 2, nil), rs("web-c", 2, nil)}
	if f := checkSurge(v, "web-c"); len(f) != 0 {
		t.Errorf("active, preview and a newer version: %v", f)
	}
	v.objs[kindReplicaSet] = []object{rs("web-a", 2, nil), rs("web-b", 2, nil), rs("web-c", 2, nil), rs("web-d", 1, nil)}
	if f := checkSurge(v, "web-d"); len(f) != 1 {
		t.Errorf("four versions up with no delay: %v", f)
	}
	one := int32(1)
	ro.Spec.Strategy.BlueGreen.PreviewReplicaCount = &one
	if f := checkSurge(v, "web-d"); len(f) != 0 {
		t.Errorf("3 x 2 + previewReplicaCount 1: %v", f)
	}
}

func run(name, hash, kind, step string, phase v1alpha1.AnalysisPhase, created int64) *v1alpha1.AnalysisRun {
	r := &v1alpha1.AnalysisRun{ObjectMeta: owned(objMeta(name, 1), "web")}
	r.Labels = map[string]string{v1alpha1.DefaultRolloutUniqueLabelKey: hash, v1alpha1.RolloutTypeLabel: kind}
	if step != "" {
		r.Labels[v1alpha1.RolloutCanaryStepIndexLabel] = step
	}
	r.CreationTimestamp = metav1.Unix(created, 0)
	r.Status.Phase = phase
	return r
}

func TestCheckPromotion(t *testing.T) {
	v := &snapshotView{}
	v.objs[kindAnalysisRun] = []object{
		run("web-b-2-1", "b", "Step", "1", v1alpha1.AnalysisPhaseSuccessful, 10),
		run("web-a-1-1", "a", "Step", "1", v1alpha1.AnalysisPhaseFailed, 10),
	}
	if f := checkPromotion(v, "web", "b"); len(f) != 0 {
		t.Errorf("b passed: %v", f)
	}
	f := checkPromotion(v, "web", "a")
	if len(f) != 1 || f[0].inv != FailedAnalysisNotPromoted || !strings.Contains(f[0].msg, "web-a-1-1 ended Failed") {
		t.Fatalf("a failed: %v", f)
	}
	// retried after the abort, and passed
	v.objs[kindAnalysisRun] = append(v.objs[kindAnalysisRun], run("web-a-3-1", "a", "Step", "1", v1alpha1.AnalysisPhaseSuccessful, 20))
	if f := checkPromotion(v, "web", "a"); len(f) != 0 {
		t.Errorf("a passed on retry: %v", f)
	}
	// an errored background run is not cured by a passing step
	v.objs[kindAnalysisRun] = append(v.objs[kindAnalysisRun], run("web-a-3", "a", "Background", "", v1alpha1.AnalysisPhaseError, 30))
	if f := checkPromotion(v, "web", "a"); len(f) != 1 {
		t.Errorf("a's background analysis errored: %v", f)
	}
}

func TestStepLost(t *testing.T) {
	ro := func(step int32, pod, steps string, abort bool) *v1alpha1.Rollout {
		r := &v1alpha1.Rollout{}
		r.Status.CurrentStepIndex = &step
		r.Status.CurrentPodHash, r.Status.CurrentStepHash, r.Status.Abort = pod, steps, abort
		return r
	}
	for _, tc := range []struct {
		name     string
		old, cur *v1alpha1.Rollout
		lost     bool
	}{
		{"forward", ro(1, "a", "s", false), ro(2, "a", "s", false), false},
		{"back", ro(3, "a", "s", false), ro(1, "a", "s", false), true},
		{"new revision", ro(3, "a", "s", false), ro(0, "b", "s", false), false},
		{"new steps", ro(3, "a", "s", false), ro(0, "a", "t", false), false},
		{"abort", ro(3, "a", "s", false), ro(0, "a", "s", true), false},
		{"retry", ro(0, "a", "s", true), ro(0, "a", "s", false), false},
	} {
		if got := stepLost(tc.old, tc.cur) != ""; got != tc.lost {
			t.Errorf("%s: lost=%v, want %v", tc.name, got, tc.lost)
		}
	}
	// watch order is the rollout's own order: a lost step is recorded as it arrives
	m := newTestMonitor()
	a, b := ro(3, "a", "s", false), ro(1, "a", "s", false)
	a.ObjectMeta, b.ObjectMeta = objMeta("web", 10), objMeta("web", 11)
	m.putLocked(kindRollout, a, 0)
	m.putLocked(kindRollout, b, 0)
	if len(m.violations) != 1 || m.violations[0].Invariant != StepsKept {
		t.Fatalf("violations %v", m.violations)
	}
}

// TestMonitorCatchesViolations plays a broken controller by hand, against the cluster, and
// expects the Monitor to report each breach exactly once, read back from the API server.
// The Rollout carries an instance id no controller serves, so nothing else touches it.
func TestMonitorCatchesViolations(t *testing.T) {
	t.Parallel()
	ns := NewNamespace(t, "fw-monitor")
	mon := StartMonitor(t, ns)
	dyn := Dynamic(t)
	ctx := context.Background()
	ros := dyn.Resource(kinds[kindRollout].gvr).Namespace(ns)
	status := func(patch string) {
		t.Helper()
		if _, err := ros.Patch(ctx, "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status"); err != nil {
			t.Fatal(err)
		}
	}
	applied := Apply(t, ns, []byte(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
  labels: {argo-rollouts.argoproj.io/controller-instance-id: nobody}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: example.invalid/web:v1}]}
  strategy:
    canary:
      maxSurge: 1
      steps: [{setWeight: 50}, {pause: {}}, {setWeight: 100}]
`))
	uid := applied[0].GetUID()
	owner := fmt.Sprintf(`ownerReferences: [{apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: web, uid: %s, controller: true}]`, uid)
	rsManifest := func(hash string, replicas int) []byte {
		return fmt.Appendf(nil, `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-%[1]s
  labels: {app: web, rollouts-pod-template-hash: %[1]s}
  %[3]s
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: web, rollouts-pod-template-hash: %[1]s}}
  template:
    metadata: {labels: {app: web, rollouts-pod-template-hash: %[1]s}}
    spec: {containers: [{name: app, image: example.invalid/web:%[1]s}]}
`, hash, replicas, owner)
	}
	Apply(t, ns, rsManifest("a", 2))
	Apply(t, ns, []byte(`apiVersion: v1
kind: Service
metadata:
  name: web-stable
  annotations: {argo-rollouts.argoproj.io/managed-by-rollouts: web}
spec:
  selector: {app: web, rollouts-pod-template-hash: a}
  ports: [{port: 80}]
`))
	Eventually(t, time.Minute, func() (bool, string) {
		n := 0
		pods, _ := Clientset(t).CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		for i := range pods.Items {
			if isPodReady(&pods.Items[i]) {
				n++
			}
		}
		return n == 2, fmt.Sprintf("%d pods ready", n)
	})
	status(`{"status":{"phase":"Healthy","stableRS":"a","currentPodHash":"a","currentStepIndex":3}}`)

	// 1. the stable Service switched to a version with no pod
	Apply(t, ns, []byte(`apiVersion: v1
kind: Service
metadata:
  name: web-stable
  annotations: {argo-rollouts.argoproj.io/managed-by-rollouts: web}
spec:
  selector: {app: web, rollouts-pod-template-hash: nothing}
  ports: [{port: 80}]
`))
	// 2. a third ReplicaSet beyond replicas + maxSurge (2 + 1)
	Apply(t, ns, rsManifest("b", 2))
	// 3. a step lost on the same revision
	status(`{"status":{"currentPodHash":"b","currentStepIndex":2}}`)
	status(`{"status":{"currentStepIndex":1}}`)
	// 4. a version whose analysis failed made stable
	run := Apply(t, ns, fmt.Appendf(nil, `apiVersion: argoproj.io/v1alpha1
kind: AnalysisRun
metadata:
  name: web-b-step
  labels: {argo-rollouts.argoproj.io/controller-instance-id: nobody, rollouts-pod-template-hash: b, rollout-type: Step, step-index: "0"}
  %s
spec:
  metrics: [{name: m, provider: {web: {url: "http://127.0.0.1:1"}}}]
`, owner))[0]
	runs := dyn.Resource(kinds[kindAnalysisRun].gvr).Namespace(ns)
	if _, err := runs.Patch(ctx, run.GetName(), types.MergePatchType, []byte(`{"status":{"phase":"Failed","message":"m failed"}}`), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	status(`{"status":{"stableRS":"b"}}`)

	want := map[Invariant]int{ServiceSelectsReadyPod: 1, WithinSurge: 1, StepsKept: 1, FailedAnalysisNotPromoted: 1}
	var got []Violation
	Eventually(t, time.Minute, func() (bool, string) {
		got = mon.Violations()
		count := map[Invariant]int{}
		for _, v := range got {
			count[v.Invariant]++
		}
		return fmt.Sprint(count) == fmt.Sprint(want), fmt.Sprintf("violations %v", got)
	})
	for _, v := range got {
		if !v.Confirmed || v.Rollout != "web" {
			t.Errorf("violation %s: want confirmed, of rollout web", v)
		}
		t.Log(v)
	}
}

func TestCheckServicesScaledToZero(t *testing.T) {
	ro := healthyRollout(1)
	zero := int32(0)
	ro.Spec.Replicas = &zero
	v := &snapshotView{}
	v.objs[kindRollout] = []object{ro}
	v.objs[kindService] = []object{service("web-active", "a", 2)}
	if f := checkServices(v, func(string) bool { return true }); len(f) != 0 {
		t.Errorf("a rollout scaled to zero by its user has no pod to select: %v", f)
	}
}
