package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/fixture"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// badCase is one malformed object of the corpus and what the user must be told.
type badCase struct {
	name     string
	manifest string
	// kubectl is the kubectl command that sends it; nil is a server-side apply, which
	// refuses fields the schema does not declare whatever the client asks.
	kubectl []string
	// apiError: the API server refuses the manifest with an error containing each of these.
	apiError []string
	// invalidSpec: the Rollout named name is accepted, then gets the InvalidSpec condition
	// with a message containing each of these, and no ReplicaSet.
	invalidSpec []string
	// runError: the AnalysisRun named name ends Error (or Failed) with a message containing
	// each of these.
	runError []string
	// healthy: the Rollout named name is accepted and becomes Healthy.
	healthy bool
}

// badRollout is a canary Rollout named name with spec lines replaced: the keys of edits are
// lines of the valid manifest, the values what to put instead.
func badRollout(name string, edits map[string]string) string {
	m := framework.Rollout{Name: name, Image: "nginx:1", Replicas: 2}.Manifest("canary:\n  steps:\n  - setWeight: 50\n  - pause: {duration: 1}")
	for old, repl := range edits {
		if !strings.Contains(m, old) {
			panic(fmt.Sprintf("badRollout %s: no line %q to replace", name, old))
		}
		m = strings.Replace(m, old, repl, 1)
	}
	return m
}

