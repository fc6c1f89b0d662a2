package plan

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func TestCountsOnly(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Second))
	step := int32(2)
	prev := v1alpha1.RolloutStatus{
		Phase: v1alpha1.RolloutPhaseProgressing, Message: "more replicas need to be updated",
		Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3, HPAReplicas: 3,
		CurrentStepIndex: &step, StableRS: "a", CurrentPodHash: "b",
		Conditions: []v1alpha1.RolloutCondition{{Type: v1alpha1.RolloutProgressing, Status: corev1.ConditionTrue,
			Reason: v1alpha1.ReplicaSetUpdatedReason, Message: `ReplicaSet "web-b" is progressing.`, LastUpdateTime: t0, LastTransitionTime: t0}},
	}
	counts := func(s *v1alpha1.RolloutStatus) {
		s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas, s.HPAReplicas = 2, 2, 2, 2, 2
		s.Message = "old replicas are pending termination"
		s.Conditions[0].LastUpdateTime = t1
	}
	for _, c := range []struct {
		name string
		edit func(s *v1alpha1.RolloutStatus)
		want bool
	}{
		{"nothing changed", func(*v1alpha1.RolloutStatus) {}, false},
		{"counts, message and the progress time", counts, true},
		{"a step", func(s *v1alpha1.RolloutStatus) { counts(s); next := int32(3); s.CurrentStepIndex = &next }, false},
		{"the stable version", func(s *v1alpha1.RolloutStatus) { counts(s); s.StableRS = "b" }, false},
		{"a pause", func(s *v1alpha1.RolloutStatus) {
			counts(s)
			s.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: t1}}
		}, false},
		{"the phase", func(s *v1alpha1.RolloutStatus) { counts(s); s.Phase = v1alpha1.RolloutPhaseHealthy }, false},
		{"the progress condition's reason", func(s *v1alpha1.RolloutStatus) { counts(s); s.Conditions[0].Reason = v1alpha1.TimedOutReason }, false},
		{"a new condition", func(s *v1alpha1.RolloutStatus) {
			counts(s)
			s.Conditions = append(s.Conditions, v1alpha1.RolloutCondition{Type: v1alpha1.RolloutCompleted, Status: corev1.ConditionFalse})
		}, false},
	} {
		next := prev.DeepCopy()
		c.edit(next)
		if got := countsOnly(&prev, next); got != c.want {
			t.Errorf("%s: countsOnly = %v, want %v", c.name, got, c.want)
		}
	}

	// The first pods of a new ReplicaSet turn its "created" condition into "progressing".
	created := prev.DeepCopy()
	created.Conditions[0].Reason, created.Conditions[0].Message = v1alpha1.NewReplicaSetReason, `Created new replica set "web-b"`
	next := prev.DeepCopy()
	counts(next)
	if !countsOnly(created, next) {
		t.Error("created → progressing with new counts was not taken for counts alone")
	}
	if countsOnly(next, created) {
		t.Error("progressing → created taken for counts alone")
	}
	resumed := prev.DeepCopy()
	resumed.Conditions[0].Reason, resumed.Conditions[0].Message = v1alpha1.ResumedRolloutReason, v1alpha1.RolloutResumedMessage
	if !countsOnly(resumed, next) {
		t.Error("resumed → progressing with new counts was not taken for counts alone")
	}

	// Outside an update a change of counts is news (a pod lost in steady state).
	healthy := prev.DeepCopy()
	healthy.Phase = v1alpha1.RolloutPhaseHealthy
	next = healthy.DeepCopy()
	counts(next)
	if countsOnly(healthy, next) {
		t.Error("counts of a Healthy rollout held back")
	}
}

// A change of counts alone waits for CountsInterval after the last status write; anything
// else, or a first write, goes at once.
func TestCountsWait(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	prev := &v1alpha1.RolloutStatus{Phase: v1alpha1.RolloutPhaseProgressing, Replicas: 3, AvailableReplicas: 2}
	counts := prev.DeepCopy()
	counts.AvailableReplicas = 3
	step := prev.DeepCopy()
	step.CurrentStepIndex = new(int32)

	if w := countsWait(prev, counts, time.Time{}, now); w != 0 {
		t.Fatalf("held back %v with no write on record", w)
	}
	written := now
	at := now.Add(300 * time.Millisecond)
	if w := countsWait(prev, counts, written, at); w != CountsInterval-300*time.Millisecond {
		t.Fatalf("counts 300ms after a write: wait %v, want %v", w, CountsInterval-300*time.Millisecond)
	}
	if w := countsWait(prev, step, written, at); w != 0 {
		t.Fatalf("a step held back %v", w)
	}
	if w := countsWait(prev, counts, written, now.Add(CountsInterval)); w != 0 {
		t.Fatalf("counts held back %v once the interval passed", w)
	}
	written = now.Add(CountsInterval + time.Millisecond)
	if w := countsWait(prev, counts, written, written); w != CountsInterval {
		t.Fatalf("right after a write: wait %v", w)
	}
}
