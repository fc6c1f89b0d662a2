package scheme

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func TestNewKnowsBothGroups(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []runtime.Object{&corev1.Pod{}, &corev1.Service{}, &appsv1.ReplicaSet{}, &v1alpha1.Rollout{}, &v1alpha1.AnalysisRun{}, &v1alpha1.Experiment{}} {
		if _, _, err := s.ObjectKinds(obj); err != nil {
			t.Errorf("%T: %v", obj, err)
		}
	}
}
