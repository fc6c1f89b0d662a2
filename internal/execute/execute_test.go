package execute

import (
	"context"
	"errors"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/plan"
	"github.com/tern-rollouts/tern/internal/scheme"
	"github.com/tern-rollouts/tern/internal/traffic"
)

func newScheme(t *testing.T) *runtime.Scheme {
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testRollout() *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "ro", Namespace: "ns", UID: "ro-uid"},
	}
}

func testRS(name string, replicas int32, owner *v1alpha1.Rollout, image string) *appsv1.ReplicaSet {
	isController := true
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Annotations: map[string]string{},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: owner.Name, UID: owner.UID, Controller: &isController}}},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
		},
	}
}

func setup(t *testing.T, objs ...client.Object) (client.Client, *record.FakeRecorder, *Executor) {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.Rollout{}).Build()
	rec := record.NewFakeRecorder(100)
	return c, rec, &Executor{Client: c, Recorder: rec}
}

func events(rec *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestApplyWritesObjectsAndStatus(t *testing.T) {
	ro := testRollout()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "active", Namespace: "ns"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "x"}}}
	c, rec, e := setup(t, ro, svc)
	status := ro.Status.DeepCopy()
	status.StableRS = "abc"
	status.Phase = v1alpha1.RolloutPhaseHealthy
	d := plan.Decision{
		Actions: []plan.Action{
			plan.CreateReplicaSet{ReplicaSet: testRS("ro-abc", 2, ro, "img:1")},
			plan.Event{Type: corev1.EventTypeNormal, Reason: "NewReplicaSetCreated", Message: "Created ReplicaSet ro-abc (revision 1)"},
			plan.ScaleReplicaSet{Name: "ro-abc", Replicas: 3, DesiredReplicas: 3},
			plan.AnnotateReplicaSet{Name: "ro-abc", Annotations: map[string]*string{"scale-down-deadline": ptr("2026-01-01T00:00:00Z")}},
			plan.SetTraffic{Desired: traffic.Desired{Services: []traffic.Selection{{Service: "active", Role: traffic.RoleActive, Hash: "abc"}}}},
			plan.SetRolloutRevision{Revision: "1"},
		},
		Status: *status,
	}
	res, err := e.Apply(context.Background(), ro, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CreatedReplicaSets) != 1 || res.StatusWritten == nil {
		t.Fatalf("result %+v", res)
	}
	var written []string
	for _, o := range res.Written {
		written = append(written, fmt.Sprintf("%T %s@%s", o, o.GetName(), o.GetResourceVersion()))
	}
	svcRV := ""
	if live := (&corev1.Service{}); c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "active"}, live) == nil {
		svcRV = live.ResourceVersion
	}
	if len(written) != 4 || written[2] != "*v1.Service active@"+svcRV {
		t.Fatalf("written %v: want both ReplicaSet patches, the Service at %s and the Rollout", written, svcRV)
	}
	rs := &appsv1.ReplicaSet{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "ro-abc"}, rs); err != nil {
		t.Fatal(err)
	}
	if *rs.Spec.Replicas != 3 || rs.Annotations[v1alpha1.DesiredReplicasAnnotation] != "3" || rs.Annotations["scale-down-deadline"] != "2026-01-01T00:00:00Z" {
		t.Fatalf("replicaset written: replicas %d annotations %v", *rs.Spec.Replicas, rs.Annotations)
	}
	got := &corev1.Service{}
	_ = c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "active"}, got)
	if got.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey] != "abc" || got.Spec.Selector["app"] != "x" || got.Annotations[v1alpha1.ManagedByRolloutsKey] != "ro" {
		t.Fatalf("service written: selector %v annotations %v", got.Spec.Selector, got.Annotations)
	}
	live := &v1alpha1.Rollout{}
	_ = c.Get(context.Background(), client.ObjectKeyFromObject(ro), live)
	if live.Status.StableRS != "abc" || live.Status.Phase != v1alpha1.RolloutPhaseHealthy || live.Annotations[v1alpha1.RevisionAnnotation] != "1" {
		t.Fatalf("rollout written: status %+v annotations %v", live.Status, live.Annotations)
	}
	if ev := events(rec); len(ev) != 1 || ev[0] != "Normal NewReplicaSetCreated Created ReplicaSet ro-abc (revision 1)" {
		t.Fatalf("events %v", ev)
	}
}