// TestBadInput applies a corpus of malformed Rollouts, templates and runs next to a healthy
// rollout. Each one must be refused by the API server with an error naming the field, or get
// InvalidSpec (runs: Error) with a message that says what to fix, while the controller keeps
// serving the healthy rollout: it completes an update once the whole corpus is in.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "badinput")
	mon := framework.StartMonitor(t, ns)
	good := fixture.Given(t, ns, "good", framework.CanaryManifest("good", "nginx:1", 2, "steps:\n- setWeight: 50\n- pause: {duration: 1}"))
	good.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	web := valueServer(t)

	cases := []badCase{
		// Wrong types: the schema refuses them, naming the field and the type it wants.
		{name: "replicas-string", manifest: badRollout("replicas-string", map[string]string{"replicas: 2": "replicas: three"}),
			apiError: []string{".spec.replicas: expected numeric (int or float), got string"}},
		{name: "replicas-string-create", manifest: badRollout("replicas-string-create", map[string]string{"replicas: 2": "replicas: three"}),
			kubectl: []string{"create"}, apiError: []string{"spec.replicas", "must be of type integer"}},
		{name: "weight-string", manifest: badRollout("weight-string", map[string]string{"setWeight: 50": "setWeight: fifty"}),
			apiError: []string{".spec.strategy.canary.steps[0].setWeight: expected numeric"}},
		{name: "containers-not-a-list", manifest: badRollout("containers-not-a-list", map[string]string{"      - name: app\n        image: nginx:1": "        app: {image: nginx:1}"}),
			apiError: []string{".spec.template.spec.containers: expected list"}},
		{name: "pause-object-as-list", manifest: badRollout("pause-object-as-list", map[string]string{"pause: {duration: 1}": "pause: [1]"}),
			apiError: []string{".spec.strategy.canary.steps[1].pause: expected map"}},
		{name: "negative-replicas", manifest: badRollout("negative-replicas", map[string]string{"replicas: 2": "replicas: -1"}),
			apiError: []string{"spec.replicas", "-1", "non-negative"}},
		{name: "no-strategy", manifest: badRollout("no-strategy", map[string]string{"  strategy:\n    canary:\n      steps:\n      - setWeight: 50\n      - pause: {duration: 1}\n": ""}),
			apiError: []string{"spec.strategy: Required value"}},
		{name: "template-no-provider", manifest: `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: no-provider}
spec:
  metrics: [{name: m, successCondition: "result > 0"}]
`, apiError: []string{"spec.metrics[0].provider: Required value"}},
		// Unknown step kinds: refused by name by a server-side apply, or a create with
		// kubectl's strict field validation; a client that skips validation has them
		// pruned, leaving an empty step, which the controller reports.
		{name: "unknown-step", manifest: badRollout("unknown-step", map[string]string{"- setWeight: 50": "- rampTo: 50"}),
			apiError: []string{".spec.strategy.canary.steps[0].rampTo: field not declared in schema"}},
		{name: "unknown-step-create", manifest: badRollout("unknown-step-create", map[string]string{"- setWeight: 50": "- rampTo: 50"}),
			kubectl: []string{"create"}, apiError: []string{`unknown field "spec.strategy.canary.steps[0].rampTo"`}},
		{name: "unknown-step-pruned", manifest: badRollout("unknown-step-pruned", map[string]string{"- setWeight: 50": "- rampTo: 50"}),
			kubectl:     []string{"create", "--validate=false"},
			invalidSpec: []string{"spec.strategy.canary.steps[0]", "Step must have one of the following set"}},
		// Values the schema cannot judge: InvalidSpec, with the path and what to change.
		{name: "weight-over-100", manifest: badRollout("weight-over-100", map[string]string{"setWeight: 50": "setWeight: 150"}),
			invalidSpec: []string{"spec.strategy.canary.steps[0].setWeight", "SetWeight needs to be between 0 and 100"}},
		{name: "negative-weight", manifest: badRollout("negative-weight", map[string]string{"setWeight: 50": "setWeight: -5"}),
			invalidSpec: []string{"steps[0].setWeight", "SetWeight needs to be between 0 and 100"}},
		{name: "pause-not-a-duration", manifest: badRollout("pause-not-a-duration", map[string]string{"pause: {duration: 1}": "pause: {duration: 5x}"}),
			invalidSpec: []string{"steps[1].pause.duration", "30s"}},
		{name: "negative-pause", manifest: badRollout("negative-pause", map[string]string{"pause: {duration: 1}": "pause: {duration: -10}"}),
			invalidSpec: []string{"steps[1].pause.duration", "Duration needs to be greater than 0"}},
		{name: "surge-not-a-number", manifest: badRollout("surge-not-a-number", map[string]string{"    canary:\n": "    canary:\n      maxSurge: lots\n"}),
			invalidSpec: []string{"spec.strategy.canary.maxSurge", `must be an integer or a percentage such as "25%"`}},
		{name: "surge-and-unavailable-zero", manifest: badRollout("surge-and-unavailable-zero", map[string]string{"    canary:\n": "    canary:\n      maxSurge: 0\n      maxUnavailable: 0\n"}),
			invalidSpec: []string{"MaxSurge and MaxUnavailable both can not be zero"}},
		{name: "unavailable-over-100", manifest: badRollout("unavailable-over-100", map[string]string{"    canary:\n": "    canary:\n      maxUnavailable: 150%\n"}),
			invalidSpec: []string{"spec.strategy.canary.maxUnavailable", "must not be greater than 100%"}},
		{name: "selector-mismatch", manifest: badRollout("selector-mismatch", map[string]string{"matchLabels: {app: selector-mismatch}": "matchLabels: {app: other}"}),
			invalidSpec: []string{"`selector` does not match template `labels`"}},
		{name: "negative-history", manifest: badRollout("negative-history", map[string]string{"replicas: 2": "replicas: 2\n  revisionHistoryLimit: -3"}),
			invalidSpec: []string{"spec.revisionHistoryLimit", "must be greater than or equal to 0"}},
		{name: "deadline-below-min-ready", manifest: badRollout("deadline-below-min-ready", map[string]string{"replicas: 2": "replicas: 2\n  minReadySeconds: 30\n  progressDeadlineSeconds: 10"}),
			invalidSpec: []string{"spec.progressDeadlineSeconds", "must be greater than minReadySeconds"}},
		// Missing Services and templates: named, so that the user knows what to create.
		{name: "missing-services", manifest: badRollout("missing-services", map[string]string{"    canary:\n": "    canary:\n      canaryService: nowhere-canary\n      stableService: nowhere-stable\n"}),
			invalidSpec: []string{`spec.strategy.canary.canaryService: Invalid value: "nowhere-canary"`, `"nowhere-canary" not found`, `"nowhere-stable" not found`}},
		{name: "bluegreen-missing-active", manifest: strings.Replace(badRollout("bluegreen-missing-active", nil),
			"    canary:\n      steps:\n      - setWeight: 50\n      - pause: {duration: 1}\n", "    blueGreen:\n      activeService: nowhere-active\n", 1),
			invalidSpec: []string{"spec.strategy.blueGreen.activeService", `"nowhere-active" not found`}},
		{name: "bluegreen-same-services", manifest: strings.Replace(badRollout("bluegreen-same-services", nil),
			"    canary:\n      steps:\n      - setWeight: 50\n      - pause: {duration: 1}\n", "    blueGreen:\n      activeService: same\n      previewService: same\n", 1),
			invalidSpec: []string{"two different services are required"}},
		{name: "missing-template", manifest: badRollout("missing-template", map[string]string{"- pause: {duration: 1}": "- analysis: {templates: [{templateName: nowhere}]}"}),
			invalidSpec: []string{"steps[1].analysis.templates[0].templateName", `analysistemplates.argoproj.io "nowhere" not found`}},
		// Templates with mistakes: reported on the rollout that uses them.
		{name: "template-negative-count", manifest: badTemplate("negative-count", "count: -2\n    interval: 1s") +
			"---\n" + badRollout("template-negative-count", map[string]string{"- pause: {duration: 1}": "- analysis: {templates: [{templateName: negative-count}]}"}),
			invalidSpec: []string{"count", "must be greater than or equal to 0"}},
		{name: "template-interval-not-a-duration", manifest: badTemplate("interval-not-a-duration", "count: 2\n    interval: soon") +
			"---\n" + badRollout("template-interval-not-a-duration", map[string]string{"- pause: {duration: 1}": "- analysis: {templates: [{templateName: interval-not-a-duration}]}"}),
			invalidSpec: []string{"interval", `must be a duration with a unit such as "30s"`}},
		{name: "template-missing-arg", manifest: `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: needs-arg}
spec:
  args: [{name: service}]
  metrics: [{name: m, provider: {web: {url: "http://127.0.0.1:1/{{args.service}}"}}}]
---
` + badRollout("template-missing-arg", map[string]string{"- pause: {duration: 1}": "- analysis: {templates: [{templateName: needs-arg}]}"}),
			invalidSpec: []string{"service"}},
		// Runs: a condition that does not compile, durations and counts that cannot be read.
		{name: "run-condition-does-not-compile", manifest: badRun("run-condition-does-not-compile", web, `successCondition: "result >"`),
			runError: []string{"successCondition", "result >"}},
		{name: "run-condition-not-boolean", manifest: badRun("run-condition-not-boolean", web, `successCondition: "result + 1"`),
			runError: []string{"successCondition", "result + 1"}},
		{name: "run-interval-not-a-duration", manifest: badRun("run-interval-not-a-duration", web, "count: 2\n    interval: forever"),
			runError: []string{"interval", "forever"}},
		{name: "run-negative-count", manifest: badRun("run-negative-count", web, "count: -1"),
			runError: []string{"count", "must be greater than or equal to 0"}},
		// A rollout whose analysis condition does not compile: the run errors, the update
		// never reaches the new version (the monitor checks that), and the run says why.
		{name: "rollout-condition-does-not-compile", manifest: badTemplate("bad-condition", fmt.Sprintf(`successCondition: "result >>> 1"
    provider:
      web: {url: %q, jsonPath: "{$.value}"}`, web)) + "---\n" +
			badRollout("rollout-condition-does-not-compile", map[string]string{"- pause: {duration: 1}": "- analysis: {templates: [{templateName: bad-condition}]}"}),
			healthy: true},
		// Size: a manifest above the API server's request limit (3 MiB) or etcd's (1.5 MiB)
		// is refused; one of about 1 MiB is served like any other, pods and all.
		{name: "huge-over-limit", manifest: hugeRollout("huge-over-limit", 3<<20),
			apiError: []string{"Request entity too large: limit is 3145728"}},
		{name: "huge-over-etcd-limit", manifest: hugeRollout("huge-over-etcd-limit", 2<<20),
			// etcd refuses it itself ("request is too large"), or the API server's etcd
			// client does before sending it, depending on which limit is lower.
			apiError: []string{"request is too large|larger than max"}},
		{name: "huge-near-limit", manifest: hugeRollout("huge-near-limit", 1<<20),
			healthy: true},
	}

	for _, tc := range cases {
		err := kubectlApply(t, ns, tc.manifest, tc.kubectl...)
		switch {
		case len(tc.apiError) > 0:
			if err == nil {
				t.Errorf("%s: accepted by the API server, want an error containing %q", tc.name, tc.apiError)
				continue
			}
			for _, want := range tc.apiError {
				if !containsAny(err.Error(), strings.Split(want, "|")) {
					t.Errorf("%s: API error does not say %q:\n%v", tc.name, want, err)
				}
			}
			t.Logf("%s: refused: %v", tc.name, err)
		case err != nil:
			t.Errorf("%s: refused by the API server, want it accepted: %v", tc.name, err)
		}
	}

	c := fixture.Client(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			switch {
			case len(tc.invalidSpec) > 0:
				expectInvalidSpec(t, c, ns, tc.name, tc.invalidSpec)
			case len(tc.runError) > 0:
				expectRunError(t, c, ns, tc.name, tc.runError)
			case tc.healthy:
				fixture.On(t, ns, tc.name).Phase(v1alpha1.RolloutPhaseHealthy, 3*timeout)
			}
		})
	}
	// The rollout whose analysis cannot compile: updated, its run errors and it aborts.
	t.Run("rollout-condition-does-not-compile/update", func(t *testing.T) {
		r := fixture.On(t, ns, "rollout-condition-does-not-compile")
		stable := r.Get().Status.StableRS
		r.SetImage("nginx:2")
		ro := r.Until("aborted by its errored analysis", 3*timeout, func(ro *v1alpha1.Rollout) bool {
			return ro.Status.Abort && ro.Status.Phase == v1alpha1.RolloutPhaseDegraded
		})
		if ro.Status.StableRS != stable {
			t.Errorf("stable moved from %s to %s", stable, ro.Status.StableRS)
		}
		runs := &v1alpha1.AnalysisRunList{}
		if err := c.List(context.Background(), runs, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, run := range runs.Items {
			if run.Labels[v1alpha1.DefaultRolloutUniqueLabelKey] == ro.Status.CurrentPodHash && ownedBy(run.OwnerReferences, r.Name) {
				found = true
				if run.Status.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(run.Status.Message, "result >>> 1") {
					t.Errorf("run %s: %s %q, want Error naming the condition", run.Name, run.Status.Phase, run.Status.Message)
				}
			}
		}
		if !found {
			t.Error("no AnalysisRun of the new version")
		}
	})

	// And the controller still serves the healthy rollout: an update completes.
	good.SetImage("nginx:2")
	ro := good.Until("the healthy rollout's update complete", 3*timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && fixture.Observed(ro) &&
			ro.Spec.Template.Spec.Containers[0].Image == "nginx:2" && ro.Status.StableRS == ro.Status.CurrentPodHash
	})
	if s := good.Selector("good-stable"); s != ro.Status.CurrentPodHash {
		t.Errorf("good-stable selects %q, want %q", s, ro.Status.CurrentPodHash)
	}
	mon.AssertNone(t)
}

