package observe

import (
	"context"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/scheme"
	"github.com/tern-rollouts/tern/internal/traffic"
)

func testClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithIndex(&appsv1.ReplicaSet{}, IndexOwnerUID, OwnerUIDIndexer).
		WithIndex(&v1alpha1.AnalysisRun{}, IndexOwnerUID, OwnerUIDIndexer).
		Build()
}

func controlledBy(kind, name string, uid types.UID) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{Kind: kind, Name: name, UID: uid, Controller: &yes}}
}

var appLabels = map[string]string{"app": "web"}

func refRollout(kind string) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "ro-uid"},
		Spec: v1alpha1.RolloutSpec{
			WorkloadRef: &v1alpha1.ObjectRef{Kind: kind, Name: "web-src"},
			Strategy:    v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}},
		},
	}
}

func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: appLabels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
}

// A Deployment's template, selector and generation are what a workloadRef resolves to;
// a missing object resolves to not found, without an error.
func TestSnapshotResolvesWorkloadRef(t *testing.T) {
	ro := refRollout("Deployment")
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web-src", Namespace: "ns", Generation: 4},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: appLabels}, Template: template("nginx:1")},
	}
	s, err := Snapshot(context.Background(), testClient(t, ro, dep), ro, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w := s.Workload
	if w == nil || !w.Found || w.Generation != 4 || w.Deployment == nil || w.Template.Spec.Containers[0].Image != "nginx:1" || w.Selector.MatchLabels["app"] != "web" {
		t.Fatalf("workload %+v", w)
	}

	s, err = Snapshot(context.Background(), testClient(t, ro), ro, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s.Workload == nil || s.Workload.Found {
		t.Fatalf("missing Deployment resolved to %+v", s.Workload)
	}

	pt := refRollout("PodTemplate")
	podTemplate := &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "web-src", Namespace: "ns", Generation: 1}, Template: template("nginx:2")}
	s, err = Snapshot(context.Background(), testClient(t, pt, podTemplate), pt, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Workload.Found || s.Workload.Selector != nil || s.Workload.Template.Spec.Containers[0].Image != "nginx:2" {
		t.Fatalf("PodTemplate resolved to %+v", s.Workload)
	}
}

// Pods are read only while a restart is pending, and only those of the rollout's own
// ReplicaSets, not those of a Deployment that shares the labels. A ReplicaSet that the
// workloadRef names is not adopted.
func TestSnapshotPodsAndOrphans(t *testing.T) {
	ro := refRollout("ReplicaSet")
	ro.Spec.Selector = &metav1.LabelSelector{MatchLabels: appLabels}
	src := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-src", Namespace: "ns", UID: "src-uid", Labels: appLabels},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: appLabels}, Template: template("nginx:1")}}
	orphan := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-old", Namespace: "ns", UID: "old-uid", Labels: appLabels}}
	mine := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-abc", Namespace: "ns", UID: "rs-uid", Labels: appLabels,
		OwnerReferences: controlledBy("Rollout", "web", ro.UID)}}
	pod := func(name string, owner types.UID) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: appLabels, OwnerReferences: controlledBy("ReplicaSet", "x", owner)}}
	}
	objs := []client.Object{ro, src, orphan, mine, pod("ours", "rs-uid"), pod("theirs", "src-uid")}

	s, err := Snapshot(context.Background(), testClient(t, objs...), ro, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Orphans) != 1 || s.Orphans[0].Name != "web-old" {
		t.Fatalf("orphans %v, want only web-old", names(s.Orphans))
	}
	if len(s.Pods) != 0 {
		t.Fatal("pods read with no restart pending")
	}

	at := metav1.Now()
	ro.Spec.RestartAt = &at
	s, err = Snapshot(context.Background(), testClient(t, objs...), ro, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pods) != 1 || s.Pods[0].Name != "ours" {
		t.Fatalf("pods %d, want only the rollout's", len(s.Pods))
	}
}

func names(rss []*appsv1.ReplicaSet) []string {
	var out []string
	for _, rs := range rss {
		out = append(out, rs.Name)
	}
	return out
}

// The snapshot carries the traffic the routers observed: each Service the strategy names
// that exists, with the hash it selects; a missing one is absent, for the planner to
// report.
func TestSnapshotObservesTraffic(t *testing.T) {
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "ro-uid"},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
			ActiveService: "active", PreviewService: "preview"}}},
	}
	active := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "active", Namespace: "ns"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web", v1alpha1.DefaultRolloutUniqueLabelKey: "abc"}}}
	s, err := Snapshot(context.Background(), testClient(t, ro, active), ro, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]traffic.Selection{"active": {Service: "active", Role: traffic.RoleActive, Hash: "abc"}}
	if !reflect.DeepEqual(s.Traffic.Services, want) {
		t.Fatalf("traffic %+v, want %+v", s.Traffic.Services, want)
	}
}
