package validation

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestParsePauseDuration(t *testing.T) {
	cases := []struct {
		in      intstr.IntOrString
		want    time.Duration
		wantErr string
	}{
		{intstr.FromInt32(30), 30 * time.Second, ""},
		{intstr.FromInt32(0), 0, ""},
		{intstr.FromString("30"), 30 * time.Second, ""},
		{intstr.FromString(" 45 "), 45 * time.Second, ""},
		{intstr.FromString("30s"), 30 * time.Second, ""},
		{intstr.FromString("1h"), time.Hour, ""},
		{intstr.FromString("1h30m"), 90 * time.Minute, ""},
		{intstr.FromString("500ms"), 500 * time.Millisecond, ""},
		{intstr.FromString("0s"), 0, ""},
		{intstr.FromInt32(-1), 0, InvalidDurationMessage},
		{intstr.FromString("-1"), 0, InvalidDurationMessage},
		{intstr.FromString("-2m"), 0, InvalidDurationMessage},
		{intstr.FromString(""), 0, `invalid duration ""`},
		{intstr.FromString("10 minutes"), 0, `invalid duration "10 minutes": use a number of seconds (30) or a number with a unit (30s, 5m, 1h)`},
		{intstr.FromString("1d"), 0, `invalid duration "1d"`},
		{intstr.FromString("99999999999999999"), 0, "too long"},
	}
	for _, c := range cases {
		got, err := ParsePauseDuration(c.in)
		if c.wantErr == "" {
			if err != nil || got != c.want {
				t.Errorf("ParsePauseDuration(%q) = %v, %v; want %v", c.in.String(), got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("ParsePauseDuration(%q) error = %v, want one containing %q", c.in.String(), err, c.wantErr)
		}
	}
}

func TestParsePauseDurationNegativeIsDistinguishable(t *testing.T) {
	_, err := ParsePauseDuration(intstr.FromString("-3s"))
	if !errors.Is(err, ErrNegativeDuration) {
		t.Fatalf("error %v is not ErrNegativeDuration", err)
	}
	_, err = ParsePauseDuration(intstr.FromString("soon"))
	if errors.Is(err, ErrNegativeDuration) {
		t.Fatalf("unparsable duration reported as negative: %v", err)
	}
}

func TestIntOrPercent(t *testing.T) {
	cases := []struct {
		in          intstr.IntOrString
		want        int
		wantPercent bool
		wantErr     bool
	}{
		{intstr.FromInt32(3), 3, false, false},
		{intstr.FromString("25%"), 25, true, false},
		{intstr.FromString("0%"), 0, true, false},
		{intstr.FromString("25"), 0, false, true},
		{intstr.FromString("%"), 0, false, true},
		{intstr.FromString("+5%"), 0, false, true},
		{intstr.FromString("2.5%"), 0, false, true},
	}
	for _, c := range cases {
		n, pct, err := intOrPercent(c.in)
		if (err != nil) != c.wantErr || n != c.want || pct != c.wantPercent {
			t.Errorf("intOrPercent(%q) = %d, %v, %v; want %d, %v, error %v", c.in.String(), n, pct, err, c.want, c.wantPercent, c.wantErr)
		}
	}
}

func TestIntOrArg(t *testing.T) {
	cases := []struct {
		in        intstr.IntOrString
		want      int
		wantKnown bool
		wantErr   bool
	}{
		{intstr.FromInt32(5), 5, true, false},
		{intstr.FromString("5"), 5, true, false},
		{intstr.FromString("{{args.count}}"), 0, false, false},
		{intstr.FromString("five"), 0, false, true},
	}
	for _, c := range cases {
		n, known, err := intOrArg(c.in)
		if (err != nil) != c.wantErr || n != c.want || known != c.wantKnown {
			t.Errorf("intOrArg(%q) = %d, %v, %v; want %d, %v, error %v", c.in.String(), n, known, err, c.want, c.wantKnown, c.wantErr)
		}
	}
}
