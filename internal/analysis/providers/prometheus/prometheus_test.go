package prometheus

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
)

func promMetric(pm v1alpha1.PrometheusMetric, success string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "prom", SuccessCondition: success, Provider: v1alpha1.MetricProvider{Prometheus: &pm}}
}

func measure(t *testing.T, m v1alpha1.Metric) v1alpha1.Measurement {
	t.Helper()
	got := New(time.Now).Run(context.Background(), &v1alpha1.AnalysisRun{}, m)
	if got.StartedAt == nil || got.FinishedAt == nil || !got.Phase.Completed() {
		t.Errorf("incomplete measurement: %+v", got)
	}
	return got
}

// fakePrometheus answers every query with body and status, and records the last request.
type fakePrometheus struct {
	status int
	body   string
	req    *http.Request
	form   map[string]string
	delay  time.Duration
	noPost bool
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.noPost && r.Method == http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	_ = r.ParseForm()
	f.req, f.form = r, map[string]string{}
	for k := range r.Form {
		f.form[k] = r.Form.Get(k)
	}
	time.Sleep(f.delay)
	if f.status != 0 {
		w.WriteHeader(f.status)
	}
	_, _ = io.WriteString(w, f.body)
}

const vector099 = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.123,"0.99"]}]}}`

func TestPrometheusHTTP(t *testing.T) {
	tests := []struct {
		name    string
		fake    fakePrometheus
		pm      v1alpha1.PrometheusMetric
		success string
		phase   v1alpha1.AnalysisPhase
		value   string
		message string
		meta    map[string]string
		check   func(t *testing.T, f *fakePrometheus)
	}{
		{name: "vector", fake: fakePrometheus{body: vector099}, success: "result[0] >= 0.95", phase: v1alpha1.AnalysisPhaseSuccessful, value: "[0.99]",
			check: func(t *testing.T, f *fakePrometheus) {
				if f.req.Method != "POST" || f.req.URL.Path != "/api/v1/query" || f.form["query"] != "q" {
					t.Errorf("request %s %s %v", f.req.Method, f.req.URL.Path, f.form)
				}
				ts, _ := strconv.ParseFloat(f.form["time"], 64)
				if d := time.Since(time.Unix(int64(ts), 0)); d < 0 || d > 5*time.Second {
					t.Errorf("instant query time %q is not now", f.form["time"])
				}
			}},
		{name: "vector of two, failing", fake: fakePrometheus{body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"0.5"]},{"metric":{"a":"2"},"value":[1,"1"]}]}}`},
			success: "result[0] >= 0.95", phase: v1alpha1.AnalysisPhaseFailed, value: "[0.5,1]"},
		{name: "scalar", fake: fakePrometheus{body: `{"status":"success","data":{"resultType":"scalar","result":[1,"12"]}}`},
			success: "result == 12", phase: v1alpha1.AnalysisPhaseSuccessful, value: "12"},
		{name: "NaN", fake: fakePrometheus{body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}`},
			success: "isNaN(result[0])", phase: v1alpha1.AnalysisPhaseSuccessful, value: "[NaN]"},
		{name: "empty vector", fake: fakePrometheus{body: `{"status":"success","data":{"resultType":"vector","result":[]}}`},
			success: "result[0] >= 0.95", phase: v1alpha1.AnalysisPhaseError, value: "[]", message: analysis.ErrNoData},
		{name: "warnings", fake: fakePrometheus{body: `{"status":"success","warnings":["w1","w 2"],"data":{"resultType":"scalar","result":[1,"1"]}}`},
			phase: v1alpha1.AnalysisPhaseSuccessful, meta: map[string]string{WarningsKey: `"w1", "w 2"`}},
		{name: "range query", fake: fakePrometheus{body: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"0.5"]]},{"metric":{},"values":[[1,"2"]]}]}}`},
			pm:      v1alpha1.PrometheusMetric{RangeQuery: &v1alpha1.PrometheusRangeQueryArgs{Start: `now() - duration("1h")`, End: "now()", Step: "1m"}},
			success: "len(result) == 3 && result[1] == 0.5", phase: v1alpha1.AnalysisPhaseSuccessful, value: "[1,0.5,2]",
			check: func(t *testing.T, f *fakePrometheus) {
				start, _ := strconv.ParseFloat(f.form["start"], 64)
				end, _ := strconv.ParseFloat(f.form["end"], 64)
				if f.req.URL.Path != "/api/v1/query_range" || f.form["step"] != "60" || end-start < 3599 || end-start > 3601 {
					t.Errorf("range request %s %v", f.req.URL.Path, f.form)
				}
			}},
		{name: "bad range start", fake: fakePrometheus{body: vector099}, pm: v1alpha1.PrometheusMetric{RangeQuery: &v1alpha1.PrometheusRangeQueryArgs{Start: "yesterday"}},
			phase: v1alpha1.AnalysisPhaseError, message: "rangeQuery.start"},
		{name: "bad_data", fake: fakePrometheus{status: 400, body: `{"status":"error","errorType":"bad_data","error":"parse error at char 3"}`},
			phase: v1alpha1.AnalysisPhaseError, message: "prometheus query failed: bad_data: parse error at char 3"},
		{name: "not prometheus", fake: fakePrometheus{status: 502, body: `<html>bad gateway</html>`},
			phase: v1alpha1.AnalysisPhaseError, message: "prometheus answered HTTP 502 Bad Gateway: <html>bad gateway</html>"},
		{name: "garbage 200", fake: fakePrometheus{body: `nope`}, phase: v1alpha1.AnalysisPhaseError, message: "reading the prometheus answer"},
		{name: "unsupported type", fake: fakePrometheus{body: `{"status":"success","data":{"resultType":"string","result":[1,"x"]}}`},
			phase: v1alpha1.AnalysisPhaseError, message: `result type "string" is not supported`},
		{name: "timeout", fake: fakePrometheus{body: vector099, delay: 1500 * time.Millisecond}, pm: v1alpha1.PrometheusMetric{Timeout: ptr(int64(1))},
			phase: v1alpha1.AnalysisPhaseError, message: "deadline exceeded"},
		{name: "negative timeout", fake: fakePrometheus{body: vector099}, pm: v1alpha1.PrometheusMetric{Timeout: ptr(int64(-1))},
			phase: v1alpha1.AnalysisPhaseError, message: "negative"},
		{name: "GET fallback", fake: fakePrometheus{body: vector099, noPost: true}, success: "result[0] > 0.9", phase: v1alpha1.AnalysisPhaseSuccessful,
			check: func(t *testing.T, f *fakePrometheus) {
				if f.req.Method != "GET" || f.form["query"] != "q" {
					t.Errorf("request %s %v", f.req.Method, f.form)
				}
			}},
		{name: "headers and basic auth", fake: fakePrometheus{body: vector099},
			pm: v1alpha1.PrometheusMetric{Headers: []v1alpha1.WebMetricHeader{{Key: "X-Scope-OrgID", Value: "team"}},
				Authentication: v1alpha1.Authentication{BasicAuth: v1alpha1.BasicAuth{Username: "u", Password: "p"}}},
			phase: v1alpha1.AnalysisPhaseSuccessful,
			check: func(t *testing.T, f *fakePrometheus) {
				u, p, _ := f.req.BasicAuth()
				if f.req.Header.Get("X-Scope-OrgID") != "team" || u != "u" || p != "p" {
					t.Errorf("headers %v", f.req.Header)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fake
			srv := httptest.NewServer(&f)
			defer srv.Close()
			pm := tt.pm
			pm.Address, pm.Query = srv.URL, "q"
			got := measure(t, promMetric(pm, tt.success))
			if got.Phase != tt.phase {
				t.Errorf("phase %s, want %s (%q)", got.Phase, tt.phase, got.Message)
			}
			if tt.value != "" && got.Value != tt.value {
				t.Errorf("value %q, want %q", got.Value, tt.value)
			}
			if !strings.Contains(got.Message, tt.message) {
				t.Errorf("message %q, want it to contain %q", got.Message, tt.message)
			}
			for k, v := range tt.meta {
				if got.Metadata[k] != v {
					t.Errorf("metadata %v, want %s=%s", got.Metadata, k, v)
				}
			}
			if tt.check != nil && f.req != nil {
				tt.check(t, &f)
			}
		})
	}
}