func ownedBy(refs []metav1.OwnerReference, name string) bool {
	for _, r := range refs {
		if r.Kind == "Rollout" && r.Name == name {
			return true
		}
	}
	return false
}

// expectInvalidSpec waits for the InvalidSpec condition of a Rollout and checks its message,
// the phase and that nothing was created for it.
func expectInvalidSpec(t *testing.T, c client.Client, ns, name string, want []string) {
	t.Helper()
	r := fixture.On(t, ns, name)
	var cond *v1alpha1.RolloutCondition
	ro := r.Until("InvalidSpec", timeout, func(ro *v1alpha1.Rollout) bool {
		cond = nil
		for i := range ro.Status.Conditions {
			if ro.Status.Conditions[i].Type == v1alpha1.InvalidSpec && ro.Status.Conditions[i].Status == corev1.ConditionTrue {
				cond = &ro.Status.Conditions[i]
			}
		}
		return cond != nil && fixture.Observed(ro)
	})
	for _, w := range want {
		if !strings.Contains(cond.Message, w) {
			t.Errorf("InvalidSpec message does not say %q: %s", w, cond.Message)
		}
	}
	if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || !strings.HasPrefix(ro.Status.Message, "InvalidSpec: ") {
		t.Errorf("phase %s message %q, want Degraded with the InvalidSpec message", ro.Status.Phase, ro.Status.Message)
	}
	for rs := range r.ReplicaSets() {
		if strings.HasPrefix(rs, name+"-") {
			t.Errorf("replicaset %s created for an invalid rollout", rs)
		}
	}
	t.Logf("%s: %s", name, cond.Message)
}

