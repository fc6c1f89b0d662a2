// Package prometheus measures metrics with PromQL over the Prometheus HTTP API
// (/api/v1/query and /api/v1/query_range), spoken directly with net/http: the API is four
// JSON shapes, not worth a client library and its dependencies.
//
// Results are typed as the contract says (compat.md §3.2): a scalar is a float64, a vector
// or a matrix a []float64 (a matrix flattened series by series), so that conditions read
// `result[0] >= 0.95`; the measurement's value renders as "[0.99]".
package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
	"github.com/tern-rollouts/tern/internal/analysis/metricsource"
	"github.com/tern-rollouts/tern/internal/analysis/providers/httpclient"
)

const (
	// Type names the provider.
	Type = "Prometheus"
	// ResolvedQueryKey is the metric result metadata key holding the query with its
	// arguments substituted.
	ResolvedQueryKey = "ResolvedPrometheusQuery"
	// WarningsKey is the measurement metadata key holding the warnings Prometheus returned.
	WarningsKey = "warnings"
	// AddressEnv is read when a metric gives no address, as upstream does.
	AddressEnv = "ARGO_ROLLOUTS_PROMETHEUS_ADDRESS"
	// DefaultTimeout bounds one query unless the metric sets timeout (seconds).
	DefaultTimeout = metricsource.PrometheusDefaultTimeout
	// maxBody bounds what is read of an answer: enough for any sane analysis query.
	maxBody = 16 << 20
)

// Provider queries Prometheus. Queries complete in Run: the registry wraps it in
// providers.Synchronous.
type Provider struct {
	now func() time.Time
}

// New returns a Prometheus provider reading the clock with now.
func New(now func() time.Time) *Provider { return &Provider{now: now} }

// Type names the provider.
func (p *Provider) Type() string { return Type }

// Metadata records the resolved query on the metric's result.
func (p *Provider) Metadata(metric v1alpha1.Metric) map[string]string {
	if q := metric.Provider.Prometheus.Query; q != "" {
		return map[string]string{ResolvedQueryKey: q}
	}
	return nil
}

// Run queries Prometheus once and judges the result by the metric's conditions.
func (p *Provider) Run(ctx context.Context, _ *v1alpha1.AnalysisRun, metric v1alpha1.Metric) v1alpha1.Measurement {
	start := metav1.NewTime(p.now())
	m := v1alpha1.Measurement{StartedAt: &start}
	result, value, warnings, err := p.query(ctx, metric.Provider.Prometheus)
	if err != nil {
		return analysis.MarkError(m, err, p.now())
	}
	if len(warnings) > 0 {
		quoted := make([]string, len(warnings))
		for i, w := range warnings {
			quoted[i] = strconv.Quote(w)
		}
		m.Metadata = map[string]string{WarningsKey: strings.Join(quoted, ", ")}
	}
	phase, err := analysis.Evaluate(result, &metric)
	if err != nil {
		m.Value = value
		return analysis.MarkError(m, err, p.now())
	}
	return analysis.Finish(m, value, phase, p.now())
}

// apiResponse is the envelope of every Prometheus HTTP API answer.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

type queryData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// sample is [<unix time>, "<value>"].
type sample [2]json.RawMessage

func (s sample) value() (float64, error) {
	var str string
	if err := json.Unmarshal(s[1], &str); err != nil {
		return 0, fmt.Errorf("sample value %s is not a string", s[1])
	}
	return parseValue(str)
}

// parseValue reads a sample value as Prometheus writes it, including NaN and ±Inf.
func parseValue(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}

// formatValue writes a value as Prometheus does, so measurement values read the same as
// in the Prometheus UI.
func formatValue(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// query runs the metric's instant or range query and returns the typed result, its
// rendering for the measurement's value, and Prometheus' warnings.
func (p *Provider) query(ctx context.Context, pm *v1alpha1.PrometheusMetric) (any, string, []string, error) {
	address := pm.Address
	if address == "" {
		address = os.Getenv(AddressEnv)
	}
	if address == "" {
		return nil, "", nil, errors.New("prometheus address is not configured")
	}
	base, err := url.Parse(address)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, "", nil, fmt.Errorf("prometheus address %q is not a URL", address)
	}
	if pm.Timeout != nil && *pm.Timeout < 0 {
		return nil, "", nil, errors.New("prometheus timeout should not be negative")
	}
	timeout := metricsource.PrometheusTimeout(pm)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	form := url.Values{"query": {pm.Query}}
	endpoint := "/api/v1/query"
	if rq := pm.RangeQuery; rq != nil {
		endpoint = "/api/v1/query_range"
		if err := rangeParams(form, rq, p.now()); err != nil {
			return nil, "", nil, err
		}
	} else {
		form.Set("time", formatTime(p.now()))
	}
	client, err := httpclient.New(ctx, timeout, pm.Insecure, pm.Authentication)
	if err != nil {
		return nil, "", nil, err
	}
	body, err := p.post(ctx, client, base.JoinPath(endpoint), form, pm)
	if err != nil {
		return nil, "", nil, err
	}
	var resp apiResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, "", nil, fmt.Errorf("reading the prometheus answer: %w", err)
	}
	if resp.Status != "success" {
		return nil, "", resp.Warnings, fmt.Errorf("prometheus query failed: %s: %s", resp.ErrorType, resp.Error)
	}
	var data queryData
	if err := json.Unmarshal(resp.Data, &data); err != nil {
		return nil, "", resp.Warnings, fmt.Errorf("reading the prometheus answer: %w", err)
	}
	result, value, err := typed(data)
	return result, value, resp.Warnings, err
}

