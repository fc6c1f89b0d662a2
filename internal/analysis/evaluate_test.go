package analysis

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func TestEvaluate(t *testing.T) {
	f := 0.97
	var nilFloat *float64
	tests := []struct {
		name             string
		result           any
		success, failure string
		want             v1alpha1.AnalysisPhase
		wantErr          string
	}{
		{name: "no conditions", result: 1.0, want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "only success, holds", result: 1.0, success: "result > 0.5", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "only success, fails", result: 0.1, success: "result > 0.5", want: v1alpha1.AnalysisPhaseFailed},
		{name: "only failure, holds", result: 0.1, failure: "result < 0.5", want: v1alpha1.AnalysisPhaseFailed},
		{name: "only failure, fails", result: 1.0, failure: "result < 0.5", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "both, success", result: 0.99, success: "result >= 0.95", failure: "result < 0.5", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "both, failure", result: 0.1, success: "result >= 0.95", failure: "result < 0.5", want: v1alpha1.AnalysisPhaseFailed},
		{name: "both, neither", result: 0.7, success: "result >= 0.95", failure: "result < 0.5", want: v1alpha1.AnalysisPhaseInconclusive},
		{name: "both hold: failure wins", result: 1.0, success: "result > 0", failure: "result > 0", want: v1alpha1.AnalysisPhaseFailed},
		{name: "vector", result: []float64{0.99}, success: "result[0] >= 0.95", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "vector all", result: []float64{0.99, 0.2}, success: "all(result, {# > 0.5})", want: v1alpha1.AnalysisPhaseFailed},
		{name: "empty vector indexed", result: []float64{}, success: "result[0] >= 0.95", want: v1alpha1.AnalysisPhaseError, wantErr: `could not evaluate successCondition "result[0] >= 0.95": ` + ErrNoData},
		{name: "nil indexed in failure", result: nil, failure: "result[0] < 0.5", want: v1alpha1.AnalysisPhaseError, wantErr: "failureCondition \"result[0] < 0.5\": " + ErrNoData},
		{name: "empty vector len guard", result: []float64{}, success: "len(result) > 0 && result[0] > 1", want: v1alpha1.AnalysisPhaseFailed},
		{name: "default on nil", result: nilFloat, success: "default(result, 0) < 0.05", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "default with value", result: &f, success: "default(result, 0) < 0.05", want: v1alpha1.AnalysisPhaseFailed},
		{name: "pointer dereferenced", result: &f, success: "result > 0.9", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "isNil", result: nil, success: "isNil(result)", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "isNil on value", result: 1.0, success: "isNil(result)", want: v1alpha1.AnalysisPhaseFailed},
		{name: "asInt string", result: "3", success: "asInt(result) == 3", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "asInt float", result: 3.7, success: "asInt(result) == 3", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "asFloat string", result: "0.5", success: "asFloat(result) == 0.5", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "asInt bad string", result: "x", success: "asInt(result) == 3", want: v1alpha1.AnalysisPhaseError, wantErr: "invalid syntax"},
		{name: "isNaN", result: math.NaN(), success: "!isNaN(result)", want: v1alpha1.AnalysisPhaseFailed},
		{name: "isInf", result: math.Inf(1), failure: "isInf(result)", want: v1alpha1.AnalysisPhaseFailed},
		{name: "string compare", result: "true", success: "result == 'true'", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "map field", result: map[string]any{"ok": true, "rate": 0.99}, success: "result.ok && result.rate > 0.9", want: v1alpha1.AnalysisPhaseSuccessful},
		{name: "not bool", result: 1.0, success: "result + 1", want: v1alpha1.AnalysisPhaseError, wantErr: "expected bool, but got float64"},
		{name: "syntax error", result: 1.0, success: "result >>> 1", want: v1alpha1.AnalysisPhaseError, wantErr: `could not evaluate successCondition "result >>> 1"`},
		{name: "unknown function", result: 1.0, failure: "nope(result)", want: v1alpha1.AnalysisPhaseError, wantErr: "failureCondition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &v1alpha1.Metric{Name: "m", SuccessCondition: tt.success, FailureCondition: tt.failure}
			got, err := Evaluate(tt.result, m)
			if got != tt.want {
				t.Errorf("phase = %s, want %s (err %v)", got, tt.want, err)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines, unfit for a status message: %q", err)
			}
		})
	}
}

func TestEvalTime(t *testing.T) {
	before := time.Now()
	got, err := EvalTime(`now() - duration("1h")`)
	if err != nil {
		t.Fatal(err)
	}
	if d := before.Sub(got); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("now() - 1h is %v before now", d)
	}
	if _, err := EvalTime("1 + 1"); err == nil {
		t.Error("a number is not a time")
	}
	if _, err := EvalTime("now( -"); err == nil {
		t.Error("syntax error not reported")
	}
}
