// Package cli_test runs the kubectl plugin as users run it: the built binary, installed on
// PATH as kubectl-argo-rollouts, driven through the real kubectl against the local control
// plane, with a tern-controller of its own.
//
// The controller runs with --instance-id cli-e2e and the test's objects carry that label,
// so the controller shared by the other e2e packages (which handles unlabelled objects
// only) leaves them alone, and this one leaves theirs.
package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/fixture"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// instanceID is the controller instance of this package.
const instanceID = "cli-e2e"

// pluginDir holds kubectl-argo-rollouts; it goes first on kubectl's PATH.
var pluginDir string

func TestMain(m *testing.M) {
	fixture.Main(m, fixture.Options{
		Name:            "cli-e2e",
		Build:           []string{"github.com/tern-rollouts/tern/cmd/kubectl-tern"},
		Setup:           installPlugin,
		Controller:      true,
		ControllerFlags: []string{"--instance-id", instanceID},
	})
}

// installPlugin puts the built plugin on its own PATH directory under the name kubectl
// looks for, `argo rollouts`, as with a release of the upstream plugin.
func installPlugin(dir string) error {
	pluginDir = filepath.Join(dir, "path")
	if err := os.Mkdir(pluginDir, 0o755); err != nil {
		return err
	}
	data, err := os.ReadFile(fixture.Binary("kubectl-tern"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(pluginDir, "kubectl-argo-rollouts"), data, 0o755)
}

// plugin runs `kubectl argo rollouts ARGS -n NS` through the real kubectl, which finds our
// binary on PATH. kubectl takes no flags before a plugin's name, so the kubeconfig goes
// through KUBECONFIG.
type plugin struct {
	t  *testing.T
	ns string
}

func (p plugin) run(args ...string) (stdout, stderr string, err error) {
	p.t.Helper()
	kubeconfig := framework.Kubeconfig(p.t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"argo", "rollouts"}, args...)
	if p.ns != "" {
		argv = append(argv, "-n", p.ns)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(), "kubectl"), argv...)
	cmd.Env = append(os.Environ(), "PATH="+pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+kubeconfig)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// ok runs the plugin and fails the test unless it succeeds.
