package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func metric(w v1alpha1.WebMetric, success string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "web", SuccessCondition: success, Provider: v1alpha1.MetricProvider{Web: &w}}
}

func run(t *testing.T, m v1alpha1.Metric) v1alpha1.Measurement {
	t.Helper()
	got := New(time.Now).Run(context.Background(), &v1alpha1.AnalysisRun{}, m)
	if got.StartedAt == nil || (got.Phase.Completed() && got.FinishedAt == nil) {
		t.Errorf("timestamps missing: %+v", got)
	}
	return got
}

func TestWeb(t *testing.T) {
	var mu sync.Mutex
	var lastReq *http.Request
	var lastBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		lastReq, lastBody = r.Clone(context.Background()), string(b)
		mu.Unlock()
		switch r.URL.Path {
		case "/ok":
			_, _ = io.WriteString(w, `{"data":{"ok":true,"rate":0.99,"label":"true","list":[1,2]}}`)
		case "/number":
			_, _ = io.WriteString(w, `0.42`)
		case "/text":
			_, _ = io.WriteString(w, `healthy`)
		case "/500":
			http.Error(w, "boom", 500)
		case "/slow":
			time.Sleep(1500 * time.Millisecond)
			_, _ = io.WriteString(w, `1`)
		case "/echo":
			_, _ = w.Write(b)
		}
	}))
	defer srv.Close()

	tests := []struct {
		name     string
		web      v1alpha1.WebMetric
		success  string
		phase    v1alpha1.AnalysisPhase
		value    string
		message  string
		checkReq func(t *testing.T)
	}{
		{name: "whole document by default", web: v1alpha1.WebMetric{URL: srv.URL + "/ok"}, success: "result.data.ok && result.data.rate > 0.9",
			phase: v1alpha1.AnalysisPhaseSuccessful, value: `{"data":{"label":"true","list":[1,2],"ok":true,"rate":0.99}}`},
		{name: "jsonPath to a number", web: v1alpha1.WebMetric{URL: srv.URL + "/ok", JSONPath: "{$.data.rate}"}, success: "result >= 0.995",
			phase: v1alpha1.AnalysisPhaseFailed, value: "0.99"},
		{name: "jsonPath to a string", web: v1alpha1.WebMetric{URL: srv.URL + "/ok", JSONPath: "{$.data.label}"}, success: "result == 'true'",
			phase: v1alpha1.AnalysisPhaseSuccessful, value: `"true"`},
		{name: "asFloat of a number", web: v1alpha1.WebMetric{URL: srv.URL + "/number"}, success: "asFloat(result) < 0.5",
			phase: v1alpha1.AnalysisPhaseSuccessful, value: "0.42"},
		{name: "missing jsonPath", web: v1alpha1.WebMetric{URL: srv.URL + "/ok", JSONPath: "{$.nope}"}, success: "true",
			phase: v1alpha1.AnalysisPhaseError, message: "could not find JSONPath"},
		{name: "non-JSON answer judged as text", web: v1alpha1.WebMetric{URL: srv.URL + "/text"}, success: "result == 'healthy'",
			phase: v1alpha1.AnalysisPhaseSuccessful, value: "healthy"},
		{name: "non-JSON answer failing its condition", web: v1alpha1.WebMetric{URL: srv.URL + "/text"}, success: "result == 'ok'",
			phase: v1alpha1.AnalysisPhaseFailed},
		{name: "non 2xx", web: v1alpha1.WebMetric{URL: srv.URL + "/500"}, phase: v1alpha1.AnalysisPhaseError, message: "received non 2xx response code: 500"},
		{name: "timeout", web: v1alpha1.WebMetric{URL: srv.URL + "/slow", TimeoutSeconds: 1}, phase: v1alpha1.AnalysisPhaseError, message: "deadline exceeded"},
		{name: "unreachable", web: v1alpha1.WebMetric{URL: "http://127.0.0.1:1/"}, phase: v1alpha1.AnalysisPhaseError, message: "connection refused"},
		{name: "bad condition", web: v1alpha1.WebMetric{URL: srv.URL + "/number"}, success: "result +", phase: v1alpha1.AnalysisPhaseError, message: "could not evaluate successCondition"},
		{name: "headers and basic auth", web: v1alpha1.WebMetric{URL: srv.URL + "/number", Headers: []v1alpha1.WebMetricHeader{{Key: "X-Token", Value: "abc"}},
			Authentication: v1alpha1.Authentication{BasicAuth: v1alpha1.BasicAuth{Username: "u", Password: "p"}}},
			phase: v1alpha1.AnalysisPhaseSuccessful, checkReq: func(t *testing.T) {
				u, p, ok := lastReq.BasicAuth()
				if lastReq.Method != "GET" || lastReq.Header.Get("X-Token") != "abc" || !ok || u != "u" || p != "p" {
					t.Errorf("request %s %v", lastReq.Method, lastReq.Header)
				}
			}},
		{name: "POST jsonBody", web: v1alpha1.WebMetric{URL: srv.URL + "/echo", Method: "POST", JSONBody: json.RawMessage(`{"q":1}`), JSONPath: "{$.q}"},
			success: "result == 1", phase: v1alpha1.AnalysisPhaseSuccessful, checkReq: func(t *testing.T) {
				if lastReq.Method != "POST" || lastReq.Header.Get("Content-Type") != "application/json" || lastBody != `{"q":1}` {
					t.Errorf("request %s %v %q", lastReq.Method, lastReq.Header, lastBody)
				}
			}},
		{name: "PUT body", web: v1alpha1.WebMetric{URL: srv.URL + "/echo", Method: "PUT", Body: `{"q":"x"}`, JSONPath: "{$.q}"},
			success: "result == 'x'", phase: v1alpha1.AnalysisPhaseSuccessful},
		{name: "GET with a body", web: v1alpha1.WebMetric{URL: srv.URL + "/ok", Body: "x"}, phase: v1alpha1.AnalysisPhaseError, message: "only be used with POST or PUT"},
		{name: "body and jsonBody", web: v1alpha1.WebMetric{URL: srv.URL + "/ok", Method: "POST", Body: "x", JSONBody: json.RawMessage(`{}`)},
			phase: v1alpha1.AnalysisPhaseError, message: "either body or jsonBody"},
		{name: "bad method", web: v1alpha1.WebMetric{URL: srv.URL + "/ok", Method: "DELETE"}, phase: v1alpha1.AnalysisPhaseError, message: "not supported"},
		{name: "bad jsonPath", web: v1alpha1.WebMetric{URL: srv.URL + "/ok", JSONPath: "{.a["}, phase: v1alpha1.AnalysisPhaseError, message: "jsonPath"},
		{name: "sigv4 refused", web: v1alpha1.WebMetric{URL: srv.URL + "/ok", Authentication: v1alpha1.Authentication{Sigv4: v1alpha1.Sigv4Config{Region: "x"}}},
			phase: v1alpha1.AnalysisPhaseError, message: "sigv4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, metric(tt.web, tt.success))
			if got.Phase != tt.phase {
				t.Errorf("phase %s, want %s (%q)", got.Phase, tt.phase, got.Message)
			}
			if tt.value != "" && got.Value != tt.value {
				t.Errorf("value %q, want %q", got.Value, tt.value)
			}
			if !strings.Contains(got.Message, tt.message) {
				t.Errorf("message %q, want %q", got.Message, tt.message)
			}
			if tt.checkReq != nil {
				mu.Lock()
				defer mu.Unlock()
				tt.checkReq(t)
			}
		})
	}
}

func TestWebTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "1") }))
	defer srv.Close()
	if got := run(t, metric(v1alpha1.WebMetric{URL: srv.URL}, "result == 1")); got.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(got.Message, "certificate") {
		t.Errorf("self-signed certificate accepted: %+v", got)
	}
	if got := run(t, metric(v1alpha1.WebMetric{URL: srv.URL, Insecure: true}, "result == 1")); got.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("insecure: %+v", got)
	}
}

func TestWebOAuth2(t *testing.T) {
	var tokenRequests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			tokenRequests++
			id, secret, _ := r.BasicAuth()
			if id != "cid" || secret != "csecret" || r.FormValue("grant_type") != "client_credentials" || r.FormValue("scope") != "read" {
				http.Error(w, "bad client", 401)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","expires_in":60}`)
		case "/metric":
			if r.Header.Get("Authorization") != "Bearer tok" {
				http.Error(w, "no", 403)
				return
			}
			_, _ = io.WriteString(w, "1")
		}
	}))
	defer srv.Close()
	w := v1alpha1.WebMetric{URL: srv.URL + "/metric", Authentication: v1alpha1.Authentication{OAuth2: v1alpha1.OAuth2Config{
		TokenURL: srv.URL + "/token", ClientID: "cid", ClientSecret: "csecret", Scopes: []string{"read"}}}}
	if got := run(t, metric(w, "result == 1")); got.Phase != v1alpha1.AnalysisPhaseSuccessful || tokenRequests != 1 {
		t.Errorf("oauth2: %+v, %d token requests", got, tokenRequests)
	}
	w.Authentication.OAuth2.ClientSecret = "wrong"
	if got := run(t, metric(w, "result == 1")); got.Phase != v1alpha1.AnalysisPhaseError {
		t.Errorf("bad client secret: %+v", got)
	}
}
