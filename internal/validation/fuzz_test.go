package validation

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// The controller parses whatever a manifest holds; none of it may crash it. These fuzz tests
// run their seeds in plain `go test`; `go test -fuzz FuzzX ./internal/validation` explores.

// intOrString builds every IntOrString a decoder can produce, and the odd Type a buggy
// client could send.
func intOrString(typ uint8, n int32, s string) intstr.IntOrString {
	switch typ % 3 {
	case 0:
		return intstr.FromInt32(n)
	case 1:
		return intstr.FromString(s)
	default:
		return intstr.IntOrString{Type: intstr.Type(2 + int64(typ)), IntVal: n, StrVal: s}
	}
}

func FuzzParsePauseDuration(f *testing.F) {
	for _, s := range []string{"30", "30s", "1h30m", " 5 ", "0", "-1", "-1s", "5x", "", "1e3", "+7",
		"9223372036854775807", "9223372036854", "2562047h", "2562048h", "0.5s", "1µs", "{{args.pause}}"} {
		f.Add(uint8(1), int32(0), s)
	}
	for _, n := range []int32{0, 1, 30, -1, 1<<31 - 1, -1 << 31} {
		f.Add(uint8(0), n, "")
	}
	f.Add(uint8(2), int32(3), "3")
	f.Fuzz(func(t *testing.T, typ uint8, n int32, s string) {
		v := intOrString(typ, n, s)
		d, err := ParsePauseDuration(v)
		if d2, err2 := ParsePauseDuration(v); d2 != d || (err2 == nil) != (err == nil) {
			t.Fatalf("%#v: %v/%v then %v/%v", v, d, err, d2, err2)
		}
		if err != nil {
			if d != 0 || err.Error() == "" {
				t.Fatalf("%#v: error %q with duration %v", v, err, d)
			}
			return
		}
		if d < 0 {
			t.Fatalf("%#v: negative duration %v accepted", v, d)
		}
		switch v.Type {
		case intstr.Int:
			if want := time.Duration(v.IntVal) * time.Second; d != want {
				t.Fatalf("%d: %v, want %v", v.IntVal, d, want)
			}
		case intstr.String:
			str := strings.TrimSpace(v.StrVal)
			if secs, perr := strconv.ParseInt(str, 10, 64); perr == nil {
				if d != time.Duration(secs)*time.Second {
					t.Fatalf("%q: %v, want %d seconds", v.StrVal, d, secs)
				}
			} else if want, perr := time.ParseDuration(str); perr != nil || want != d {
				t.Fatalf("%q: %v, but time.ParseDuration says %v, %v", v.StrVal, d, want, perr)
			}
		default:
			t.Fatalf("%#v: an unknown IntOrString type accepted as %v", v, d)
		}
		// The manifest's way in: JSON and back gives the same answer.
		data, merr := json.Marshal(v)
		if merr != nil {
			return
		}
		var back intstr.IntOrString
		if json.Unmarshal(data, &back) != nil {
			t.Fatalf("%s does not decode back", data)
		}
		if d2, err2 := ParsePauseDuration(back); err2 != nil || d2 != d {
			t.Fatalf("%s: %v after a JSON round trip, %v before (%v)", data, d2, d, err2)
		}
	})
}

func FuzzNegativePauseIsErrNegative(f *testing.F) {
	f.Add(int32(-1))
	f.Add(int32(-1 << 31))
	f.Fuzz(func(t *testing.T, n int32) {
		if n >= 0 {
			return
		}
		for _, v := range []intstr.IntOrString{intstr.FromInt32(n), intstr.FromString(strconv.Itoa(int(n))), intstr.FromString(strconv.Itoa(int(n)) + "s")} {
			if _, err := ParsePauseDuration(v); !errors.Is(err, ErrNegativeDuration) {
				t.Fatalf("%#v: %v, want ErrNegativeDuration", v, err)
			}
		}
	})
}

// FuzzIntOrPercent covers maxSurge/maxUnavailable and the templatable counts of metrics.
func FuzzIntOrPercent(f *testing.F) {
	for _, s := range []string{"25%", "0%", "100%", "150%", "%", "-5%", "+5%", "5", "abc", "{{args.count}}", " 3 ", "99999999999999999999%", "1e2%"} {
		f.Add(uint8(1), int32(0), s)
	}
	f.Add(uint8(0), int32(-3), "")
	f.Add(uint8(2), int32(1), "1")
	f.Fuzz(func(t *testing.T, typ uint8, n int32, s string) {
		v := intOrString(typ, n, s)
		value, percent, err := intOrPercent(v)
		if err == nil && percent {
			if !strings.HasSuffix(v.StrVal, "%") || value < 0 {
				t.Fatalf("%q: read as %d%%", v.StrVal, value)
			}
		}
		if err != nil && err.Error() != IntOrPercentMessage {
			t.Fatalf("%#v: %v, want the message that says what to write", v, err)
		}
		for _, capped := range []bool{false, true} {
			got, errs := checkIntOrPercent(v, nil, capped)
			if len(errs) == 0 && (got < 0 || capped && percent && got > 100) {
				t.Fatalf("%#v: accepted as %d (capped %v)", v, got, capped)
			}
			for _, e := range errs {
				if e.Detail == "" {
					t.Fatalf("%#v: an error that says nothing: %v", v, e)
				}
			}
		}
		iv, known, err := intOrArg(v)
		if err == nil && !known && !isTemplated(v.StrVal) {
			t.Fatalf("%#v: unknown value %d without a placeholder", v, iv)
		}
	})
}

// FuzzValidateRollout decodes arbitrary JSON as a Rollout and validates it: the controller
// meets such objects before anything else looks at them.
func FuzzValidateRollout(f *testing.F) {
	for _, seed := range []string{
		`{"spec":{"replicas":3,"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"i"}]}},"strategy":{"canary":{"maxSurge":"25%","steps":[{"setWeight":20},{"pause":{"duration":"1h"}},{"setWeight":150},{"pause":{}}]}}}}`,
		`{"spec":{"replicas":-1,"strategy":{"blueGreen":{"activeService":"a","previewService":"a","previewReplicaCount":-2,"scaleDownDelayRevisionLimit":5}}}}`,
		`{"spec":{"strategy":{"canary":{"maxSurge":0,"maxUnavailable":"0%","steps":[{}],"analysis":{"templates":[]}}}}}`,
		`{"spec":{"workloadRef":{"kind":"Nope"},"template":{"spec":{"containers":[]}},"strategy":{"canary":{"trafficRouting":{},"steps":[{"setCanaryScale":{"weight":200}},{"experiment":{"templates":[{"weight":5}]}}]}}}}`,
		`{"spec":{"strategy":{"canary":{},"blueGreen":{}}}}`,
		`{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ro := &v1alpha1.Rollout{}
		if json.Unmarshal(data, ro) != nil {
			return
		}
		errs := ValidateRollout(ro)
		again := ValidateRollout(ro)
		if InvalidSpecMessage(errs) != InvalidSpecMessage(again) {
			t.Fatalf("two validations disagree:\n%s\n%s", InvalidSpecMessage(errs), InvalidSpecMessage(again))
		}
		for _, e := range errs {
			if !strings.HasPrefix(e.Field, "spec") || e.Error() == "" {
				t.Fatalf("error without a path into the spec: %q", e.Error())
			}
		}
	})
}
