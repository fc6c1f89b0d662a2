package plan

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func statusRS(name, h string, replicas, avail int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{hashKey: h}},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptrTo(replicas)},
		Status:     appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: avail, AvailableReplicas: avail},
	}
}

// TestCalculateStatus covers the status a decision derives from what it decided: one row
// per transition the status reports, with the events it sends.
func TestCalculateStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC))
	canary := func(paused bool) *v1alpha1.Rollout {
		return &v1alpha1.Rollout{
			ObjectMeta: metav1.ObjectMeta{Name: "app"},
			Spec: v1alpha1.RolloutSpec{
				Replicas: ptrTo(int32(3)),
				Paused:   paused,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}},
				Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}},
			},
		}
	}
	stableRS, newRS := statusRS("app-aaa", "aaa", 3, 3), statusRS("app-bbb", "bbb", 1, 1)
	updating := v1alpha1.RolloutStatus{StableRS: "aaa", CurrentPodHash: "bbb"}
	progressing := func(reason string, age time.Duration) v1alpha1.RolloutCondition {
		at := metav1.NewTime(now.Add(-age))
		return v1alpha1.RolloutCondition{Type: v1alpha1.RolloutProgressing, Status: corev1.ConditionTrue, Reason: reason, LastUpdateTime: at, LastTransitionTime: at}
	}
	type want struct {
		phase      v1alpha1.RolloutPhase
		conditions map[v1alpha1.RolloutConditionType]string // type -> "Status/Reason"
		events     []string                                 // "Reason: Message"
		resumed    bool
		abort      bool
		deadlineAt time.Time
		counts     [3]int32 // replicas, updated, available
	}
	cases := []struct {
		name string
		in   statusInput
		want want
	}{{
		name: "initial deploy completes",
		in: statusInput{ro: canary(false), old: &v1alpha1.RolloutStatus{},
			decided: &v1alpha1.RolloutStatus{StableRS: "aaa", CurrentPodHash: "aaa"},
			all:     []*appsv1.ReplicaSet{stableRS}, newRS: stableRS, newRev: 1, completionReason: "Initial deploy"},
		want: want{
			phase: v1alpha1.RolloutPhaseHealthy,
			conditions: map[v1alpha1.RolloutConditionType]string{
				v1alpha1.RolloutProgressing: "True/" + v1alpha1.NewRSAvailableReason,
				v1alpha1.RolloutCompleted:   "True/" + v1alpha1.RolloutCompletedReason,
				v1alpha1.RolloutAvailable:   "True/" + v1alpha1.AvailableReason,
				v1alpha1.RolloutHealthy:     "True/" + v1alpha1.RolloutHealthyReason,
			},
			events: []string{"RolloutCompleted: Rollout completed update to revision 1 (aaa): Initial deploy"},
			counts: [3]int32{3, 3, 3},
		},
	}, {
		name: "an update goes on",
		in: statusInput{ro: canary(false), old: &v1alpha1.RolloutStatus{},
			decided: &updating, all: []*appsv1.ReplicaSet{stableRS, newRS}, newRS: newRS, newRev: 2},
		want: want{
			phase: v1alpha1.RolloutPhaseProgressing,
			conditions: map[v1alpha1.RolloutConditionType]string{
				v1alpha1.RolloutProgressing: "True/" + v1alpha1.ReplicaSetUpdatedReason,
				v1alpha1.RolloutCompleted:   "False/" + v1alpha1.RolloutNotCompletedReason,
			},
			events: []string{"RolloutNotCompleted: Rollout not completed, started update to revision 2 (bbb)"},
			counts: [3]int32{4, 1, 4},
		},
	}, {
		name: "manually paused",
		in: statusInput{ro: canary(true), old: &v1alpha1.RolloutStatus{},
			decided: &updating, all: []*appsv1.ReplicaSet{stableRS, newRS}, newRS: newRS, newRev: 2, notCompletedSent: true},
		want: want{
			phase: v1alpha1.RolloutPhasePaused,
			conditions: map[v1alpha1.RolloutConditionType]string{
				v1alpha1.RolloutProgressing: "Unknown/" + v1alpha1.PausedRolloutReason,
				v1alpha1.RolloutPaused:      "True/" + v1alpha1.PausedRolloutReason,
			},
			events: []string{"RolloutPaused: Rollout is paused (manually paused)"},
			counts: [3]int32{4, 1, 4},
		},
	}, {
		name: "resumed",
		in: statusInput{ro: canary(false), old: &v1alpha1.RolloutStatus{},
			decided: &v1alpha1.RolloutStatus{StableRS: "aaa", CurrentPodHash: "bbb", Conditions: []v1alpha1.RolloutCondition{
				{Type: v1alpha1.RolloutPaused, Status: corev1.ConditionTrue, Reason: v1alpha1.PausedRolloutReason},
			}},
			all: []*appsv1.ReplicaSet{stableRS, newRS}, newRS: newRS, newRev: 2, notCompletedSent: true},
		want: want{
			phase: v1alpha1.RolloutPhaseProgressing,
			conditions: map[v1alpha1.RolloutConditionType]string{
				v1alpha1.RolloutPaused: "False/" + v1alpha1.ResumedRolloutReason,
			},
			resumed: true,
			counts:  [3]int32{4, 1, 4},
		},
	}, {
		name: "aborted by the decision",
		in: statusInput{ro: canary(false), old: &v1alpha1.RolloutStatus{},
			decided: &v1alpha1.RolloutStatus{StableRS: "aaa", CurrentPodHash: "bbb", Abort: true},
			all:     []*appsv1.ReplicaSet{stableRS, newRS}, newRS: newRS, newRev: 2, abortMessage: "analysis failed", notCompletedSent: true},
		want: want{
			phase: v1alpha1.RolloutPhaseDegraded,
			conditions: map[v1alpha1.RolloutConditionType]string{
				v1alpha1.RolloutProgressing: "False/" + v1alpha1.RolloutAbortedReason,
			},
			events: []string{"RolloutAborted: " + fmt.Sprintf(v1alpha1.RolloutAbortedMessageFormat, 2) + ": analysis failed"},
			abort:  true,
			counts: [3]int32{4, 1, 4},
		},
	}, {
		name: "no progress within the deadline: look again when it falls due",
		in: statusInput{ro: canary(false),
			old:     &v1alpha1.RolloutStatus{StableRS: "aaa", CurrentPodHash: "bbb", Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 4, AvailableReplicas: 4, Conditions: []v1alpha1.RolloutCondition{progressing(v1alpha1.ReplicaSetUpdatedReason, time.Minute)}},
			decided: &v1alpha1.RolloutStatus{StableRS: "aaa", CurrentPodHash: "bbb", Conditions: []v1alpha1.RolloutCondition{progressing(v1alpha1.ReplicaSetUpdatedReason, time.Minute)}},
			all:     []*appsv1.ReplicaSet{stableRS, newRS}, newRS: newRS, newRev: 2, notCompletedSent: true},
		want: want{
			phase:      v1alpha1.RolloutPhaseProgressing,
			conditions: map[v1alpha1.RolloutConditionType]string{v1alpha1.RolloutProgressing: "True/" + v1alpha1.ReplicaSetUpdatedReason},
			deadlineAt: now.Add(-time.Minute + 600*time.Second + time.Second),
			counts:     [3]int32{4, 1, 4},
		},
	}, {
		name: "progress deadline exceeded, with progressDeadlineAbort",
		in: func() statusInput {
			ro := canary(false)
			ro.Spec.ProgressDeadlineAbort = true
			cond := progressing(v1alpha1.ReplicaSetUpdatedReason, time.Hour)
			return statusInput{ro: ro,
				old:     &v1alpha1.RolloutStatus{StableRS: "aaa", CurrentPodHash: "bbb", Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 4, AvailableReplicas: 4, Conditions: []v1alpha1.RolloutCondition{cond}},
				decided: &v1alpha1.RolloutStatus{StableRS: "aaa", CurrentPodHash: "bbb", Conditions: []v1alpha1.RolloutCondition{cond}},
				all:     []*appsv1.ReplicaSet{stableRS, newRS}, newRS: newRS, newRev: 2, notCompletedSent: true}
		}(),
		want: want{
			phase:      v1alpha1.RolloutPhaseDegraded,
			conditions: map[v1alpha1.RolloutConditionType]string{v1alpha1.RolloutProgressing: "False/" + v1alpha1.TimedOutReason},
			events:     []string{"ProgressDeadlineExceeded: " + fmt.Sprintf(v1alpha1.TimedOutMessageFormat, "app-bbb")},
			abort:      true,
			counts:     [3]int32{4, 1, 4},
		},
	}, {
		name: "blue-green: only the active version counts as available",
		in: func() statusInput {
			ro := canary(false)
			ro.Spec.Strategy = v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "active"}}
			return statusInput{ro: ro, old: &v1alpha1.RolloutStatus{}, decided: &updating,
				all: []*appsv1.ReplicaSet{stableRS, newRS}, newRS: newRS, newRev: 2, notCompletedSent: true,
				selects: serviceHashes{active: "aaa", preview: "bbb"}}
		}(),
		want: want{
			phase:  v1alpha1.RolloutPhaseProgressing,
			counts: [3]int32{4, 1, 3},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.now = now
			before := tc.in.decided.DeepCopy()
			res := calculateStatus(&tc.in)
			if !reflect.DeepEqual(before, tc.in.decided) {
				t.Fatalf("calculateStatus changed its input:\n%+v\n%+v", before, tc.in.decided)
			}
			st := res.status
			sameValue(t, "phase", st.Phase, tc.want.phase)
			for ty, sr := range tc.want.conditions {
				c := findCondition(st.Conditions, ty)
				if c == nil {
					t.Fatalf("no %s condition in %+v", ty, st.Conditions)
				}
				sameValue(t, string(ty), string(c.Status)+"/"+c.Reason, sr)
			}
			var events []string
			for _, a := range res.events {
				e := a.(Event)
				events = append(events, e.Reason+": "+e.Message)
			}
			sameValue(t, "events", events, tc.want.events)
			sameValue(t, "resumed", res.resumed, tc.want.resumed)
			sameValue(t, "abort", st.Abort, tc.want.abort)
			sameValue(t, "deadline check", res.checkDeadlineAt, tc.want.deadlineAt)
			sameValue(t, "counts", [3]int32{st.Replicas, st.UpdatedReplicas, st.AvailableReplicas}, tc.want.counts)
			if tc.in.ro.Spec.Strategy.BlueGreen != nil {
				sameValue(t, "active selector", st.BlueGreen.ActiveSelector, tc.in.selects.active)
			}
		})
	}
}

func sameValue[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}
