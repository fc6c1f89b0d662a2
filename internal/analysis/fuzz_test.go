package analysis

import (
	"math"
	"strings"
	"testing"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Conditions are user text evaluated inside the controller: whatever they say, evaluating
// them must return (no panic, no hang), and an error must never read as a success. The seeds
// run in plain `go test`; `go test -fuzz FuzzEvaluate ./internal/analysis` explores.

// measured builds the shapes a provider returns: a number, a vector, a map (web JSON), a
// string, nothing, an empty vector.
func measured(shape uint8, v float64) any {
	switch shape % 6 {
	case 0:
		return v
	case 1:
		return []float64{v}
	case 2:
		return map[string]any{"value": v, "ok": v > 0, "data": map[string]any{"rate": v}}
	case 3:
		return "x"
	case 4:
		return nil
	default:
		return []float64{}
	}
}

var fuzzConditions = []string{
	"result[0] >= 0.95", "result > 1", "result == true", "result.value < 0.5", "len(result) > 0 && result[0] > 1",
	"asInt(result) == 1", `asFloat("x") > 0`, "isNaN(result[0])", "isNil(result)", "default(result, 0) > 0",
	"result >", "result + 1", "result[5]", "1/0 > 0", "(result", "", "now() > now()", "all(result, # > 0)",
	"result.data.rate >= 0.9 || result.ok", "!result", "result matches 'a+'", "0..10 | len() > 1",
}

func FuzzEvaluate(f *testing.F) {
	for i, c := range fuzzConditions {
		f.Add(c, fuzzConditions[(i+3)%len(fuzzConditions)], uint8(i), float64(i)-1.5)
	}
	f.Add("result[0] < 1", "", uint8(1), math.NaN())
	f.Add("result > 0", "result < 0", uint8(0), math.Inf(1))
	f.Fuzz(func(t *testing.T, success, failure string, shape uint8, v float64) {
		if len(success)+len(failure) > 512 {
			return // conditions are a line in a manifest, not programs
		}
		result := measured(shape, v)
		metric := &v1alpha1.Metric{Name: "m", SuccessCondition: success, FailureCondition: failure}
		phase, err := Evaluate(result, metric)
		switch phase {
		case v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseInconclusive:
			if err != nil {
				t.Fatalf("%s with an error: %v", phase, err)
			}
		case v1alpha1.AnalysisPhaseError:
			if err == nil || err.Error() == "" {
				t.Fatalf("Error without a message (success %q, failure %q)", success, failure)
			}
			// The message names the condition that failed, so that the user can fix it.
			if !strings.Contains(err.Error(), "successCondition") && !strings.Contains(err.Error(), "failureCondition") {
				t.Fatalf("error %q names neither condition", err)
			}
		default:
			t.Fatalf("phase %q", phase)
		}
		// A condition that cannot be evaluated never counts as passing.
		for _, c := range []string{success, failure} {
			if c == "" {
				continue
			}
			if _, cerr := EvalCondition(result, c); cerr != nil && phase == v1alpha1.AnalysisPhaseSuccessful {
				t.Fatalf("Successful although %q errors: %v", c, cerr)
			}
		}
		if success == "" && failure == "" && phase != v1alpha1.AnalysisPhaseSuccessful {
			t.Fatalf("no condition gives %s", phase)
		}
		// The same measurement judged twice gives the same verdict (now() aside).
		if !strings.Contains(success+failure, "now") {
			again, err2 := Evaluate(result, metric)
			if again != phase || (err2 == nil) != (err == nil) {
				t.Fatalf("%s then %s", phase, again)
			}
		}
	})
}

func FuzzEvalTime(f *testing.F) {
	for _, s := range []string{`now() - duration("1h")`, "now()", `duration("x")`, "1", "", `now() + duration("-5m")`, "now() -"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expression string) {
		if len(expression) > 512 {
			return
		}
		at, err := EvalTime(expression)
		if err == nil && at.IsZero() && !strings.Contains(expression, "date") {
			t.Fatalf("%q: a zero time without an error", expression)
		}
		if err != nil && err.Error() == "" {
			t.Fatalf("%q: an empty error", expression)
		}
	})
}