// Re-running a Decision after a crash converges: the ReplicaSet exists and is ours, so
// creating it again is a no-op, and its creation event is not told twice.
func TestApplyIsIdempotent(t *testing.T) {
	ro := testRollout()
	c, rec, e := setup(t, ro, testRS("ro-abc", 2, ro, "img:1"))
	d := plan.Decision{Actions: []plan.Action{
		plan.CreateReplicaSet{ReplicaSet: testRS("ro-abc", 2, ro, "img:1")},
		plan.Event{Type: corev1.EventTypeNormal, Reason: "NewReplicaSetCreated", Message: "Created"},
		plan.ScaleReplicaSet{Name: "ro-abc", Replicas: 2, DesiredReplicas: 2},
	}, Status: ro.Status}
	res, err := e.Apply(context.Background(), ro, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CreatedReplicaSets) != 0 || res.StatusWritten != nil {
		t.Fatalf("result %+v; want nothing created and no status write", res)
	}
	if ev := events(rec); len(ev) != 0 {
		t.Fatalf("events %v, want none", ev)
	}
	rs := &appsv1.ReplicaSet{}
	_ = c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "ro-abc"}, rs)
	if *rs.Spec.Replicas != 2 {
		t.Fatalf("replicas %d", *rs.Spec.Replicas)
	}
}

// A ReplicaSet of the planned name with another template is a hash collision: the
// executor bumps status.collisionCount so the next plan picks a fresh name.
func TestApplyCollisionBumpsCount(t *testing.T) {
	ro := testRollout()
	c, _, e := setup(t, ro, testRS("ro-abc", 2, ro, "other:9"))
	d := plan.Decision{Actions: []plan.Action{plan.CreateReplicaSet{ReplicaSet: testRS("ro-abc", 2, ro, "img:1")}}, Status: ro.Status}
	_, err := e.Apply(context.Background(), ro, d)
	if !errors.Is(err, ErrCollision) {
		t.Fatalf("err = %v, want ErrCollision", err)
	}
	live := &v1alpha1.Rollout{}
	_ = c.Get(context.Background(), client.ObjectKeyFromObject(ro), live)
	if live.Status.CollisionCount == nil || *live.Status.CollisionCount != 1 {
		t.Fatalf("collisionCount = %v, want 1", live.Status.CollisionCount)
	}
}

// A failing action stops the rest, and the status is not written: it never records
// what was not achieved.
func TestApplyStopsAtFirstFailure(t *testing.T) {
	ro := testRollout()
	c, _, e := setup(t, ro)
	status := ro.Status.DeepCopy()
	status.StableRS = "abc"
	d := plan.Decision{Actions: []plan.Action{
		plan.ScaleReplicaSet{Name: "missing", Replicas: 1, DesiredReplicas: 1},
		plan.SetRolloutRevision{Revision: "7"},
	}, Status: *status}
	if _, err := e.Apply(context.Background(), ro, d); err == nil {
		t.Fatal("no error for a missing ReplicaSet")
	}
	live := &v1alpha1.Rollout{}
	_ = c.Get(context.Background(), client.ObjectKeyFromObject(ro), live)
	if live.Status.StableRS != "" || live.Annotations[v1alpha1.RevisionAnnotation] != "" {
		t.Fatalf("writes after the failure were made: status %+v annotations %v", live.Status, live.Annotations)
	}
}

