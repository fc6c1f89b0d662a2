package controller

import (
	"context"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/traffic/router"
	"github.com/tern-rollouts/tern/internal/traffic/routers"
)

// A change to an object a traffic router reads (here a Service) wakes this instance's
// Rollouts that name it, in its namespace only, through the index built from the
// router's watch.
func TestRolloutsReferringTrafficObjects(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	bg := func(ns, name, active, preview string, labels map[string]string) *v1alpha1.Rollout {
		return &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: active, PreviewService: preview}}}}
	}
	cn := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "canary"},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{CanaryService: "preview", StableService: "stable"}}}}

	var index string
	var watch router.Watch
	for _, rt := range routers.All {
		for i, w := range rt.Watches() {
			if _, ok := w.Object.(*corev1.Service); ok {
				index, watch = trafficIndex(rt, i), w
			}
		}
	}
	if index == "" {
		t.Fatal("no registered router watches Services")
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		bg("a", "one", "active", "preview", nil),
		bg("a", "two", "active", "", nil),
		bg("b", "elsewhere", "active", "", nil),
		bg("a", "other-instance", "active", "", map[string]string{v1alpha1.LabelKeyControllerInstanceID: "x"}),
		cn,
	).WithIndex(&v1alpha1.Rollout{}, index, trafficIndexer(watch)).Build()
	r := &RolloutReconciler{Client: c}
	woken := func(ns, name string) []string {
		var out []string
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		for _, req := range r.rolloutsReferring(index)(context.Background(), svc) {
			out = append(out, req.Namespace+"/"+req.Name)
		}
		sort.Strings(out)
		return out
	}
	cases := []struct {
		ns, name string
		want     []string
	}{
		{"a", "active", []string{"a/one", "a/two"}},
		{"a", "preview", []string{"a/canary", "a/one"}},
		{"a", "stable", []string{"a/canary"}},
		{"b", "active", []string{"b/elsewhere"}},
		{"b", "preview", nil},
		{"a", "unnamed", nil},
	}
	for _, tc := range cases {
		if got := woken(tc.ns, tc.name); !equalStrings(got, tc.want) {
			t.Errorf("service %s/%s woke %v, want %v", tc.ns, tc.name, got, tc.want)
		}
	}
}
