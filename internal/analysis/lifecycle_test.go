package analysis

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func TestTTLExpiry(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	done := metav1.NewTime(t0)
	tests := []struct {
		name  string
		phase v1alpha1.AnalysisPhase
		ttl   *v1alpha1.TTLStrategy
		after time.Duration
		ok    bool
	}{
		{name: "no strategy", phase: S},
		{name: "running", phase: R, ttl: &v1alpha1.TTLStrategy{SecondsAfterCompletion: i32(1)}},
		{name: "completion", phase: I, ttl: &v1alpha1.TTLStrategy{SecondsAfterCompletion: i32(10), SecondsAfterSuccess: i32(1), SecondsAfterFailure: i32(2)}, after: 10 * time.Second, ok: true},
		{name: "success", phase: S, ttl: &v1alpha1.TTLStrategy{SecondsAfterCompletion: i32(10), SecondsAfterSuccess: i32(1)}, after: time.Second, ok: true},
		{name: "failure", phase: F, ttl: &v1alpha1.TTLStrategy{SecondsAfterCompletion: i32(10), SecondsAfterFailure: i32(2)}, after: 2 * time.Second, ok: true},
		{name: "error uses completion", phase: E, ttl: &v1alpha1.TTLStrategy{SecondsAfterCompletion: i32(10), SecondsAfterFailure: i32(2)}, after: 10 * time.Second, ok: true},
		{name: "success without success ttl", phase: S, ttl: &v1alpha1.TTLStrategy{SecondsAfterFailure: i32(2)}},
		{name: "zero", phase: S, ttl: &v1alpha1.TTLStrategy{SecondsAfterSuccess: i32(0)}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := newRun(metric("m"))
			run.Spec.TTLStrategy = tt.ttl
			run.Status = v1alpha1.AnalysisRunStatus{Phase: tt.phase, CompletedAt: &done}
			at, ok := TTLExpiry(run)
			if ok != tt.ok || (ok && !at.Equal(t0.Add(tt.after))) {
				t.Errorf("TTLExpiry = %v, %v; want %v, %v", at, ok, t0.Add(tt.after), tt.ok)
			}
		})
	}
}

func TestAbort(t *testing.T) {
	run := newRun(metric("m"))
	res := Abort(run, "Unable to resolve metric arguments: secret \"s\" not found", t0)
	if res.Status.Phase != E || res.Status.CompletedAt == nil || res.Status.StartedAt == nil || len(res.Events) != 1 {
		t.Errorf("%+v", res)
	}
	run.Status = res.Status
	if again := Abort(run, "other", t0.Add(time.Hour)); again.Status.Message != res.Status.Message || len(again.Events) != 0 {
		t.Errorf("completed run changed: %+v", again)
	}
}
