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
	"github.com/tern-rollouts/tern/internal/expectations"
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
	r := &RolloutReconciler{Client: c, Recorder: record.NewFakeRecorder(10), Clock: clock.RealClock{}, seen: expectations.New(clock.RealClock{}, time.Second)}
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

// The controller keeps, per Rollout, when it last wrote the status, for the planner to
// pace status writes by (see plan.TestCountsWait); a deleted Rollout's record goes.
func TestLastStatusWrite(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakePassiveClock(now)
	r := &RolloutReconciler{Clock: clk}
	key := types.NamespacedName{Namespace: "ns", Name: "web"}
	if got := r.lastStatusWrite(key); !got.IsZero() {
		t.Fatalf("a write on record before any: %v", got)
	}
	r.statusWritten(key)
	clk.SetTime(now.Add(300 * time.Millisecond))
	if got := r.lastStatusWrite(key); !got.Equal(now) {
		t.Fatalf("last write %v, want %v", got, now)
	}
	r.forgetStatus(key)
	if got := r.lastStatusWrite(key); !got.IsZero() {
		t.Fatalf("a forgotten Rollout still has a write on record: %v", got)
	}
}