// expectRunError waits for an AnalysisRun to end and checks it ended Error or Failed with
// a message saying what is wrong.
func expectRunError(t *testing.T, c client.Client, ns, name string, want []string) {
	t.Helper()
	run := &v1alpha1.AnalysisRun{}
	framework.Eventually(t, timeout, func() (bool, string) {
		if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, run); err != nil {
			return false, err.Error()
		}
		return run.Status.Phase.Completed(), fmt.Sprintf("run %s: %s %q", name, run.Status.Phase, run.Status.Message)
	})
	if p := run.Status.Phase; p != v1alpha1.AnalysisPhaseError && p != v1alpha1.AnalysisPhaseFailed {
		t.Errorf("run ended %s, want Error or Failed: %s", p, run.Status.Message)
	}
	msg := run.Status.Message
	for _, mr := range run.Status.MetricResults {
		msg += " | " + mr.Message
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("run message does not say %q: %s", w, msg)
		}
	}
	t.Logf("%s: %s %s", name, run.Status.Phase, msg)
}

// badTemplate is an AnalysisTemplate with one metric; metric holds its lines after the name
// (a web provider to a closed port unless they give one).
func badTemplate(name, metric string) string {
	if !strings.Contains(metric, "provider:") {
		metric += "\n    provider:\n      web: {url: \"http://127.0.0.1:1/\"}"
	}
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: %s}
spec:
  metrics:
  - name: m
    %s