func (p plugin) ok(args ...string) string {
	p.t.Helper()
	out, errOut, err := p.run(args...)
	if err != nil {
		p.t.Fatalf("kubectl argo rollouts %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// says runs the plugin and fails the test unless it succeeds and prints exactly want.
func (p plugin) says(want string, args ...string) {
	p.t.Helper()
	if out := p.ok(args...); out != want {
		p.t.Fatalf("kubectl argo rollouts %s printed %q, want %q", strings.Join(args, " "), out, want)
	}
}

// until runs the plugin every 500 ms until its standard output contains want, whatever
// its exit status (status exits non-zero on a Degraded rollout).
func (p plugin) until(want string, timeout time.Duration, args ...string) string {
	p.t.Helper()
	var out string
	framework.Eventually(p.t, timeout, func() (bool, string) {
		var errOut string
		var err error
		out, errOut, err = p.run(args...)
		time.Sleep(400 * time.Millisecond)
		return strings.Contains(out, want), fmt.Sprintf("kubectl argo rollouts %s: want %q in stdout %q (stderr %q, err %v)",
			strings.Join(args, " "), want, out, errOut, err)
	})
	return out
}

// seedBlueGreen is the seed's blue-green manifest, labelled for this package's controller.
func seedBlueGreen(t *testing.T) []byte {
	t.Helper()
	data := fixture.ReadFixture(t, "seed-bluegreen.yaml")
	const at = "  name: rollout-bluegreen\nspec:\n"
	if !bytes.Contains(data, []byte(at)) {
		t.Fatalf("seed-bluegreen.yaml changed: no %q to label", at)
	}
	return bytes.Replace(data, []byte(at),
		[]byte("  name: rollout-bluegreen\n  labels:\n    "+v1alpha1.LabelKeyControllerInstanceID+": "+instanceID+"\nspec:\n"), 1)
}

// row returns the fields of the line of a table that starts with name.
func row(table, name string) []string {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return f
		}
	}
	return nil
}

// The seed's blue-green walkthrough, every step through `kubectl argo rollouts`.
func TestBlueGreenWalkthroughThroughKubectl(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "cli-bg")
	argo := plugin{t: t, ns: ns}
	const ro = "rollout-bluegreen"
	c := fixture.Client(t)
	get := fixture.On(t, ns, ro).Get
	const timeout = 90 * time.Second

	if out := argo.ok("version", "--short"); !strings.HasPrefix(out, "kubectl-argo-rollouts: v") {
		t.Fatalf("version --short printed %q", out)
	}

	// Given the seed's Rollout and Services
	framework.Apply(t, ns, seedBlueGreen(t))
	// Then status waits until it is Healthy, and exits 0
	if out := argo.ok("status", ro, "--timeout", "90s"); !strings.HasSuffix(out, "Healthy\n") {
		t.Fatalf("status printed %q", out)
	}
	if f := row(argo.ok("list", "rollouts"), ro); len(f) < 3 || f[1] != "BlueGreen" || f[2] != "Healthy" {
		t.Fatalf("list rollouts: row %q", f)
	}

	// When the image changes
	argo.says(`rollout "rollout-bluegreen" image updated`+"\n", "set", "image", ro, "rollouts-demo=argoproj/rollouts-demo:yellow")
	// Then the rollout pauses before switching, the new version in preview
	argo.until("Paused - BlueGreenPause", timeout, "status", ro, "--watch=false")
	tree := argo.ok("get", "rollout", ro, "--no-color")
	for _, want := range []string{"Status:          ॥ Paused", "argoproj/rollouts-demo:blue (stable, active)", "argoproj/rollouts-demo:yellow (preview)", "# revision:2"} {
		if !strings.Contains(tree, want) {
			t.Fatalf("get rollout lacks %q:\n%s", want, tree)
		}
	}

	// When promoted
	argo.says("rollout 'rollout-bluegreen' promoted\n", "promote", ro)
	// Then it becomes Healthy on the new version
	if out := argo.ok("status", ro, "--timeout", "90s"); !strings.HasSuffix(out, "Healthy\n") {
		t.Fatalf("status printed %q", out)
	}
	argo.until("argoproj/rollouts-demo:yellow (stable, active)", timeout, "get", "rollout", ro, "--no-color")

	// When the next version is aborted
	argo.ok("set", "image", ro, "rollouts-demo=argoproj/rollouts-demo:red")
	argo.until("Paused - BlueGreenPause", timeout, "status", ro, "--watch=false")
	argo.says("rollout 'rollout-bluegreen' aborted\n", "abort", ro)
	// Then the rollout is Degraded, and status says why with a non-zero exit
	argo.until("Degraded\n", timeout, "status", ro, "--watch=false")
	if _, errOut, err := argo.run("status", ro, "--watch=false"); err == nil || !strings.Contains(errOut, "The rollout is in a degraded state with message: RolloutAborted") {
		t.Fatalf("status of a degraded rollout: err %v, stderr %q", err, errOut)
	}
	if f := row(argo.ok("list", "rollouts"), ro); len(f) < 3 || f[2] != "Degraded" {
		t.Fatalf("list rollouts after abort: row %q", f)
	}

	// When retried
	argo.says("rollout 'rollout-bluegreen' retried\n", "retry", "rollout", ro)
	// Then the update starts again and pauses before the switch
	argo.until("Paused - BlueGreenPause", timeout, "status", ro, "--watch=false")

	// When paused by hand, then promoted
	argo.says("rollout 'rollout-bluegreen' paused\n", "pause", ro)
	if !get().Spec.Paused {
		t.Fatal("pause did not set spec.paused")
	}
	argo.says("rollout 'rollout-bluegreen' promoted\n", "promote", ro)
	// Then the promotion clears both pauses and red goes live
	if out := argo.ok("status", ro, "--timeout", "90s"); !strings.HasSuffix(out, "Healthy\n") {
		t.Fatalf("status printed %q", out)
	}
	if r := get(); r.Spec.Paused || r.Spec.Template.Spec.Containers[0].Image != "argoproj/rollouts-demo:red" {
		t.Fatalf("after promote: paused=%v image=%s", r.Spec.Paused, r.Spec.Template.Spec.Containers[0].Image)
	}
	argo.until("argoproj/rollouts-demo:red (stable, active)", timeout, "get", "rollout", ro, "--no-color")

	// When undone
	argo.says("rollout 'rollout-bluegreen' undo\n", "undo", ro)
	// Then the previous template (yellow) comes back, through the usual pause
	if img := get().Spec.Template.Spec.Containers[0].Image; img != "argoproj/rollouts-demo:yellow" {
		t.Fatalf("undo set the image to %s", img)
	}
	framework.Eventually(t, timeout, func() (bool, string) {
		out, _, _ := argo.run("status", ro, "--watch=false")
		if strings.HasPrefix(out, "Paused") {
			argo.ok("promote", ro)
		}
		return strings.HasPrefix(out, "Healthy") && get().Status.StableRS == get().Status.CurrentPodHash, "status " + out
	})
	argo.until("argoproj/rollouts-demo:yellow (stable, active)", timeout, "get", "rollout", ro, "--no-color")
	// READY counts the old version's pods too until its scale-down delay passes.
	if f := row(argo.ok("list", "rollouts"), ro); len(f) < 9 || f[2] != "Healthy" || f[6] != "2" || f[8] != "2" {
		t.Fatalf("list rollouts at the end: row %q", f)
	}

	// When restarted
	pods := func() (names map[string]bool, ready int) {
		list := &corev1.PodList{}
		if err := c.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{"app": "rollout-bluegreen"}); err != nil {
			t.Fatal(err)
		}
		names = map[string]bool{}
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			names[p.Name] = true
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return names, ready
	}
	before, _ := pods()
	time.Sleep(time.Second) // pod creation times have a resolution of one second
	argo.says("rollout 'rollout-bluegreen' restarts in 0s\n", "restart", ro)
	// Then every pod is replaced through evictions and the status records the restart
	framework.Eventually(t, timeout, func() (bool, string) {
		now, ready := pods()
		stale := 0
		for n := range now {
			if before[n] {
				stale++
			}
		}
		r := get()
		done := r.Status.RestartedAt != nil && r.Spec.RestartAt != nil && !r.Status.RestartedAt.Before(r.Spec.RestartAt)
		return done && stale == 0 && ready >= 2, fmt.Sprintf("restartedAt %v, %d pods (%d from before the restart), %d ready", r.Status.RestartedAt, len(now), stale, ready)
	})
	if out := argo.ok("status", ro, "--watch=false"); !strings.HasPrefix(out, "Healthy") {
		t.Fatalf("status after the restart: %q", out)
	}
}

