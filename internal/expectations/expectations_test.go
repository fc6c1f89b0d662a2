package expectations

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
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func fakeClient(objs ...client.Object) client.Client {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
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

// owner stands for the reconciled object (a Rollout) as the cache shows it.
func owner(rv string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", ResourceVersion: rv}}
}

var key = types.NamespacedName{Namespace: "ns", Name: "web"}

// A patched object is an expectation: the next plan waits until the cache shows it.
func TestExpectationsWaitForPatchedObjects(t *testing.T) {
	ro := owner("10")
	patched := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-stable", ResourceVersion: "12"}}
	e := New(clock.RealClock{}, time.Second)
	e.Expect(key, Writes{Written: []client.Object{patched}})

	old := patched.DeepCopy()
	old.ResourceVersion = "11"
	reader := laggingReader{Reader: fakeClient(), svc: old}
	if ok, wait := e.Satisfied(context.Background(), reader, ro); ok || wait <= 0 || wait > time.Second {
		t.Fatalf("satisfied with the Service at resourceVersion 11 of 12 written: ok=%v wait=%v", ok, wait)
	}
	reader.svc.ResourceVersion = "12"
	if ok, _ := e.Satisfied(context.Background(), reader, ro); !ok {
		t.Fatal("not satisfied with the Service at the resourceVersion written")
	}

	// An object deleted since is no reason to wait.
	e.Expect(key, Writes{Written: []client.Object{patched}})
	if ok, _ := e.Satisfied(context.Background(), fakeClient(), ro); !ok {
		t.Fatal("waiting for a Service the cache no longer has")
	}
}

// The reconciled object's own write is waited for with the Set's own wait, until the
// cache shows it at the resourceVersion written; an expectation lapses after Expiry.
func TestExpectationsOwnWrite(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e := New(clk, time.Second)
	e.Expect(key, Writes{ResourceVersion: "12"})
	if ok, wait := e.Satisfied(context.Background(), nil, owner("11")); ok || wait != time.Second {
		t.Fatalf("cache at 11 of 12 written: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := e.Satisfied(context.Background(), nil, owner("12")); !ok {
		t.Fatal("not satisfied at the resourceVersion written")
	}
	// Satisfied once, it is forgotten: an older echo is no reason to wait any more.
	if ok, _ := e.Satisfied(context.Background(), nil, owner("11")); !ok {
		t.Fatal("a satisfied expectation was kept")
	}

	e.Expect(key, Writes{ResourceVersion: "20"})
	clk.SetTime(clk.Now().Add(Expiry + time.Millisecond))
	if ok, _ := e.Satisfied(context.Background(), nil, owner("11")); !ok {
		t.Fatal("an expectation older than Expiry still waited for")
	}

	// Nothing written leaves the expectation in place; Forget drops it.
	e.Expect(key, Writes{ResourceVersion: "30"})
	e.Expect(key, Writes{})
	if ok, _ := e.Satisfied(context.Background(), nil, owner("29")); ok {
		t.Fatal("an empty reconcile dropped the expectation")
	}
	e.Forget(key)
	if ok, _ := e.Satisfied(context.Background(), nil, owner("29")); !ok {
		t.Fatal("a forgotten expectation still waited for")
	}
}

// A created object must be in the cache; a deleted one gone or terminating.
func TestExpectationsCreatedAndDeleted(t *testing.T) {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-abc"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-abc-1"}}
	e := New(clock.RealClock{}, time.Second)
	ctx := context.Background()

	e.Expect(key, Writes{Created: []client.Object{rs.DeepCopy()}})
	if ok, wait := e.Satisfied(ctx, fakeClient(), owner("1")); ok || wait != Wait {
		t.Fatalf("created ReplicaSet not in the cache: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := e.Satisfied(ctx, fakeClient(rs.DeepCopy()), owner("1")); !ok {
		t.Fatal("created ReplicaSet in the cache, still waiting")
	}

	e.Expect(key, Writes{Deleted: []client.Object{pod.DeepCopy()}})
	if ok, wait := e.Satisfied(ctx, fakeClient(pod.DeepCopy()), owner("1")); ok || wait != Wait {
		t.Fatalf("evicted pod still running in the cache: ok=%v wait=%v", ok, wait)
	}
	terminating := pod.DeepCopy()
	now := metav1.Now()
	terminating.DeletionTimestamp = &now
	terminating.Finalizers = []string{"x"}
	if ok, _ := e.Satisfied(ctx, fakeClient(terminating), owner("1")); !ok {
		t.Fatal("evicted pod terminating, still waiting")
	}
	e.Expect(key, Writes{Deleted: []client.Object{pod.DeepCopy()}})
	if ok, _ := e.Satisfied(ctx, fakeClient(), owner("1")); !ok {
		t.Fatal("evicted pod gone, still waiting")
	}
}
