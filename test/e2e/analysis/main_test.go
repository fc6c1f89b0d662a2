// Package analysis_test holds the end-to-end tests of AnalysisRuns on their own, against the
// local control plane (test/cluster): a tern-controller of its own (--instance-id
// analysis-e2e, so a shared controller ignores these runs), the traffic simulator
// (test/trafficsim) and a real Prometheus (test/prometheus) scraping it, all started by
// fixture.Main.
package analysis_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/test/e2e/fixture"
)

// instanceID labels every run of this suite; only the suite's own controller handles them.
const instanceID = "analysis-e2e"

func TestMain(m *testing.M) {
	fixture.Main(m, fixture.Options{
		Name:            "analysis-e2e",
		Controller:      true,
		ControllerFlags: []string{"--instance-id", instanceID},
		Analysis:        true,
	})
}

// needPrometheus returns the suite's Prometheus, skipping (or failing, when e2e tests are
// required) without it.
func needPrometheus(t *testing.T) string {
	t.Helper()
	prom, _ := fixture.NeedAnalysis(t)
	return prom
}

// promQuery runs an instant query against the suite's Prometheus and returns the values of
// the resulting vector.
func promQuery(t *testing.T, base, query string) []string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil
	}
	var out []string
	for _, r := range body.Data.Result {
		out = append(out, fmt.Sprint(r.Value[1]))
	}
	return out
}

// givenRun applies an AnalysisRun manifest, labelled for the suite's controller.
func givenRun(t *testing.T, ns, manifest string) *fixture.AnalysisRun {
	t.Helper()
	return fixture.GivenRun(t, ns, instanceID, manifest)
}

// runManifest is an AnalysisRun named name, labelled for the suite's controller, with the
// lines of its spec.
func runManifest(name, spec string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisRun
metadata:
  name: %s
  labels: {argo-rollouts.argoproj.io/controller-instance-id: %s}
spec:
%s`, name, instanceID, spec)
}

func metaList(selector string) metav1.ListOptions { return metav1.ListOptions{LabelSelector: selector} }

func metaObject(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}
