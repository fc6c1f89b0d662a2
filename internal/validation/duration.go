package validation

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// maxPauseSeconds keeps a pause in time.Duration's range (about 292 years).
const maxPauseSeconds = math.MaxInt64 / int64(time.Second)

// ErrNegativeDuration is returned by ParsePauseDuration for a duration below zero.
var ErrNegativeDuration = errors.New(InvalidDurationMessage)

// ParsePauseDuration reads a canary pause duration in any of the forms manifests use: an
// integer of seconds (30), the same as a string ("30"), or a Go duration ("30s", "1h30m").
//
// Zero is accepted and means a pause that ends at once: upstream accepts it (its check is
// "< 0" despite the message's wording), and existing manifests must keep working. Sub-second
// precision is kept; callers that need whole seconds (as upstream stores them) round.
func ParsePauseDuration(d intstr.IntOrString) (time.Duration, error) {
	var seconds int64
	switch d.Type {
	case intstr.Int:
		seconds = int64(d.IntVal)
	case intstr.String:
		s := strings.TrimSpace(d.StrVal)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			seconds = n
			break
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: use a number of seconds (30) or a number with a unit (30s, 5m, 1h)", d.StrVal)
		}
		if dur < 0 {
			return 0, ErrNegativeDuration
		}
		return dur, nil
	default:
		return 0, fmt.Errorf("invalid duration: unknown IntOrString type %d", d.Type)
	}
	if seconds < 0 {
		return 0, ErrNegativeDuration
	}
	if seconds > maxPauseSeconds {
		return 0, fmt.Errorf("invalid duration %d seconds: too long", seconds)
	}
	return time.Duration(seconds) * time.Second, nil
}

// intOrPercent reads maxSurge/maxUnavailable: an integer, or a string "N%". It returns
// the number and whether it is a percentage.
func intOrPercent(v intstr.IntOrString) (value int, percent bool, err error) {
	if v.Type == intstr.Int {
		return int(v.IntVal), false, nil
	}
	num, ok := strings.CutSuffix(v.StrVal, "%")
	if !ok {
		return 0, false, errors.New(IntOrPercentMessage)
	}
	n, err := strconv.Atoi(num)
	if err != nil || num == "" || num[0] == '+' || num[0] == '-' {
		return 0, false, errors.New(IntOrPercentMessage)
	}
	return n, true, nil
}

// isTemplated reports whether a value still holds an {{args.*}} placeholder, which is only
// resolved when the AnalysisRun measures.
func isTemplated(s string) bool {
	return strings.Contains(s, "{{")
}

// intOrArg reads a templatable IntOrString (count, failureLimit, ...). known is false when
// the value is a placeholder that cannot be checked yet.
func intOrArg(v intstr.IntOrString) (value int, known bool, err error) {
	if v.Type == intstr.Int {
		return int(v.IntVal), true, nil
	}
	if isTemplated(v.StrVal) {
		return 0, false, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.StrVal))
	if err != nil {
		return 0, false, errors.New(IntOrArgMessage)
	}
	return n, true, nil
}
