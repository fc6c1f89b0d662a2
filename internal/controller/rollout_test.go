package controller

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/execute"
	"github.com/tern-rollouts/tern/internal/observe"
)

func fakeClient(objs ...client.Object) client.Client {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).WithStatusSubresource(&v1alpha1.Rollout{}).
		WithIndex(&appsv1.ReplicaSet{}, observe.IndexOwnerUID, observe.OwnerUIDIndexer).
		WithIndex(&v1alpha1.AnalysisRun{}, observe.IndexOwnerUID, observe.OwnerUIDIndexer).
		Build()
}

// A Rollout of another controller instance reaches Reconcile through the events of the
// objects it owns; it must come out untouched.
func TestReconcileLeavesOtherInstancesAlone(t *testing.T) {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web",
		Labels: map[string]string{v1alpha1.LabelKeyControllerInstanceID: "someone-else"}}}
	ro.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	ro.Spec.Template.Labels = map[string]string{"app": "web"}
	ro.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "nginx:1"}}
	ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{}
	c := fakeClient(ro)
	r := &RolloutReconciler{Client: c, Recorder: record.NewFakeRecorder(10), Clock: clock.RealClock{}, seen: newExpectations()}
	r.exec = &execute.Executor{Client: c, Recorder: r.Recorder}
	if _, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "web"}}); err != nil {
		t.Fatal(err)
	}
	rss := &appsv1.ReplicaSetList{}
	if err := c.List(context.Background(), rss); err != nil {
		t.Fatal(err)
	}
	got := &v1alpha1.Rollout{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(ro), got); err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 0 || got.Status.Phase != "" {
		t.Fatalf("instance %q acted on a Rollout of instance someone-else: %d ReplicaSets, phase %q", r.InstanceID, len(rss.Items), got.Status.Phase)
	}

	// The same Rollout relabelled for this instance is reconciled: the check is not a no-op.
	got.Labels = nil
	if err := c.Update(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "web"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.List(context.Background(), rss); err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 1 {
		t.Fatalf("the Rollout of this instance got %d ReplicaSets, want 1", len(rss.Items))
	}
}

// laggingReader serves objects as a cache that has not seen the latest writes would.
type laggingReader struct {
	client.Reader
	svc *corev1.Service
}

func (l laggingReader) Get(ctx context.Context, key client.ObjectKey, o client.Object, opts ...client.GetOption) error {
	if s, ok := o.(*corev1.Service); ok {
		l.svc.DeepCopyInto(s)
		return nil
	}
	return l.Reader.Get(ctx, key, o, opts...)
}

// A patched object is an expectation: the next plan waits until the cache shows it.
func TestExpectationsWaitForPatchedObjects(t *testing.T) {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", ResourceVersion: "10"}}
	patched := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-stable", ResourceVersion: "12"}}
	e := newExpectations()
	e.record(ro, execute.Result{Written: []client.Object{patched}})

	old := patched.DeepCopy()
	old.ResourceVersion = "11"
	reader := laggingReader{Reader: fakeClient(), svc: old}
	if ok, wait := e.satisfied(context.Background(), reader, ro); ok || wait <= 0 || wait > time.Second {
		t.Fatalf("satisfied with the Service at resourceVersion 11 of 12 written: ok=%v wait=%v", ok, wait)
	}
	reader.svc.ResourceVersion = "12"
	if ok, _ := e.satisfied(context.Background(), reader, ro); !ok {
		t.Fatal("not satisfied with the Service at the resourceVersion written")
	}

	// An object deleted since is no reason to wait.
	e.record(ro, execute.Result{Written: []client.Object{patched}})
	if ok, _ := e.satisfied(context.Background(), fakeClient(), ro); !ok {
		t.Fatal("waiting for a Service the cache no longer has")
	}
}

// A change of counts alone waits for countsInterval after the last status write; anything
// else, or a first write, goes at once.
func TestCountsWait(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakePassiveClock(now)
	r := &RolloutReconciler{Clock: clk}
	key := types.NamespacedName{Namespace: "ns", Name: "web"}
	prev := &v1alpha1.RolloutStatus{Phase: v1alpha1.RolloutPhaseProgressing, Replicas: 3, AvailableReplicas: 2}
	counts := prev.DeepCopy()
	counts.AvailableReplicas = 3
	step := prev.DeepCopy()
	step.CurrentStepIndex = new(int32)

	if w := r.countsWait(key, prev, counts); w != 0 {
		t.Fatalf("held back %v with no write on record", w)
	}
	r.statusWritten(key)
	clk.SetTime(now.Add(300 * time.Millisecond))
	if w := r.countsWait(key, prev, counts); w != countsInterval-300*time.Millisecond {
		t.Fatalf("counts 300ms after a write: wait %v, want %v", w, countsInterval-300*time.Millisecond)
	}
	if w := r.countsWait(key, prev, step); w != 0 {
		t.Fatalf("a step held back %v", w)
	}
	clk.SetTime(now.Add(countsInterval))
	if w := r.countsWait(key, prev, counts); w != 0 {
		t.Fatalf("counts held back %v once the interval passed", w)
	}
	r.forgetStatus(key)
	clk.SetTime(now.Add(countsInterval + time.Millisecond))
	r.statusWritten(key)
	if w := r.countsWait(key, prev, counts); w != countsInterval {
		t.Fatalf("right after a write: wait %v", w)
	}
}