func TestPrometheusUnreachable(t *testing.T) {
	for name, pm := range map[string]v1alpha1.PrometheusMetric{
		"connection refused": {Address: "http://127.0.0.1:1", Query: "up"},
		"no address":         {Query: "up"},
		"not a URL":          {Address: "127.0.0.1:9090", Query: "up"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(AddressEnv, "")
			if got := measure(t, promMetric(pm, "true")); got.Phase != v1alpha1.AnalysisPhaseError || got.Message == "" {
				t.Errorf("%+v", got)
			}
		})
	}
}

func TestPrometheusAddressFromEnv(t *testing.T) {
	f := fakePrometheus{body: vector099}
	srv := httptest.NewServer(&f)
	defer srv.Close()
	t.Setenv(AddressEnv, srv.URL)
	if got := measure(t, promMetric(v1alpha1.PrometheusMetric{Query: "up"}, "result[0] > 0.9")); got.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("%+v", got)
	}
}

func TestMetadata(t *testing.T) {
	p := New(time.Now)
	if got := p.Metadata(promMetric(v1alpha1.PrometheusMetric{Query: `up{app="x"}`}, "")); got[ResolvedQueryKey] != `up{app="x"}` {
		t.Errorf("%v", got)
	}
}

func TestParseStep(t *testing.T) {
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "1m30s": 90 * time.Second, "15": 15 * time.Second, "1d": 24 * time.Hour, "0.5": 500 * time.Millisecond} {
		if got, err := parseStep(in); err != nil || got != want {
			t.Errorf("parseStep(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1s", "0", "x"} {
		if _, err := parseStep(bad); err == nil {
			t.Errorf("parseStep(%q) accepted", bad)
		}
	}
}

func ptr[T any](v T) *T { return &v }
