package rolloutinfo

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func canary(idx *int32, steps ...v1alpha1.CanaryStep) *v1alpha1.Rollout {
	ro := &v1alpha1.Rollout{}
	ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: steps}
	ro.Status.CurrentStepIndex = idx
	return ro
}

func weight(w int32) v1alpha1.CanaryStep { return v1alpha1.CanaryStep{SetWeight: &w} }

var pause = v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}}

func TestSetWeight(t *testing.T) {
	aborted := canary(ptr.To[int32](1), weight(20), pause)
	aborted.Status.Abort = true
	for name, tc := range map[string]struct {
		ro   *v1alpha1.Rollout
		want int32
	}{
		"no steps":                  {canary(nil), 100},
		"index unset is step 0":     {canary(nil, weight(10), pause), 10},
		"pause keeps last weight":   {canary(ptr.To[int32](1), weight(20), pause), 20},
		"all steps done":            {canary(ptr.To[int32](2), weight(20), pause), 100},
		"before any setWeight":      {canary(ptr.To[int32](0), pause, weight(20)), 0},
		"aborted":                   {aborted, 0},
		"later weight not yet used": {canary(ptr.To[int32](2), weight(20), pause, pause, weight(60)), 20},
	} {
		if got := SetWeight(tc.ro); got != tc.want {
			t.Errorf("%s: SetWeight = %d, want %d", name, got, tc.want)
		}
	}
}

func TestPodStatus(t *testing.T) {
	waiting := func(reason string, restarts int32) *corev1.Pod {
		return &corev1.Pod{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
				RestartCount: restarts, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}},
			}}},
		}
	}
	initPod := &corev1.Pod{
		Spec:   corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i"}}, Containers: []corev1.Container{{Name: "a"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
	terminating := waiting("", 0)
	terminating.DeletionTimestamp = &metav1.Time{}
	for name, tc := range map[string]struct {
		pod                 *corev1.Pod
		status, icon, ready string
		restarts            int32
	}{
		"crash loop":  {waiting("CrashLoopBackOff", 3), "CrashLoopBackOff", IconBad, "0/1", 3},
		"image pull":  {waiting("ImagePullBackOff", 0), "ImagePullBackOff", IconWarning, "0/1", 0},
		"err image":   {waiting("ErrImagePull", 0), "ErrImagePull", IconWarning, "0/1", 0},
		"init":        {initPod, "Init:0/1", IconProgressing, "0/1", 0},
		"terminating": {terminating, "Terminating", IconProgressing, "0/1", 0},
	} {
		got := newPod(tc.pod)
		if got.Status != tc.status || got.Icon != tc.icon || got.Ready != tc.ready || got.Restarts != tc.restarts {
			t.Errorf("%s: got %s %s %s %d, want %s %s %s %d", name, got.Status, got.Icon, got.Ready, got.Restarts,
				tc.status, tc.icon, tc.ready, tc.restarts)
		}
	}
}

func TestScaleDownDelay(t *testing.T) {
	now := time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
	for deadline, want := range map[string]string{
		now.Add(4*time.Hour - time.Minute).Format(time.RFC3339): "3h59m",
		now.Add(-time.Hour).Format(time.RFC3339):                "passed",
		"not-a-time":                                            "",
	} {
		rs := ReplicaSet{ScaleDownDeadline: deadline}
		if got := rs.ScaleDownDelay(now); got != want {
			t.Errorf("ScaleDownDelay(%s) = %q, want %q", deadline, got, want)
		}
	}
}

// Add is how both the CLI's live lists and the test fixtures fill Objects: the first
// Rollout is the rendered one, and kinds the view does not show are dropped.
func TestObjectsAdd(t *testing.T) {
	first, second := &v1alpha1.Rollout{}, &v1alpha1.Rollout{}
	first.Name, second.Name = "first", "second"
	var o Objects
	for _, obj := range []any{first, &appsv1.ReplicaSet{}, &corev1.Pod{}, second, &v1alpha1.AnalysisRun{},
		&v1alpha1.Experiment{}, &corev1.Service{}, &corev1.Pod{}} {
		o.Add(obj)
	}
	if o.Rollout != first {
		t.Errorf("Rollout = %v, want the first one added", o.Rollout)
	}
	if len(o.ReplicaSets) != 1 || len(o.Pods) != 2 || len(o.AnalysisRuns) != 1 || len(o.Experiments) != 1 {
		t.Errorf("got %d ReplicaSets, %d Pods, %d AnalysisRuns, %d Experiments; want 1, 2, 1, 1",
			len(o.ReplicaSets), len(o.Pods), len(o.AnalysisRuns), len(o.Experiments))
	}
}
