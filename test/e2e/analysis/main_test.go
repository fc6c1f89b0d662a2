// Package analysis_test holds the end-to-end tests of AnalysisRuns on their own, against the
// local control plane (test/cluster): a tern-controller of its own (--instance-id
// analysis-e2e, so a shared controller ignores these runs), the traffic simulator
// (test/trafficsim) and a real Prometheus (test/prometheus) scraping it.
package analysis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// instanceID labels every run of this suite; only the suite's own controller handles them.
const instanceID = "analysis-e2e"

var (
	scheme = k8sruntime.NewScheme()
	// promURL is the suite's Prometheus, promErr why there is none.
	promURL string
	promErr error
)

func TestMain(m *testing.M) {
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	os.Exit(run(m))
}

func run(m *testing.M) int {
	kubeconfig := os.Getenv(framework.EnvKubeconfig)
	if kubeconfig == "" {
		return m.Run() // the tests skip (or fail, when required) on their own
	}
	dir, err := os.MkdirTemp("", "tern-analysis-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	controllerBin, err := framework.BuildBinary(dir, "github.com/tern-rollouts/tern/cmd/tern-controller")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sim, simAddr, err := framework.StartTrafficSim(dir, kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer sim.Stop()

	var stopProm func()
	promURL, stopProm, promErr = framework.StartPrometheus(simAddr)
	if promErr != nil {
		fmt.Fprintln(os.Stderr, "no Prometheus, its tests will skip:", promErr)
	} else {
		defer stopProm()
	}

	ctl, err := framework.StartProcess(filepath.Join(dir, "controller.log"), controllerBin,
		framework.ControllerArgs(kubeconfig, "--instance-id", instanceID)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	ctl.Stop()
	if code != 0 {
		ctl.DumpLog(150)
	}
	return code
}

// needPrometheus skips (or fails, when e2e tests are required) without the suite's
// Prometheus.
func needPrometheus(t *testing.T) string {
	t.Helper()
	framework.Kubeconfig(t)
	if promErr != nil {
		if os.Getenv(framework.EnvRequired) == "1" {
			t.Fatalf("no Prometheus: %v", promErr)
		}
		t.Skipf("no Prometheus: %v", promErr)
	}
	return promURL
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

var (
	clientMu sync.Mutex
	shared   client.Client
)

// newClient returns the suite's client, built once: parallel tests building their own
// raced inside client.New.
func newClient(t testing.TB) client.Client {
	t.Helper()
	clientMu.Lock()
	defer clientMu.Unlock()
	if shared == nil {
		c, err := client.New(framework.Config(t), client.Options{Scheme: scheme})
		if err != nil {
			t.Fatal(err)
		}
		shared = c
	}
	return shared
}

// analysisRun is a handle on one AnalysisRun under test.
type analysisRun struct {
	t    *testing.T
	c    client.Client
	ns   string
	name string
}

// givenRun applies an AnalysisRun manifest, labelled for the suite's controller.
func givenRun(t *testing.T, ns, manifest string) *analysisRun {
	t.Helper()
	objs := framework.Apply(t, ns, []byte(manifest))
	for _, o := range objs {
		if o.GetKind() == "AnalysisRun" {
			if o.GetLabels()[v1alpha1.LabelKeyControllerInstanceID] != instanceID {
				t.Fatalf("AnalysisRun %s lacks the label %s: %s", o.GetName(), v1alpha1.LabelKeyControllerInstanceID, instanceID)
			}
			return &analysisRun{t: t, c: newClient(t), ns: ns, name: o.GetName()}
		}
	}
	t.Fatal("no AnalysisRun in the manifest")
	return nil
}

func (r *analysisRun) get() *v1alpha1.AnalysisRun {
	r.t.Helper()
	run := &v1alpha1.AnalysisRun{}
	if err := r.c.Get(context.Background(), types.NamespacedName{Namespace: r.ns, Name: r.name}, run); err != nil {
		r.t.Fatalf("reading analysisrun %s/%s: %v", r.ns, r.name, err)
	}
	return run
}

// until waits for a condition on the run, showing its status on timeout.
func (r *analysisRun) until(what string, timeout time.Duration, cond func(*v1alpha1.AnalysisRun) bool) *v1alpha1.AnalysisRun {
	r.t.Helper()
	var last *v1alpha1.AnalysisRun
	framework.Eventually(r.t, timeout, func() (bool, string) {
		last = r.get()
		status, _ := json.Marshal(last.Status)
		return cond(last), fmt.Sprintf("waiting for %s; status %s", what, status)
	})
	return last
}

func (r *analysisRun) phase(p v1alpha1.AnalysisPhase, timeout time.Duration) *v1alpha1.AnalysisRun {
	r.t.Helper()
	run := r.until("phase "+string(p), timeout, func(run *v1alpha1.AnalysisRun) bool {
		return run.Status.Phase == p || run.Status.Phase.Completed()
	})
	if run.Status.Phase != p {
		status, _ := json.MarshalIndent(run.Status, "", "  ")
		r.t.Fatalf("analysisrun %s phase %s, want %s; status:\n%s", run.Name, run.Status.Phase, p, status)
	}
	return run
}

func metaList(selector string) metav1.ListOptions { return metav1.ListOptions{LabelSelector: selector} }

func metaObject(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}
