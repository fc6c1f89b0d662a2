package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
)

// scriptDir is test/prometheus of this module.
func scriptDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "test", "prometheus")
	if _, err := os.Stat(filepath.Join(dir, "up.sh")); err != nil {
		t.Skipf("test/prometheus not found: %v", err)
	}
	return dir
}

// realPrometheus starts Debian's Prometheus (test/prometheus/up.sh) scraping target every
// second and returns its URL. Without a cached binary the test is skipped, unless
// TERN_E2E_REQUIRED=1 asks for it to be downloaded (test/prometheus/install.sh).
func realPrometheus(t *testing.T, target string) string {
	t.Helper()
	dir := scriptDir(t)
	env := os.Environ()
	if os.Getenv("TERN_E2E_REQUIRED") != "1" {
		home, _ := os.UserHomeDir()
		cache := os.Getenv("CACHE_DIR")
		if cache == "" {
			cache = filepath.Join(home, ".cache", "tern")
		}
		if m, _ := filepath.Glob(filepath.Join(cache, "prometheus-*", "usr", "bin", "prometheus")); len(m) == 0 {
			t.Skip("no Prometheus binary cached; run `make prometheus-install` (or set TERN_E2E_REQUIRED=1)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	env = append(env, fmt.Sprintf("PROMETHEUS_PORT=%d", port), "PROMETHEUS_DIR="+t.TempDir(), "TRAFFICSIM_ADDR=", "PROMETHEUS_TARGETS="+target)
	up := exec.Command(filepath.Join(dir, "up.sh"))
	up.Env, up.Stderr = env, os.Stderr
	out, err := up.Output()
	if err != nil {
		t.Fatalf("up.sh: %v", err)
	}
	t.Cleanup(func() {
		down := exec.Command(filepath.Join(dir, "down.sh"))
		down.Env = env
		if out, err := down.CombinedOutput(); err != nil {
			t.Errorf("down.sh: %v\n%s", err, out)
		}
	})
	return strings.TrimSpace(string(out))
}

// TestRealPrometheus measures controlled series through a real Prometheus server.
func TestRealPrometheus(t *testing.T) {
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "# TYPE tern_test_ratio gauge\ntern_test_ratio{app=\"good\"} 0.99\ntern_test_ratio{app=\"bad\"} 0.5\n")
	}))
	defer exporter.Close()
	url := realPrometheus(t, strings.TrimPrefix(exporter.URL, "http://"))

	// Prometheus applies new scrape targets a few seconds after it starts.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + `/api/v1/query?query=count(tern_test_ratio)`)
		if err == nil {
			var body struct {
				Data struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if len(body.Data.Result) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus never scraped the test series: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	tests := []struct {
		name    string
		query   string
		rng     *v1alpha1.PrometheusRangeQueryArgs
		success string
		phase   v1alpha1.AnalysisPhase
		value   string
		message string
	}{
		{name: "good vector", query: `tern_test_ratio{app="good"}`, success: "result[0] >= 0.95", phase: v1alpha1.AnalysisPhaseSuccessful, value: "[0.99]"},
		{name: "bad vector", query: `tern_test_ratio{app="bad"}`, success: "result[0] >= 0.95", phase: v1alpha1.AnalysisPhaseFailed, value: "[0.5]"},
		{name: "sorted vector of two", query: `sort(tern_test_ratio)`, success: "len(result) == 2 && result[0] == 0.5", phase: v1alpha1.AnalysisPhaseSuccessful, value: "[0.5,0.99]"},
		{name: "scalar", query: `scalar(tern_test_ratio{app="good"})`, success: "result == 0.99", phase: v1alpha1.AnalysisPhaseSuccessful, value: "0.99"},
		{name: "no data", query: `tern_test_ratio{app="none"}`, success: "result[0] >= 0.95", phase: v1alpha1.AnalysisPhaseError, value: "[]", message: analysis.ErrNoData},
		{name: "no data guarded", query: `tern_test_ratio{app="none"}`, success: "len(result) == 0", phase: v1alpha1.AnalysisPhaseSuccessful},
		{name: "range query", query: `tern_test_ratio{app="good"}`, rng: &v1alpha1.PrometheusRangeQueryArgs{Start: `now() - duration("30s")`, End: "now()", Step: "1s"},
			success: "len(result) > 0 && all(result, {# == 0.99})", phase: v1alpha1.AnalysisPhaseSuccessful},
		{name: "bad PromQL", query: `sum(`, success: "true", phase: v1alpha1.AnalysisPhaseError, message: "prometheus query failed: bad_data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := promMetric(v1alpha1.PrometheusMetric{Address: url, Query: tt.query, RangeQuery: tt.rng}, tt.success)
			got := New(time.Now).Run(context.Background(), &v1alpha1.AnalysisRun{}, m)
			if got.Phase != tt.phase || (tt.value != "" && got.Value != tt.value) || !strings.Contains(got.Message, tt.message) {
				t.Errorf("measurement %+v, want phase %s value %q message %q", got, tt.phase, tt.value, tt.message)
			}
		})
	}
}
