package execute

import (
	"context"
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tern-rollouts/tern/internal/replicaset"
)

// An Experiment's ReplicaSet: CreateReplicaSet needs no Rollout.
func experimentRS(image string) *appsv1.ReplicaSet {
	return replicaset.Build(replicaset.Spec{
		Owner:      metav1.OwnerReference{APIVersion: "argoproj.io/v1alpha1", Kind: "Experiment", Name: "exp", UID: "exp-uid"},
		NamePrefix: "exp-canary",
		Namespace:  "ns",
		Hash:       "abc",
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
		},
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
		Replicas: 1,
	})
}

func TestCreateReplicaSet(t *testing.T) {
	ctx := context.Background()
	want := experimentRS("img:1")
	newClient := func(objs ...client.Object) client.Client {
		return fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(objs...).Build()
	}

	c := newClient()
	if created, err := CreateReplicaSet(ctx, c, want); err != nil || !created {
		t.Fatalf("fresh: created %v err %v", created, err)
	}
	live := &appsv1.ReplicaSet{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(want), live); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(live.Spec, want.Spec) || live.Name != "exp-canary-abc" {
		t.Fatalf("created %s: spec %+v", live.Name, live.Spec)
	}

	// An earlier try created it: nothing to do.
	if created, err := CreateReplicaSet(ctx, c, want); err != nil || created {
		t.Fatalf("again: created %v err %v, want nothing to do", created, err)
	}

	// Same name, another template: a collision.
	c = newClient(experimentRS("img:2"))
	if _, err := CreateReplicaSet(ctx, c, want); !errors.Is(err, ErrCollision) {
		t.Fatalf("another template: err %v, want ErrCollision", err)
	}

	// Same name and template, another owner: a collision too.
	theirs := experimentRS("img:1")
	theirs.OwnerReferences[0].UID = "someone-else"
	c = newClient(theirs)
	if _, err := CreateReplicaSet(ctx, c, want); !errors.Is(err, ErrCollision) {
		t.Fatalf("another owner: err %v, want ErrCollision", err)
	}
}
