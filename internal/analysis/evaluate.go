package analysis

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// ErrNoData is the message users see when a condition could not be evaluated because the
// provider returned nothing; it names the likely cause instead of an index error.
const ErrNoData = "metric result is nil or empty: no data returned from the metric provider"

// Evaluate judges one measured value by the metric's conditions (compat.md §3.2):
//   - neither condition: Successful;
//   - only successCondition: Failed unless it holds;
//   - only failureCondition: Successful unless it holds;
//   - both: Failed if the failure condition holds, Successful if only the success condition
//     holds, Inconclusive if neither does.
//
// A condition that cannot be evaluated, or does not yield a bool, gives Error and the error.
func Evaluate(result any, metric *v1alpha1.Metric) (v1alpha1.AnalysisPhase, error) {
	var success, failure bool
	if metric.SuccessCondition != "" {
		ok, err := EvalCondition(result, metric.SuccessCondition)
		if err != nil {
			return v1alpha1.AnalysisPhaseError, evalError(err, "successCondition", metric.SuccessCondition, result)
		}
		success = ok
	}
	if metric.FailureCondition != "" {
		ok, err := EvalCondition(result, metric.FailureCondition)
		if err != nil {
			return v1alpha1.AnalysisPhaseError, evalError(err, "failureCondition", metric.FailureCondition, result)
		}
		failure = ok
	}
	switch {
	case metric.SuccessCondition == "" && metric.FailureCondition == "":
		return v1alpha1.AnalysisPhaseSuccessful, nil
	case metric.FailureCondition == "":
		failure = !success
	case metric.SuccessCondition == "":
		success = !failure
	}
	switch {
	case failure:
		return v1alpha1.AnalysisPhaseFailed, nil
	case success:
		return v1alpha1.AnalysisPhaseSuccessful, nil
	default:
		return v1alpha1.AnalysisPhaseInconclusive, nil
	}
}

func evalError(err error, which, condition string, result any) error {
	if nilOrEmpty(result) {
		return fmt.Errorf("could not evaluate %s %q: %s", which, condition, ErrNoData)
	}
	return fmt.Errorf("could not evaluate %s %q: %w", which, condition, err)
}

// EvalCondition evaluates one expr-lang condition against a measured value. The value is
// dereferenced when it is a pointer. The functions isNil and default look at the measured
// value whatever their first argument, as manifests written for upstream expect.
func EvalCondition(result any, condition string) (bool, error) {
	// No pre-check of `result[0]` on empty data: expr reports the index error itself, and
	// a guarded condition (len(result) > 0 && result[0] > 1) must keep working.
	value := deref(result)
	env := map[string]any{
		"result":  value,
		"asInt":   asInt,
		"asFloat": asFloat,
		"isNaN":   math.IsNaN,
		"isInf":   func(f float64) bool { return math.IsInf(f, 0) },
		"isNil":   func(any) bool { return isNil(value) },
		"default": func(_ any, fallback any) any {
			if isNil(value) {
				return fallback
			}
			return value
		},
	}
	out, err := runExpr(condition, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("expected bool, but got %T", out)
	}
	return b, nil
}

// EvalTime evaluates a time expression of a Prometheus range query, such as
// `now() - duration("1h")`.
func EvalTime(expression string) (time.Time, error) {
	out, err := runExpr(expression, map[string]any{})
	if err != nil {
		return time.Time{}, err
	}
	t, ok := out.(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("expected a time, but %q gives %T", expression, out)
	}
	return t, nil
}

// runExpr compiles and runs an expression, turning expr's panics (asInt("x")) and
// multi-line source-pointing errors into one-line errors fit for a status message.
func runExpr(expression string, env map[string]any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%v", r)
		}
	}()
	program, err := expr.Compile(expression, expr.Env(env))
	if err != nil {
		return nil, oneLine(err)
	}
	out, err = expr.Run(program, env)
	if err != nil {
		return nil, oneLine(err)
	}
	return out, nil
}

func oneLine(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return errors.New(fe.Message)
	}
	return err
}

func asInt(in any) int64 {
	switch v := in.(type) {
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			panic(err)
		}
		return n
	case float64:
		return int64(v)
	case float32:
		return int64(v)
	}
	rv := reflect.ValueOf(in)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rv.Uint())
	}
	panic(fmt.Sprintf("asInt() not supported on %T %v", in, in))
}

func asFloat(in any) float64 {
	switch v := in.(type) {
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			panic(err)
		}
		return f
	case float64:
		return v
	case float32:
		return float64(v)
	}
	rv := reflect.ValueOf(in)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint())
	}
	panic(fmt.Sprintf("asFloat() not supported on %T %v", in, in))
}

func isNil(in any) bool {
	if in == nil {
		return true
	}
	switch rv := reflect.ValueOf(in); rv.Kind() {
	case reflect.Ptr, reflect.Map, reflect.Chan, reflect.Slice, reflect.Func, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func deref(in any) any {
	if isNil(in) {
		return nil
	}
	if rv := reflect.ValueOf(in); rv.Kind() == reflect.Ptr {
		return rv.Elem().Interface()
	}
	return in
}

func nilOrEmpty(in any) bool {
	in = deref(in)
	if in == nil {
		return true
	}
	switch rv := reflect.ValueOf(in); rv.Kind() {
	case reflect.Slice, reflect.Array:
		return rv.Len() == 0
	}
	return false
}