func TestApplyAdoptsAndDeletes(t *testing.T) {
	ro := testRollout()
	orphan := testRS("ro-old", 0, ro, "img:0")
	orphan.OwnerReferences = nil
	orphan.UID = "orphan-uid"
	gone := testRS("ro-gone", 0, ro, "img:0")
	gone.UID = "gone-uid"
	c, _, e := setup(t, ro, orphan, gone)
	d := plan.Decision{Actions: []plan.Action{
		plan.AdoptReplicaSet{Name: "ro-old", UID: "orphan-uid"},
		plan.DeleteReplicaSet{Name: "ro-gone", UID: "gone-uid"},
	}, Status: ro.Status}
	if _, err := e.Apply(context.Background(), ro, d); err != nil {
		t.Fatal(err)
	}
	rs := &appsv1.ReplicaSet{}
	_ = c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "ro-old"}, rs)
	if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != ro.UID {
		t.Fatalf("orphan not adopted: %v", rs.OwnerReferences)
	}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "ro-gone"}, rs); err == nil {
		t.Fatal("ReplicaSet not deleted")
	}
}

func TestSetMetadataTouchesOnlyInjectedKeys(t *testing.T) {
	ro := testRollout()
	rs := testRS("ro-abc", 1, ro, "img:1")
	rs.UID = "rs-uid"
	rs.Spec.Template.Labels["role"] = "preview"
	rs.Annotations[v1alpha1.EphemeralMetadataAnnotation] = `{"labels":{"role":"preview"}}`
	isController := true
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns",
		Labels:          map[string]string{"app": "x", "role": "preview", "team": "a"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "ro-abc", UID: "rs-uid", Controller: &isController}}}}
	c, _, e := setup(t, ro, rs, pod)
	d := plan.Decision{Actions: []plan.Action{plan.SetReplicaSetMetadata{Name: "ro-abc",
		Previous: &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "preview"}},
		Desired:  &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "active"}}}}, Status: ro.Status}
	if _, err := e.Apply(context.Background(), ro, d); err != nil {
		t.Fatal(err)
	}
	got := &corev1.Pod{}
	_ = c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "p"}, got)
	if got.Labels["role"] != "active" || got.Labels["team"] != "a" || got.Labels["app"] != "x" {
		t.Fatalf("pod labels %v", got.Labels)
	}
	live := &appsv1.ReplicaSet{}
	_ = c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "ro-abc"}, live)
	if live.Spec.Template.Labels["role"] != "active" || live.Annotations[v1alpha1.EphemeralMetadataAnnotation] != `{"labels":{"role":"active"}}` {
		t.Fatalf("replicaset template labels %v annotations %v", live.Spec.Template.Labels, live.Annotations)
	}
}

func ptr[T any](v T) *T { return &v }

