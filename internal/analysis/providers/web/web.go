// Package web measures metrics by calling an HTTP endpoint and reading a value out of its
// JSON answer with a kubectl-style JSONPath ("{$.data.ok}"; default "{$}", the whole
// document). The value keeps its JSON type for the conditions: a number is a float64, an
// object a map (result.data.ok), a string a string.
package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/jsonpath"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
	"github.com/tern-rollouts/tern/internal/analysis/metricsource"
	"github.com/tern-rollouts/tern/internal/analysis/providers/httpclient"
)

const (
	// Type names the provider.
	Type = "Web"
	// DefaultTimeout bounds a call unless the metric sets timeoutSeconds.
	DefaultTimeout = metricsource.WebDefaultTimeout
	// DefaultJSONPath selects the whole answer.
	DefaultJSONPath = "{$}"
	maxBody         = 16 << 20
)

// Provider calls web endpoints. Calls complete in Run: the registry wraps it in
// providers.Synchronous.
type Provider struct {
	now func() time.Time
}

// New returns a web provider reading the clock with now.
func New(now func() time.Time) *Provider { return &Provider{now: now} }

// Type names the provider.
func (p *Provider) Type() string { return Type }

// Metadata has nothing to record.
func (p *Provider) Metadata(v1alpha1.Metric) map[string]string { return nil }

// Run calls the endpoint once and judges the selected value by the metric's conditions.
func (p *Provider) Run(ctx context.Context, _ *v1alpha1.AnalysisRun, metric v1alpha1.Metric) v1alpha1.Measurement {
	start := metav1.NewTime(p.now())
	m := v1alpha1.Measurement{StartedAt: &start}
	result, value, err := p.call(ctx, metric.Provider.Web)
	if err != nil {
		return analysis.MarkError(m, err, p.now())
	}
	phase, err := analysis.Evaluate(result, &metric)
	if err != nil {
		m.Value = value
		return analysis.MarkError(m, err, p.now())
	}
	return analysis.Finish(m, value, phase, p.now())
}

func (p *Provider) call(ctx context.Context, w *v1alpha1.WebMetric) (any, string, error) {
	method := w.Method
	if method == "" {
		method = v1alpha1.WebMetricMethodGet
	}
	switch method {
	case v1alpha1.WebMetricMethodGet, v1alpha1.WebMetricMethodPost, v1alpha1.WebMetricMethodPut:
	default:
		return nil, "", fmt.Errorf("web metric method %q is not supported: use GET, POST or PUT", method)
	}
	hasJSON := len(w.JSONBody) > 0 && string(w.JSONBody) != "null"
	var body io.Reader
	switch {
	case w.Body != "" && hasJSON:
		return nil, "", errors.New("use either body or jsonBody; both cannot exist for a web metric")
	case (w.Body != "" || hasJSON) && method == v1alpha1.WebMetricMethodGet:
		return nil, "", errors.New("body and jsonBody can only be used with POST or PUT web metric methods")
	case w.Body != "":
		body = strings.NewReader(w.Body)
	case hasJSON:
		body = bytes.NewReader(w.JSONBody)
	}
	path := w.JSONPath
	if path == "" {
		path = DefaultJSONPath
	}
	parser := jsonpath.New("metric")
	if err := parser.Parse(path); err != nil {
		return nil, "", fmt.Errorf("jsonPath %q: %w", path, err)
	}
	timeout := metricsource.WebTimeout(w)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := httpclient.New(ctx, timeout, w.Insecure, w.Authentication)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, string(method), w.URL, body)
	if err != nil {
		return nil, "", err
	}
	for _, h := range w.Headers {
		req.Header.Set(h.Key, h.Value)
	}
	if hasJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	if ba := w.Authentication.BasicAuth; ba.Username != "" || ba.Password != "" {
		req.SetBasicAuth(ba.Username, ba.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, "", fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return nil, "", fmt.Errorf("received non 2xx response code: %d", resp.StatusCode)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		// Not JSON: the conditions judge the text itself. Upstream passes such answers
		// without looking at the conditions; judging them is never less safe.
		text := string(raw)
		return text, text, nil
	}
	found, err := parser.FindResults(doc)
	if err != nil {
		return nil, "", fmt.Errorf("could not find JSONPath %s in the answer: %w", path, err)
	}
	for _, values := range found {
		for _, v := range values {
			val := v.Interface()
			s, err := json.Marshal(val)
			if err != nil {
				return nil, "", err
			}
			return val, string(s), nil
		}
	}
	return nil, "", errors.New("result of web metric produced no value")
}