`, name, metric)
}

// badRun is an AnalysisRun measuring url once with metric's extra lines.
func badRun(name, url, metric string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisRun
metadata: {name: %s}
spec:
  metrics:
  - name: m
    %s
    provider:
      web: {url: %q, jsonPath: "{$.value}"}
`, name, metric, url)
}

// hugeRollout is a valid Rollout whose pod template carries about size bytes of
// environment, in values of 100 KiB.
func hugeRollout(name string, size int) string {
	var env strings.Builder
	value := strings.Repeat("x", 100<<10)
	for i := 0; i*len(value) < size; i++ {
		fmt.Fprintf(&env, "        - {name: V%d, value: %s}\n", i, value)
	}
	return strings.Replace(badRollout(name, nil), "        image: nginx:1\n", "        image: nginx:1\n        env:\n"+env.String(), 1)
}

// valueServer answers {"value": 1} to anything, for runs that must get as far as evaluating
// their conditions.
func valueServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"value": 1}`)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String() + "/"
}

// kubectlApply sends a manifest as a user would, with command (default: a server-side apply)
// and kubectl's default strict field validation unless command says otherwise, and returns
// kubectl's error, stderr included.
func kubectlApply(t *testing.T, ns, manifest string, command ...string) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(command) == 0 {
		command = []string{"apply", "--server-side", "--field-manager", "tern-e2e-badinput"}
	}
	_, err := framework.KubectlE(t, append(command, "-n", ns, "-f", path)...)
	if err != nil && len(err.Error()) > 2000 {
		// Some errors quote the whole object; the start says what is wrong.
		return fmt.Errorf("%s ...[%d bytes more]", err.Error()[:2000], len(err.Error())-2000)
	}
	return err
}

// containsAny reports whether s contains one of the alternatives.
func containsAny(s string, alternatives []string) bool {
	for _, a := range alternatives {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}