// Events that report a status transition go out only once the status is written: a
// status patch that fails sends none of them (the retry's plan reports them again),
// while an event of a write made before the failure still goes, once. The retry, whose
// plan no longer has that write, sends the transitions once. Order is kept as planned.
func TestApplyTransitionEventsAfterStatus(t *testing.T) {
	ro := testRollout()
	failStatus := true
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(ro, testRS("ro-abc", 1, ro, "img:1")).
		WithStatusSubresource(&v1alpha1.Rollout{}).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				if failStatus {
					return apierrors.NewConflict(v1alpha1.GroupVersion.WithResource("rollouts").GroupResource(), obj.GetName(), errors.New("stale"))
				}
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
		}).Build()
	rec := record.NewFakeRecorder(100)
	e := &Executor{Client: c, Recorder: rec}

	status := ro.Status.DeepCopy()
	status.PauseConditions = nil
	status.Phase = v1alpha1.RolloutPhaseHealthy
	resumed := plan.Event{Type: corev1.EventTypeNormal, Reason: "RolloutResumed", Message: "Rollout is resumed", AfterStatus: true}
	scaled := plan.Event{Type: corev1.EventTypeNormal, Reason: "ScalingReplicaSet", Message: "Scaled up ReplicaSet ro-abc (revision 1) from 1 to 2"}
	completed := plan.Event{Type: corev1.EventTypeNormal, Reason: "RolloutCompleted", Message: "Rollout completed update to revision 1 (abc): Completed", AfterStatus: true}
	first := plan.Decision{Actions: []plan.Action{
		resumed,
		plan.ScaleReplicaSet{Name: "ro-abc", Replicas: 2, DesiredReplicas: 2},
		scaled,
		completed,
	}, Status: *status}
	if _, err := e.Apply(context.Background(), ro, first); err == nil {
		t.Fatal("no error from a failed status patch")
	}
	want := []string{"Normal ScalingReplicaSet Scaled up ReplicaSet ro-abc (revision 1) from 1 to 2"}
	if got := events(rec); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the failed status patch: events %q, want %q", got, want)
	}

	// The retry plans from the same status; the scale is done, so only the transitions
	// are left to report.
	failStatus = false
	retry := plan.Decision{Actions: []plan.Action{resumed, completed}, Status: *status}
	res, err := e.Apply(context.Background(), ro, retry)
	if err != nil || res.StatusWritten == nil {
		t.Fatalf("retry: err %v, status written %v", err, res.StatusWritten != nil)
	}
	want = []string{"Normal RolloutResumed Rollout is resumed", "Normal RolloutCompleted Rollout completed update to revision 1 (abc): Completed"}
	if got := events(rec); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the retry: events %q, want %q", got, want)
	}
}

// When the status is written, the events go in the planned order, the write's event
// held behind the transition before it; a write event with no transition before it goes
// right after its write.
func TestApplyEventOrderKept(t *testing.T) {
	ro := testRollout()
	_, rec, e := setup(t, ro, testRS("ro-abc", 1, ro, "img:1"))
	status := ro.Status.DeepCopy()
	status.StableRS = "abc"
	d := plan.Decision{Actions: []plan.Action{
		plan.ScaleReplicaSet{Name: "ro-abc", Replicas: 2, DesiredReplicas: 2},
		plan.Event{Type: corev1.EventTypeNormal, Reason: "ScalingReplicaSet", Message: "up"},
		plan.Event{Type: corev1.EventTypeNormal, Reason: "RolloutStepCompleted", Message: "step", AfterStatus: true},
		plan.ScaleReplicaSet{Name: "ro-abc", Replicas: 3, DesiredReplicas: 3},
		plan.Event{Type: corev1.EventTypeNormal, Reason: "ScalingReplicaSet", Message: "up again"},
		plan.Event{Type: corev1.EventTypeNormal, Reason: "RolloutCompleted", Message: "done", AfterStatus: true},
	}, Status: *status}
	if _, err := e.Apply(context.Background(), ro, d); err != nil {
		t.Fatal(err)
	}
	want := []string{"Normal ScalingReplicaSet up", "Normal RolloutStepCompleted step", "Normal ScalingReplicaSet up again", "Normal RolloutCompleted done"}
	if got := events(rec); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// A failing action sends none of the transitions planned before it.
func TestApplyFailedActionSendsNoTransition(t *testing.T) {
	ro := testRollout()
	_, rec, e := setup(t, ro)
	d := plan.Decision{Actions: []plan.Action{
		plan.Event{Type: corev1.EventTypeNormal, Reason: "RolloutResumed", Message: "Rollout is resumed", AfterStatus: true},
		plan.ScaleReplicaSet{Name: "missing", Replicas: 1, DesiredReplicas: 1},
	}, Status: ro.Status}
	if _, err := e.Apply(context.Background(), ro, d); err == nil {
		t.Fatal("no error for a missing ReplicaSet")
	}
	if got := events(rec); len(got) != 0 {
		t.Fatalf("events %q, want none", got)
	}
}
