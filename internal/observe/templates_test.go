package observe

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/snapshot"
)

// The snapshot holds the templates the analyses name and those they include, from the
// rollout's namespace (or the cluster); a missing one is simply absent, for the planner
// to report.
func TestSnapshotLoadsTemplates(t *testing.T) {
	ref := func(name string, cluster bool) v1alpha1.AnalysisTemplateRef {
		return v1alpha1.AnalysisTemplateRef{TemplateName: name, ClusterScope: cluster}
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "ro-uid"},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			Analysis: &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{ref("outer", false)}}},
			Steps: []v1alpha1.CanaryStep{
				{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{ref("cat", true), ref("missing", false)}}},
			},
		}}},
	}
	c := testClient(t,
		&v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "outer"},
			Spec: v1alpha1.AnalysisTemplateSpec{Templates: []v1alpha1.AnalysisTemplateRef{ref("inner", false), ref("base", true)}}},
		&v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "inner"}},
		&v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "missing"}},
		&v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "base"}},
		&v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "cat"}},
		&v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "unused"}},
	)
	s, err := Snapshot(context.Background(), c, ro, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var ns, cluster []string
	for n := range s.AnalysisTemplates {
		ns = append(ns, n)
	}
	for n := range s.ClusterAnalysisTemplates {
		cluster = append(cluster, n)
	}
	sort.Strings(ns)
	sort.Strings(cluster)
	if got, want := ns, []string{"inner", "outer"}; !equal(got, want) {
		t.Errorf("AnalysisTemplates %v, want %v", got, want)
	}
	if got, want := cluster, []string{"base", "cat"}; !equal(got, want) {
		t.Errorf("ClusterAnalysisTemplates %v, want %v", got, want)
	}
}

// unreadableClusterTemplates answers as a controller denied ClusterAnalysisTemplates does.
type unreadableClusterTemplates struct{ client.Reader }

func (u unreadableClusterTemplates) Get(ctx context.Context, key client.ObjectKey, o client.Object, opts ...client.GetOption) error {
	if _, ok := o.(*v1alpha1.ClusterAnalysisTemplate); ok {
		return fmt.Errorf("reading %s: %w", key.Name, snapshot.ErrClusterTemplatesUnreadable)
	}
	return u.Reader.Get(ctx, key, o, opts...)
}

// A namespaced install may not read ClusterAnalysisTemplates: the snapshot says so, for
// the planner to tell the user, and the namespaced templates still load.
func TestSnapshotClusterTemplatesUnreadable(t *testing.T) {
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "ro-uid"},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			Steps: []v1alpha1.CanaryStep{{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{
				{TemplateName: "cat", ClusterScope: true}, {TemplateName: "local"},
			}}}},
		}}},
	}
	c := testClient(t,
		&v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "local"}},
		&v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "cat"}},
	)
	s, err := Snapshot(context.Background(), unreadableClusterTemplates{c}, ro, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !s.ClusterTemplatesUnreadable || len(s.ClusterAnalysisTemplates) != 0 || s.AnalysisTemplates["local"] == nil {
		t.Fatalf("unreadable %v, cluster templates %v, namespaced %v", s.ClusterTemplatesUnreadable, s.ClusterAnalysisTemplates, s.AnalysisTemplates)
	}
	if s, err = Snapshot(context.Background(), c, ro, time.Now()); err != nil || s.ClusterTemplatesUnreadable || s.ClusterAnalysisTemplates["cat"] == nil {
		t.Fatalf("a readable cluster: err %v, unreadable %v", err, s.ClusterTemplatesUnreadable)
	}
}

func equal(a, b []string) bool {
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
