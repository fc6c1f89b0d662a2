package execute

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/plan"
)

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)}}
}

func podExists(t *testing.T, c client.Client, name string) bool {
	t.Helper()
	err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: name}, &corev1.Pod{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// Evictions go through the eviction subresource; a pod already gone is no error.
func TestApplyEvictsPods(t *testing.T) {
	ro := testRollout()
	c, _, e := setup(t, ro, testPod("a"), testPod("b"))
	d := plan.Decision{Actions: []plan.Action{
		plan.EvictPod{Name: "a", UID: "uid-a"},
		plan.EvictPod{Name: "gone", UID: "uid-gone"},
	}, Status: ro.Status}
	res, err := e.Apply(context.Background(), ro, d)
	if err != nil {
		t.Fatal(err)
	}
	if podExists(t, c, "a") || !podExists(t, c, "b") {
		t.Fatal("pod a should be evicted and pod b kept")
	}
	if len(res.EvictedPods) != 1 || res.EvictedPods[0] != "a" || res.RetryAfter != 0 {
		t.Fatalf("result %+v", res)
	}
}

// A 429 from the Eviction API (a PodDisruptionBudget says no) is a reason to wait: the
// other writes and the status go ahead, and the caller is asked to come back.
func TestApplyEvictionRefusedByBudget(t *testing.T) {
	ro := testRollout()
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(ro, testPod("a")).
		WithStatusSubresource(&v1alpha1.Rollout{}).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj client.Object, subObj client.Object, opts ...client.SubResourceCreateOption) error {
				if sub == "eviction" {
					return apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
				}
				return c.SubResource(sub).Create(ctx, obj, subObj, opts...)
			},
		}).Build()
	e := &Executor{Client: c, Recorder: record.NewFakeRecorder(10)}
	status := ro.Status.DeepCopy()
	status.Phase = v1alpha1.RolloutPhaseProgressing
	d := plan.Decision{Actions: []plan.Action{
		plan.EvictPod{Name: "a", UID: "uid-a"},
		plan.SetRolloutRevision{Revision: "2"},
	}, Status: *status}
	res, err := e.Apply(context.Background(), ro, d)
	if err != nil {
		t.Fatalf("a refused eviction is not an error: %v", err)
	}
	if !podExists(t, c, "a") || len(res.EvictedPods) != 0 {
		t.Fatalf("pod evicted despite the budget: %+v", res)
	}
	if res.RetryAfter != evictionRetry || res.StatusWritten == nil {
		t.Fatalf("result %+v; want a retry after %v and the status written", res, evictionRetry)
	}
	live := &v1alpha1.Rollout{}
	_ = c.Get(context.Background(), client.ObjectKeyFromObject(ro), live)
	if live.Annotations[v1alpha1.RevisionAnnotation] != "2" {
		t.Fatal("the writes after the refused eviction were not made")
	}
}

func TestApplyScalesDeploymentAndAnnotatesRollout(t *testing.T) {
	ro := testRollout()
	five := int32(5)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Spec: appsv1.DeploymentSpec{Replicas: &five}}
	c, _, e := setup(t, ro, dep)
	gen := "3"
	d := plan.Decision{Actions: []plan.Action{
		plan.ScaleDeployment{Name: "web", Replicas: 0},
		plan.AnnotateRollout{Annotations: map[string]*string{v1alpha1.WorkloadGenerationAnnotation: &gen}},
	}, Status: ro.Status}
	if _, err := e.Apply(context.Background(), ro, d); err != nil {
		t.Fatal(err)
	}
	got := &appsv1.Deployment{}
	_ = c.Get(context.Background(), client.ObjectKeyFromObject(dep), got)
	if *got.Spec.Replicas != 0 {
		t.Fatalf("deployment replicas %d", *got.Spec.Replicas)
	}
	live := &v1alpha1.Rollout{}
	_ = c.Get(context.Background(), client.ObjectKeyFromObject(ro), live)
	if live.Annotations[v1alpha1.WorkloadGenerationAnnotation] != "3" {
		t.Fatalf("annotations %v", live.Annotations)
	}
}