// analysisManifest is an AnalysisTemplate whose metric reads the API server's /version
// (served to anonymous clients) every second until terminated, with an argument from a
// Secret sent as a header the API server ignores.
const analysisManifest = `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: version-check
spec:
  args:
  - name: server
  - name: token
    valueFrom:
      secretKeyRef: {name: cli-e2e-token, key: token}
  metrics:
  - name: major
    interval: 1s
    successCondition: result == "1"
    provider:
      web:
        url: "{{args.server}}/version"
        insecure: true
        jsonPath: "{$.major}"
        headers:
        - key: X-Tern-Test
          value: "{{args.token}}"
`

// AnalysisRuns made, shown and stopped through the plugin; lint and create offline and
// online.
func TestAnalysisRunThroughKubectl(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "cli-ar")
	argo := plugin{t: t, ns: ns}
	const secret = "s3cr3t-t0ken-value"
	framework.Apply(t, ns, []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: cli-e2e-token}\nstringData: {token: "+secret+"}\n"))

	dir := t.TempDir()
	tmpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tmpl, []byte(analysisManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	// lint needs no cluster; a typo is caught with its path.
	argo.says("", "lint", "-f", tmpl)
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(analysisManifest, "interval:", "intreval:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, err := argo.run("lint", "-f", bad); err == nil || out != bad+": AnalysisTemplate/version-check: spec.metrics[0].intreval: unknown field\n" {
		t.Fatalf("lint of a typo: err %v, stdout %q", err, out)
	}

	argo.says("analysistemplate.argoproj.io/version-check created\n", "create", "-f", tmpl)
	// A run without its argument is refused, naming it.
	if _, errOut, err := argo.run("create", "analysisrun", "--from", "version-check"); err == nil || !strings.Contains(errOut, "pass it with -a server=VALUE") {
		t.Fatalf("create analysisrun without args: err %v, stderr %q", err, errOut)
	}
	server := strings.TrimSuffix(framework.Config(t).Host, "/")
	argo.says("analysisrun.argoproj.io/check created\n", "create", "analysisrun", "--from", "version-check",
		"-a", "server="+server, "--name", "check", "--instance-id", instanceID)

	// The controller measures; get analysisrun shows the measurements, never the secret.
	out := argo.until("  Measurements:  ✔ 2", 60*time.Second, "get", "analysisrun", "check", "--no-color")
	for _, want := range []string{"Status:          ◌ Running", "server=" + server, "token=<secret>", "Metric:          major", `✔ Successful  "1"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("get analysisrun lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, secret) {
		t.Fatalf("get analysisrun printed the secret:\n%s", out)
	}

	// When terminated, the run ends Successful on the measurements it has.
	argo.says("analysisrun 'check' terminated\n", "terminate", "analysisrun", "check")
	out = argo.until("Status:          ✔ Successful", 60*time.Second, "get", "ar", "check", "--no-color")
	if !strings.Contains(out, "Terminated:      true") {
		t.Fatalf("get analysisrun after terminate:\n%s", out)
	}

	// No experiment here: list says so on stderr, like kubectl.
	if out, errOut, err := argo.run("list", "experiments"); err != nil || out != "" || errOut != "No resources found.\n" {
		t.Fatalf("list experiments: err %v, stdout %q, stderr %q", err, out, errOut)
	}
}
