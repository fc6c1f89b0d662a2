package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// TestPlantedSecret: a token reaches an analysis only through secretKeyRef, and is used in a
// header and in the URL of web metrics, one of which fails with an error that quotes the URL.
// After an update whose analysis step used it, the token appears nowhere an operator or a user
// reads: the controller's log (debug level), the namespace's Events, the Rollout and its
// AnalysisRuns as stored, and the plugin's `get rollout` and `get analysisrun` output.
func TestPlantedSecret(t *testing.T) {
	framework.Kubeconfig(t)
	secret := fmt.Sprintf("planted%dtoken", time.Now().UnixNano())
	srv := tokenServer(t, secret)
	ns, id, mon := newScenario(t, "chaos-secret")
	ctl := startController(t, "controller", ns, id)
	framework.Apply(t, ns, fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata: {name: api}
stringData: {token: %q}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: with-secret}
spec:
  args:
  - name: token
    valueFrom: {secretKeyRef: {name: api, key: token}}
  dryRun: [{metricName: echoes-url}]
  metrics:
  - name: authorized
    successCondition: result == true
    provider:
      web:
        url: "%[2]s/ok?token={{args.token}}"
        jsonPath: "{$.ok}"
        headers: [{key: Authorization, value: "Bearer {{args.token}}"}]
  - name: echoes-url
    successCondition: result == true
    provider:
      web:
        url: "%[2]s/fail?token={{args.token}}"
        headers: [{key: Authorization, value: "Bearer {{args.token}}"}]
`, secret, srv))
	framework.Apply(t, ns, []byte(framework.WithInstanceID(framework.CanaryManifest("app", "nginx:1", 2, `steps:
- setWeight: 50
- analysis: {templates: [{templateName: with-secret}]}`), "app", id)))
	r := newRollout(t, ns, "app")
	r.WaitDone("nginx:1", updateTimeout)
	r.SetImage("nginx:2")
	r.WaitDone("nginx:2", updateTimeout)

	where := map[string]string{}
	log, err := os.ReadFile(ctl.Log)
	if err != nil {
		t.Fatal(err)
	}
	where["the controller's log"] = string(log)
	events := &corev1.EventList{}
	if err := r.C.List(context.Background(), events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	where["Events"] = mustJSON(t, events)
	where["the Rollout"] = mustJSON(t, r.Get())
	runs := &v1alpha1.AnalysisRunList{}
	if err := r.C.List(context.Background(), runs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(runs.Items) == 0 {
		t.Fatal("no AnalysisRun: the analysis step did not run")
	}
	where["AnalysisRuns"] = mustJSON(t, runs)
	plugin := buildPlugin(t)
	where["kubectl tern get rollout"] = runPlugin(t, plugin, "get", "rollout", "app", "-n", ns)
	for _, run := range runs.Items {
		where["kubectl tern get analysisrun "+run.Name] = runPlugin(t, plugin, "get", "analysisrun", run.Name, "-n", ns)
	}
	// The failing metric must have had its say, or there is no error message to check.
	if !strings.Contains(where["AnalysisRuns"], "/fail?token=") {
		t.Errorf("no measurement of echoes-url quotes its URL: the error path was not exercised:\n%s", where["AnalysisRuns"])
	}
	for place, text := range where {
		if i := strings.Index(text, secret); i >= 0 {
			t.Errorf("the secret is in %s: ...%s...", place, text[max(0, i-200):min(len(text), i+len(secret)+50)])
		}
	}
	mon.AssertNone(t)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// tokenServer answers /ok with {"ok": true} to requests bearing the token (401 otherwise), and
// /fail with a 500 that quotes the request's URL, token included, as careless servers do.
func tokenServer(t *testing.T, token string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/ok" {
			_, _ = io.WriteString(w, `{"ok": true}`)
			return
		}
		http.Error(w, "upstream failed for "+r.URL.String(), http.StatusInternalServerError)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String()
}

func buildPlugin(t *testing.T) string {
	t.Helper()
	bin, err := framework.BuildBinary(t.TempDir(), "github.com/tern-rollouts/tern/cmd/kubectl-tern")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func runPlugin(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append(args, "--kubeconfig", framework.Kubeconfig(t))...).CombinedOutput()
	if err != nil {
		t.Errorf("kubectl-tern %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
