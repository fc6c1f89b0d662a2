package analysis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// givenDeployment runs replicas pods of image labelled app=<app> and
// rollouts-pod-template-hash=<app>, so that the traffic simulator serves traffic for them,
// and waits until they are Ready.
func givenDeployment(t *testing.T, ns, app, image string, replicas int) {
	t.Helper()
	framework.Apply(t, ns, []byte(fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata:
      labels: {app: %[1]s, rollouts-pod-template-hash: %[1]s}
    spec:
      containers: [{name: app, image: %[2]q}]
`, app, image, replicas)))
	cs := framework.Clientset(t)
	framework.Eventually(t, 60*time.Second, func() (bool, string) {
		pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metaList("app="+app))
		if err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, p := range pods.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == replicas, fmt.Sprintf("%d of %d pods of %s ready", ready, replicas, app)
	})
}

// successRate is the PromQL success rate of an app's simulated traffic.
func successRate(ns, app string) string {
	return fmt.Sprintf(`sum(rate(http_requests_total{namespace=%q,app=%q,code!~"5.."}[10s])) / sum(rate(http_requests_total{namespace=%q,app=%q}[10s]))`, ns, app, ns, app)
}

// waitForTraffic waits until Prometheus can compute an app's success rate and returns it.
func waitForTraffic(t *testing.T, prom, ns, app string) float64 {
	t.Helper()
	var rate float64
	framework.Eventually(t, 60*time.Second, func() (bool, string) {
		values := promQuery(t, prom, successRate(ns, app))
		if len(values) != 1 {
			return false, fmt.Sprintf("success rate of %s: %v", app, values)
		}
		v, err := strconv.ParseFloat(values[0], 64)
		rate = v
		return err == nil, values[0]
	})
	return rate
}

// TestTrafficSimSuccessRate: Given a Deployment of a good image and one of a bad image,
// When the traffic simulator serves their traffic to Prometheus, Then the success rate is
// 1 for the good one and about 0.5 for the bad one.
func TestTrafficSimSuccessRate(t *testing.T) {
	t.Parallel()
	prom := needPrometheus(t)
	ns := framework.NewNamespace(t, "trafficsim")
	givenDeployment(t, ns, "good", "nginx:1.25", 2)
	givenDeployment(t, ns, "bad", "nginx:bad-v2", 2)
	if rate := waitForTraffic(t, prom, ns, "good"); rate != 1 {
		t.Errorf("success rate of the good image %v, want 1", rate)
	}
	if rate := waitForTraffic(t, prom, ns, "bad"); rate < 0.45 || rate > 0.55 {
		t.Errorf("success rate of the bad image %v, want about 0.5", rate)
	}
	// Once the series are older than the rate window, 2 pods serve about 20 requests/s.
	framework.Eventually(t, 60*time.Second, func() (bool, string) {
		total := promQuery(t, prom, fmt.Sprintf(`sum(rate(http_requests_total{namespace=%q,app="good"}[10s]))`, ns))
		if len(total) != 1 {
			return false, fmt.Sprintf("request rate %v", total)
		}
		r, _ := strconv.ParseFloat(total[0], 64)
		return r >= 18 && r <= 22, fmt.Sprintf("2 pods serve %v requests/s, want about 20", r)
	})
}

// prometheusRun is a run measuring an app's success rate twice, 2s apart, with the
// namespace taken from the run itself (fieldRef).
func prometheusRun(name, prom, app string) string {
	return fmt.Sprintf(`
apiVersion: argoproj.io/v1alpha1
kind: AnalysisRun
metadata:
  name: %[1]s
  labels: {argo-rollouts.argoproj.io/controller-instance-id: %[4]s}
spec:
  args:
  - name: namespace
    valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
  - name: app
    value: %[3]s
  metrics:
  - name: success-rate
    interval: 2s
    count: 2
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        address: %[2]s
        query: >-
          sum(rate(http_requests_total{namespace="{{args.namespace}}",app="{{args.app}}",code!~"5.."}[10s]))
          / sum(rate(http_requests_total{namespace="{{args.namespace}}",app="{{args.app}}"}[10s]))
`, name, prom, app, instanceID)
}

// TestPrometheusRunSucceeds: Given the traffic of a good image in Prometheus, When a run
// measures its success rate, Then the run is Successful after two measurements.
func TestPrometheusRunSucceeds(t *testing.T) {
	t.Parallel()
	prom := needPrometheus(t)
	ns := framework.NewNamespace(t, "prom-ok")
	givenDeployment(t, ns, "good", "nginx:1.25", 2)
	waitForTraffic(t, prom, ns, "good")
	run := givenRun(t, ns, prometheusRun("ok", prom, "good")).Phase(v1alpha1.AnalysisPhaseSuccessful, 60*time.Second)
	r := run.Status.MetricResults[0]
	if r.Count != 2 || r.Successful != 2 || len(r.Measurements) != 2 || r.Measurements[1].Value != "[1]" {
		t.Errorf("metric result %+v", r)
	}
	if q := r.Metadata["ResolvedPrometheusQuery"]; !strings.Contains(q, `namespace="`+ns+`",app="good"`) {
		t.Errorf("resolved query %q", q)
	}
	if gap := r.Measurements[1].StartedAt.Sub(r.Measurements[0].FinishedAt.Time); gap < time.Second || gap > 4*time.Second {
		t.Errorf("measurements %v apart, want the 2s interval", gap)
	}
	if run.Status.RunSummary != (v1alpha1.RunSummary{Count: 1, Successful: 1}) {
		t.Errorf("runSummary %+v", run.Status.RunSummary)
	}
}

// TestPrometheusRunFailsForBadImage: Given the traffic of an image that fails half its
// requests, When a run measures its success rate, Then it fails at the first measurement.
func TestPrometheusRunFailsForBadImage(t *testing.T) {
	t.Parallel()
	prom := needPrometheus(t)
	ns := framework.NewNamespace(t, "prom-bad")
	givenDeployment(t, ns, "bad", "nginx:bad-v2", 2)
	waitForTraffic(t, prom, ns, "bad")
	run := givenRun(t, ns, prometheusRun("bad", prom, "bad")).Phase(v1alpha1.AnalysisPhaseFailed, 60*time.Second)
	if want := `Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)`; run.Status.Message != want {
		t.Errorf("message %q, want %q", run.Status.Message, want)
	}
	if n := len(run.Status.MetricResults[0].Measurements); n != 1 {
		t.Errorf("%d measurements: a failure ends the run at once", n)
	}
	events := framework.Kubectl(t, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=bad", "-o", "jsonpath={.items[*].reason}")
	if !strings.Contains(events, "MetricFailed") || !strings.Contains(events, "AnalysisRunFailed") {
		t.Errorf("events %q", events)
	}
}

// TestPrometheusDownErrors: Given a run measuring every second against a Prometheus that
// answers, When that Prometheus stops, Then errors are retried and the run ends in Error
// past its consecutiveErrorLimit, never in success.
func TestPrometheusDownErrors(t *testing.T) {
	t.Parallel()
	needPrometheus(t)
	ns := framework.NewNamespace(t, "prom-down")
	prom, stop, err := framework.StartPrometheus("")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ar := givenRun(t, ns, runManifest("down", fmt.Sprintf(`  metrics:
  - name: up
    interval: 1s
    consecutiveErrorLimit: 1
    successCondition: result[0] == 1
    provider:
      prometheus: {address: %q, query: vector(1)}
`, prom)))
	ar.Until("a successful measurement", 30*time.Second, func(run *v1alpha1.AnalysisRun) bool {
		return len(run.Status.MetricResults) > 0 && run.Status.MetricResults[0].Successful > 0
	})
	stop()
	run := ar.Phase(v1alpha1.AnalysisPhaseError, 60*time.Second)
	r := run.Status.MetricResults[0]
	if r.ConsecutiveError != 2 || r.Phase != v1alpha1.AnalysisPhaseError {
		t.Errorf("metric result %+v", r)
	}
	if !strings.HasPrefix(run.Status.Message, `Metric "up" assessed Error due to consecutiveErrors (2) > consecutiveErrorLimit (1): "Error Message: `) ||
		!strings.Contains(run.Status.Message, "connection refused") {
		t.Errorf("message %q", run.Status.Message)
	}
}

// webServer answers /metric with {"data":{"ok":<ok>,"rate":0.99}} to requests bearing the
// token, 401 to others; it listens on 127.0.0.1, where the controller runs too.
func webServer(t *testing.T, token string, ok bool) (string, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "token "+r.Header.Get("Authorization")+" refused", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, fmt.Sprintf(`{"data":{"ok":%v,"rate":0.99}}`, ok))
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String(), &calls
}

