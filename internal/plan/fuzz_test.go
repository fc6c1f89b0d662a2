package plan

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/hash"
	"github.com/tern-rollouts/tern/internal/snapshot"
	"github.com/tern-rollouts/tern/internal/traffic"
)

// epoch is the time the fuzzed snapshots are taken around.
var epoch = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// fuzzSnapshot builds an arbitrary but well-formed snapshot from fuzz input: a rollout of
// either strategy, up to three ReplicaSets with random sizes and readiness, Services
// pointing anywhere, and a random status.
func fuzzSnapshot(data []byte) *snapshot.Snapshot {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := int(data[0])
		data = data[1:]
		return b
	}
	replicas := int32(next() % 7)
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "f", Namespace: "ns", UID: "ro-uid", Generation: int64(1 + next()%3)},
		Spec: v1alpha1.RolloutSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "f"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "f"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: fmt.Sprintf("img:%d", next()%3)}}},
			},
			Paused: next()%5 == 0,
		},
	}
	if next()%2 == 0 {
		auto := next()%2 == 0
		ro.Spec.Strategy.BlueGreen = &v1alpha1.BlueGreenStrategy{ActiveService: "active", PreviewService: "preview", AutoPromotionEnabled: &auto}
		if next()%3 == 0 {
			ro.Spec.Strategy.BlueGreen.PreviewReplicaCount = ptrTo(int32(next() % 3))
		}
	} else {
		surge, unavail := intstr.FromInt32(int32(next()%3)), intstr.FromInt32(int32(next()%3))
		if surge.IntVal == 0 && unavail.IntVal == 0 {
			surge.IntVal = 1
		}
		ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{CanaryService: "canary", StableService: "stable", MaxSurge: &surge, MaxUnavailable: &unavail,
			Steps: []v1alpha1.CanaryStep{{SetWeight: ptrTo(int32(next() % 101))}, {Pause: &v1alpha1.RolloutPause{}}, {SetWeight: ptrTo(int32(next() % 101))}}}
	}
	s := &snapshot.Snapshot{Rollout: ro, Traffic: traffic.Observed{Services: map[string]traffic.Selection{}}, Now: epoch.Add(time.Duration(next()) * time.Second)}
	var hashes []string
	for i := 0; i < next()%4; i++ {
		tmpl := ro.Spec.Template.DeepCopy()
		tmpl.Spec.Containers[0].Image = fmt.Sprintf("img:%d", i)
		h := hash.PodTemplate(tmpl, nil)
		hashes = append(hashes, h)
		size := int32(next() % 8)
		ready := int32(next() % 9)
		if ready > size {
			ready = size
		}
		tmpl.Labels = withLabel(tmpl.Labels, hashKey, h)
		isController := true
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "f-" + h, Namespace: "ns", UID: types.UID("rs-" + h), Labels: map[string]string{"app": "f", hashKey: h},
				Annotations:     map[string]string{v1alpha1.RevisionAnnotation: fmt.Sprint(i + 1)},
				OwnerReferences: []metav1.OwnerReference{{Kind: "Rollout", Name: "f", UID: "ro-uid", Controller: &isController}}},
			Spec:   appsv1.ReplicaSetSpec{Replicas: &size, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "f", hashKey: h}}, Template: *tmpl},
			Status: appsv1.ReplicaSetStatus{Replicas: size, ReadyReplicas: ready, AvailableReplicas: ready},
		}
		if next()%4 == 0 {
			rs.Annotations[v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey] = epoch.Add(time.Duration(next()) * time.Second).Format(time.RFC3339)
		}
		s.ReplicaSets = append(s.ReplicaSets, rs)
	}
	pick := func() string {
		if len(hashes) == 0 || next()%4 == 0 {
			return ""
		}
		return hashes[next()%len(hashes)]
	}
	for _, name := range []string{"active", "preview", "canary", "stable"} {
		// Each Service is named after its role.
		s.Traffic.Services[name] = traffic.Selection{Service: name, Role: traffic.Role(name), Hash: pick()}
	}
	st := &ro.Status
	st.StableRS = pick()
	st.Abort = next()%5 == 0
	if next()%3 == 0 {
		st.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonBlueGreenPause, StartTime: metav1.NewTime(epoch)}}
		st.ControllerPause = true
	}
	st.ControllerPause = st.ControllerPause || next()%4 == 0
	st.PromoteFull = next()%6 == 0
	if ro.Spec.Strategy.Canary != nil && next()%2 == 0 {
		st.CurrentStepIndex = ptrTo(int32(next() % 4))
	}
	return s
}

// FuzzPlan: for any snapshot the planner must not panic, must be deterministic, and must
// keep the invariants that keep users' traffic safe.
func FuzzPlan(f *testing.F) {
	for _, seed := range [][]byte{
		{3, 1, 0, 0, 1, 2, 2, 5, 5, 0},
		{5, 1, 1, 1, 1, 3, 4, 4, 2, 6, 6, 1, 1, 1, 2, 0, 1},
		{4, 2, 2, 1, 0, 0, 1, 50, 20, 3, 3, 3, 2, 4, 1, 1, 0, 0, 9},
		{6, 1, 1, 1, 2, 1, 0, 2, 3, 3, 7, 7, 1, 7, 2, 0, 2, 1, 1, 1, 3},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzSnapshot(data)
		d := Plan(s)
		if again := Plan(s); !reflect.DeepEqual(d, again) {
			t.Fatal("Plan is not deterministic")
		}
		available := map[string]int32{}
		for _, rs := range s.ReplicaSets {
			available[rs.Labels[hashKey]] = rs.Status.AvailableReplicas
		}
		replicas := s.Rollout.GetReplicas()
		for _, a := range d.Actions {
			switch a := a.(type) {
			case SetTraffic:
				// Invariant 1: never point a Service at a version with no available pods.
				for _, sel := range a.Desired.Services {
					if available[sel.Hash] == 0 {
						t.Fatalf("service %s pointed at %s, which has no available pods", sel.Service, sel.Hash)
					}
				}
			case ScaleReplicaSet:
				if a.Replicas < 0 {
					t.Fatalf("negative scale %d", a.Replicas)
				}
			case CreateReplicaSet:
				if *a.ReplicaSet.Spec.Replicas > replicas {
					t.Fatalf("created a ReplicaSet of %d replicas for a rollout of %d", *a.ReplicaSet.Spec.Replicas, replicas)
				}
			}
		}
		// Invariant 5: an aborted rollout never promotes its new version.
		if s.Rollout.Status.Abort && d.Status.StableRS != s.Rollout.Status.StableRS && s.Rollout.Status.StableRS != "" && d.Status.Abort {
			t.Fatalf("aborted rollout promoted %s", d.Status.StableRS)
		}
		if d.RequeueAfter < 0 {
			t.Fatalf("negative requeue %v", d.RequeueAfter)
		}
	})
}