func rangeParams(form url.Values, rq *v1alpha1.PrometheusRangeQueryArgs, now time.Time) error {
	start, end := now.Add(-time.Hour), now
	if rq.Start != "" {
		t, err := analysis.EvalTime(rq.Start)
		if err != nil {
			return fmt.Errorf("rangeQuery.start %q: %w", rq.Start, err)
		}
		start = t
	}
	if rq.End != "" {
		t, err := analysis.EvalTime(rq.End)
		if err != nil {
			return fmt.Errorf("rangeQuery.end %q: %w", rq.End, err)
		}
		end = t
	}
	if end.Before(start) {
		return fmt.Errorf("rangeQuery: end %s is before start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	step := time.Minute
	if rq.Step != "" {
		d, err := parseStep(rq.Step)
		if err != nil {
			return fmt.Errorf("rangeQuery.step %q: %w", rq.Step, err)
		}
		step = d
	}
	form.Set("start", formatTime(start))
	form.Set("end", formatTime(end))
	form.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	return nil
}

// parseStep reads a step as a Go duration ("30s", "1m30s"), a Prometheus one ("1d", "1w")
// or a number of seconds.
func parseStep(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
		return time.Duration(f * float64(time.Second)), nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			if v, err := strconv.Atoi(n); err == nil && v > 0 {
				return time.Duration(v) * unit, nil
			}
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New("not a positive duration")
	}
	return d, nil
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

// post sends the query as a form, as Prometheus' own clients do (long queries do not fit
// a URL), falling back to GET for servers that refuse POST.
func (p *Provider) post(ctx context.Context, client *http.Client, u *url.URL, form url.Values, pm *v1alpha1.PrometheusMetric) ([]byte, error) {
	body, status, err := p.do(ctx, client, http.MethodPost, u, form, pm)
	if err == nil && (status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented) {
		body, status, err = p.do(ctx, client, http.MethodGet, u, form, pm)
	}
	if err != nil {
		return nil, err
	}
	// Prometheus answers errors (bad_data 400, execution 422, timeout 503) with a JSON
	// envelope; anything else that is not 2xx is not Prometheus speaking.
	if status/100 != 2 && !json.Valid(body) {
		return nil, fmt.Errorf("prometheus answered HTTP %d %s: %s", status, http.StatusText(status), snippet(body))
	}
	return body, nil
}

func (p *Provider) do(ctx context.Context, client *http.Client, method string, u *url.URL, form url.Values, pm *v1alpha1.PrometheusMetric) ([]byte, int, error) {
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequestWithContext(ctx, method, u.String(), strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		g := *u
		g.RawQuery = form.Encode()
		req, err = http.NewRequestWithContext(ctx, method, g.String(), nil)
	}
	if err != nil {
		return nil, 0, err
	}
	for _, h := range pm.Headers {
		req.Header.Set(h.Key, h.Value)
	}
	if ba := pm.Authentication.BasicAuth; ba.Username != "" || ba.Password != "" {
		req.SetBasicAuth(ba.Username, ba.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, 0, fmt.Errorf("reading the prometheus answer: %w", err)
	}
	return body, resp.StatusCode, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// typed converts a query result into the value conditions see.
func typed(d queryData) (any, string, error) {
	switch d.ResultType {
	case "scalar":
		var s sample
		if err := json.Unmarshal(d.Result, &s); err != nil {
			return nil, "", fmt.Errorf("reading a scalar result: %w", err)
		}
		v, err := s.value()
		if err != nil {
			return nil, "", err
		}
		return v, formatValue(v), nil
	case "vector":
		var series []struct {
			Value sample `json:"value"`
		}
		if err := json.Unmarshal(d.Result, &series); err != nil {
			return nil, "", fmt.Errorf("reading a vector result: %w", err)
		}
		values := make([]float64, 0, len(series))
		for _, s := range series {
			v, err := s.Value.value()
			if err != nil {
				return nil, "", err
			}
			values = append(values, v)
		}
		return values, formatList(values), nil
	case "matrix":
		var series []struct {
			Values []sample `json:"values"`
		}
		if err := json.Unmarshal(d.Result, &series); err != nil {
			return nil, "", fmt.Errorf("reading a matrix result: %w", err)
		}
		values := []float64{}
		for _, s := range series {
			for _, smp := range s.Values {
				v, err := smp.value()
				if err != nil {
					return nil, "", err
				}
				values = append(values, v)
			}
		}
		return values, formatList(values), nil
	}
	return nil, "", fmt.Errorf("prometheus result type %q is not supported", d.ResultType)
}

func formatList(values []float64) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = formatValue(v)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