// TestWebMetricWithSecretArg: Given a token in a Secret and a web endpoint that wants it,
// When a run calls the endpoint with the token from its args, Then it succeeds, and the
// token appears nowhere in the run.
func TestWebMetricWithSecretArg(t *testing.T) {
	t.Parallel()
	framework.Kubeconfig(t)
	const token = "s3cr3t-t0ken"
	srv, calls := webServer(t, token, true)
	ns := framework.NewNamespace(t, "web")
	framework.Apply(t, ns, []byte(fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: api}
stringData: {token: %q}
`, token)))
	run := givenRun(t, ns, runManifest("web", fmt.Sprintf(`  args:
  - name: token
    valueFrom: {secretKeyRef: {name: api, key: token}}
  metrics:
  - name: ok
    successCondition: result == true
    provider:
      web:
        url: %s/metric
        jsonPath: "{$.data.ok}"
        headers: [{key: Authorization, value: "Bearer {{args.token}}"}]
  - name: rate
    successCondition: result.data.rate >= 0.95
    provider:
      web:
        url: %s/metric
        headers: [{key: Authorization, value: "Bearer {{args.token}}"}]
`, srv, srv))).Phase(v1alpha1.AnalysisPhaseSuccessful, 30*time.Second)
	if calls.Load() != 2 {
		t.Errorf("%d calls, want 2", calls.Load())
	}
	raw, _ := json.Marshal(run)
	if strings.Contains(string(raw), token) {
		t.Errorf("the secret is in the run: %s", raw)
	}
	if v := run.Status.MetricResults[0].Measurements[0].Value; v != "true" {
		t.Errorf("value %q", v)
	}
}

// TestWebMetricSecretRedacted: Given a token in the URL of an unreachable endpoint, When
// the measurement errors with a message quoting the URL, Then the message holds *****
// instead of the token.
func TestWebMetricSecretRedacted(t *testing.T) {
	t.Parallel()
	framework.Kubeconfig(t)
	addr, err := framework.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	srv := "http://" + addr // nothing listens there
	ns := framework.NewNamespace(t, "web-redact")
	framework.Apply(t, ns, []byte(`
apiVersion: v1
kind: Secret
metadata: {name: api}
stringData: {token: wrong-t0ken}
`))
	run := givenRun(t, ns, runManifest("web", fmt.Sprintf(`  args:
  - name: token
    valueFrom: {secretKeyRef: {name: api, key: token}}
  metrics:
  - name: ok
    consecutiveErrorLimit: 0
    provider:
      web:
        url: %s/metric?token={{args.token}}
        headers: [{key: Authorization, value: "Bearer {{args.token}}"}]
`, srv))).Phase(v1alpha1.AnalysisPhaseError, 30*time.Second)
	raw, _ := json.Marshal(run)
	if strings.Contains(string(raw), "wrong-t0ken") || !strings.Contains(run.Status.Message, "*****") {
		t.Errorf("not redacted: %s", run.Status.Message)
	}
}

// TestMissingSecretArg: Given a run whose argument names a Secret that does not exist,
// Then the run ends in Error saying so, without measuring.
func TestMissingSecretArg(t *testing.T) {
	t.Parallel()
	framework.Kubeconfig(t)
	srv, calls := webServer(t, "x", true)
	ns := framework.NewNamespace(t, "web-nosecret")
	run := givenRun(t, ns, runManifest("web", fmt.Sprintf(`  args:
  - name: token
    valueFrom: {secretKeyRef: {name: nope, key: token}}
  metrics:
  - name: ok
    provider:
      web: {url: "%s/metric?t={{args.token}}"}
`, srv))).Phase(v1alpha1.AnalysisPhaseError, 30*time.Second)
	if !strings.HasPrefix(run.Status.Message, "Unable to resolve metric arguments: ") || !strings.Contains(run.Status.Message, `"nope"`) || calls.Load() != 0 {
		t.Errorf("message %q, %d calls", run.Status.Message, calls.Load())
	}
}

// TestDryRunMetric: Given a run with a failing dry-run metric and a passing one, Then the
// run is Successful and the failure is only counted in dryRunSummary.
func TestDryRunMetric(t *testing.T) {
	t.Parallel()
	framework.Kubeconfig(t)
	srv, _ := webServer(t, "t", false)
	ns := framework.NewNamespace(t, "dryrun")
	run := givenRun(t, ns, runManifest("dry", fmt.Sprintf(`  dryRun: [{metricName: would-fail}]
  metrics:
  - name: would-fail
    successCondition: result.data.ok == true
    provider:
      web: {url: %s/metric, headers: [{key: Authorization, value: Bearer t}]}
  - name: passes
    successCondition: result.data.rate > 0.9
    provider:
      web: {url: %s/metric, headers: [{key: Authorization, value: Bearer t}]}
`, srv, srv))).Phase(v1alpha1.AnalysisPhaseSuccessful, 30*time.Second)
	if s := run.Status.DryRunSummary; s == nil || *s != (v1alpha1.RunSummary{Count: 1, Failed: 1}) {
		t.Errorf("dryRunSummary %+v", s)
	}
	if run.Status.RunSummary != (v1alpha1.RunSummary{Count: 1, Successful: 1}) {
		t.Errorf("runSummary %+v", run.Status.RunSummary)
	}
	for _, r := range run.Status.MetricResults {
		if r.Name == "would-fail" && (!r.DryRun || r.Phase != v1alpha1.AnalysisPhaseFailed || r.Message != "Metric assessed Failed due to failed (1) > failureLimit (0)") {
			t.Errorf("dry-run result %+v", r)
		}
	}
}

// TestTerminateAndTTL: Given a run measuring forever, When it is told to terminate, Then it
// ends Successful ("Run Terminated"), and its ttlStrategy deletes it a second later.
func TestTerminateAndTTL(t *testing.T) {
	t.Parallel()
	framework.Kubeconfig(t)
	srv, _ := webServer(t, "t", true)
	ns := framework.NewNamespace(t, "terminate")
	ar := givenRun(t, ns, runManifest("forever", fmt.Sprintf(`  ttlStrategy: {secondsAfterCompletion: 5}
  metrics:
  - name: ok
    interval: 1s
    successCondition: result.data.ok
    provider:
      web: {url: %s/metric, headers: [{key: Authorization, value: Bearer t}]}
`, srv)))
	ar.Until("two measurements", 30*time.Second, func(run *v1alpha1.AnalysisRun) bool {
		return len(run.Status.MetricResults) > 0 && run.Status.MetricResults[0].Count >= 2
	})
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"terminate":true}}`))
	if err := ar.C.Patch(context.Background(), &v1alpha1.AnalysisRun{ObjectMeta: metaObject(ns, "forever")}, patch); err != nil {
		t.Fatal(err)
	}
	// The TTL leaves a few seconds to read the terminated run before it is deleted.
	run := ar.Phase(v1alpha1.AnalysisPhaseSuccessful, 30*time.Second)
	if run.Status.Message != "Run Terminated" {
		t.Errorf("message %q", run.Status.Message)
	}
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		err := ar.C.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "forever"}, &v1alpha1.AnalysisRun{})
		return apierrors.IsNotFound(err), fmt.Sprintf("run still there: %v", err)
	})
}

