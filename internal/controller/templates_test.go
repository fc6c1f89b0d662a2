package controller

import (
	"context"
	"sort"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func rolloutUsing(ns, name string, labels map[string]string, refs ...v1alpha1.AnalysisTemplateRef) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			Steps: []v1alpha1.CanaryStep{{Analysis: &v1alpha1.RolloutAnalysis{Templates: refs}}},
		}}},
	}
}

// A template change wakes the Rollouts that name it and those that name a template
// including it, in the template's namespace only (or anywhere for a cluster template).
func TestRolloutsOfTemplate(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	ref := func(name string, cluster bool) v1alpha1.AnalysisTemplateRef {
		return v1alpha1.AnalysisTemplateRef{TemplateName: name, ClusterScope: cluster}
	}
	objs := []client.Object{
		rolloutUsing("a", "uses-outer", nil, ref("outer", false)),
		rolloutUsing("b", "uses-inner-elsewhere", nil, ref("inner", false)),
		rolloutUsing("a", "uses-cat", nil, ref("cat", true)),
		rolloutUsing("a", "other-instance", map[string]string{v1alpha1.LabelKeyControllerInstanceID: "x"}, ref("outer", false)),
		&v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "outer"},
			Spec: v1alpha1.AnalysisTemplateSpec{Templates: []v1alpha1.AnalysisTemplateRef{ref("inner", false)}}},
		&v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "inner"},
			Spec: v1alpha1.AnalysisTemplateSpec{Templates: []v1alpha1.AnalysisTemplateRef{ref("base", true)}}},
		&v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "base"}},
		&v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "cat"}},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithIndex(&v1alpha1.Rollout{}, indexTemplate, templateIndexer).Build()
	r := &RolloutReconciler{Client: c, clusterTemplates: true}
	woken := func(o client.Object) []string {
		var out []string
		for _, req := range r.rolloutsOfTemplate(context.Background(), o) {
			out = append(out, req.Namespace+"/"+req.Name)
		}
		sort.Strings(out)
		return out
	}
	cases := []struct {
		obj  client.Object
		want []string
	}{
		{&v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "outer"}}, []string{"a/uses-outer"}},
		{&v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "inner"}}, []string{"a/uses-outer"}},
		{&v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "inner"}}, []string{"b/uses-inner-elsewhere"}},
		{&v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "base"}}, []string{"a/uses-outer"}},
		{&v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "cat"}}, []string{"a/uses-cat"}},
		// Created only now, named by a rollout: it must be woken to leave InvalidSpec.
		{&v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "new"}}, nil},
	}
	for _, tc := range cases {
		if got := woken(tc.obj); !equalStrings(got, tc.want) {
			t.Errorf("%T %s/%s woke %v, want %v", tc.obj, tc.obj.GetNamespace(), tc.obj.GetName(), got, tc.want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
