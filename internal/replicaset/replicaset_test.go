package replicaset

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func spec() Spec {
	return Spec{
		Owner:     metav1.OwnerReference{APIVersion: "argoproj.io/v1alpha1", Kind: "Experiment", Name: "exp", UID: "exp-uid"},
		Namespace: "ns",
		Hash:      "abc",
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x", "role": "canary"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
		},
		Selector:        &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
		Replicas:        2,
		MinReadySeconds: 5,
		Labels:          map[string]string{"app": "x"},
		Annotations:     map[string]string{"note": "kept"},
	}
}

func TestBuild(t *testing.T) {
	s := spec()
	rs := Build(s)
	if rs.Name != "exp-abc" || rs.Namespace != "ns" {
		t.Fatalf("name %s/%s", rs.Namespace, rs.Name)
	}
	if rs.Labels[HashLabel] != "abc" || rs.Labels["app"] != "x" || len(rs.Labels) != 2 {
		t.Fatalf("labels %v", rs.Labels)
	}
	if rs.Annotations["note"] != "kept" {
		t.Fatalf("annotations %v", rs.Annotations)
	}
	owner := metav1.GetControllerOf(rs)
	if owner == nil || owner.UID != "exp-uid" || owner.Kind != "Experiment" || owner.BlockOwnerDeletion == nil || !*owner.BlockOwnerDeletion {
		t.Fatalf("owner %+v", rs.OwnerReferences)
	}
	if rs.Spec.Template.Labels[HashLabel] != "abc" || rs.Spec.Template.Labels["role"] != "canary" {
		t.Fatalf("template labels %v", rs.Spec.Template.Labels)
	}
	if rs.Spec.Selector.MatchLabels[HashLabel] != "abc" || rs.Spec.Selector.MatchLabels["app"] != "x" {
		t.Fatalf("selector %v", rs.Spec.Selector)
	}
	if *rs.Spec.Replicas != 2 || rs.Spec.MinReadySeconds != 5 {
		t.Fatalf("replicas %d minReadySeconds %d", *rs.Spec.Replicas, rs.Spec.MinReadySeconds)
	}
	// What Build took is copied, not shared.
	if _, ok := s.Template.Labels[HashLabel]; ok || s.Selector.MatchLabels[HashLabel] != "" || s.Labels[HashLabel] != "" || s.Owner.Controller != nil {
		t.Fatal("Build changed its input")
	}
	rs.Annotations["more"] = "x"
	if _, ok := s.Annotations["more"]; ok {
		t.Fatal("annotations shared with the input")
	}

	s.NamePrefix = "exp-canary"
	if got := Build(s).Name; got != "exp-canary-abc" {
		t.Fatalf("name with a prefix %s", got)
	}
}

func TestSame(t *testing.T) {
	want := Build(spec())
	if !Same(Build(spec()), want) {
		t.Fatal("the same build is not Same")
	}
	other := Build(spec())
	other.Spec.Template.Spec.Containers[0].Image = "img:2"
	if Same(other, want) {
		t.Fatal("another template is Same")
	}
	s := spec()
	s.Owner.UID = "someone-else"
	if Same(Build(s), want) {
		t.Fatal("another owner is Same")
	}
	orphan := Build(spec())
	orphan.OwnerReferences = nil
	if Same(orphan, want) {
		t.Fatal("an orphan is Same")
	}
}