// jobRun runs a Job metric. kwok completes the pods of Jobs with exit code 0; a Job whose
// pods cannot be scheduled fails when its activeDeadlineSeconds passes.
func jobRun(name string, fail bool) string {
	spec := `{restartPolicy: Never, containers: [{name: check, image: busybox, command: ["true"]}]}`
	deadline := ""
	if fail {
		spec = `{restartPolicy: Never, nodeSelector: {tern.dev/nowhere: "true"}, containers: [{name: check, image: busybox}]}`
		deadline = "activeDeadlineSeconds: 2"
	}
	return fmt.Sprintf(`
apiVersion: argoproj.io/v1alpha1
kind: AnalysisRun
metadata:
  name: %s
  labels: {argo-rollouts.argoproj.io/controller-instance-id: %s}
spec:
  metrics:
  - name: smoke
    provider:
      job:
        metadata:
          labels: {suite: analysis-e2e}
        spec:
          backoffLimit: 0
          %s
          template:
            spec: %s
`, name, instanceID, deadline, spec)
}

// TestJobMetric: Given a Job metric, When the Job completes, Then the run is Successful;
// When the Job fails, Then the run is Failed. The Jobs are owned by their run.
func TestJobMetric(t *testing.T) {
	t.Parallel()
	framework.Kubeconfig(t)
	ns := framework.NewNamespace(t, "job")
	ok := givenRun(t, ns, jobRun("passes", false))
	bad := givenRun(t, ns, jobRun("fails", true))
	okRun := ok.Phase(v1alpha1.AnalysisPhaseSuccessful, 60*time.Second)
	badRun := bad.Phase(v1alpha1.AnalysisPhaseFailed, 60*time.Second)
	if m := badRun.Status.MetricResults[0].Measurements[0]; !strings.Contains(m.Message, "job failed") {
		t.Errorf("failed measurement %+v", m)
	}
	jobs := &batchv1.JobList{}
	if err := ok.C.List(context.Background(), jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{}
	for _, j := range jobs.Items {
		if len(j.OwnerReferences) == 1 && j.Labels["suite"] == "analysis-e2e" {
			owners[string(j.OwnerReferences[0].UID)] = j.Name
		}
	}
	if owners[string(okRun.UID)] != string(okRun.UID)+".smoke.1" || owners[string(badRun.UID)] == "" {
		t.Errorf("jobs by owner %v", owners)
	}
}
