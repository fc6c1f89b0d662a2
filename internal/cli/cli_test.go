package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/rolloutinfo/fixture"
	ternscheme "github.com/tern-rollouts/tern/internal/scheme"
)

const fixtures = "../rolloutinfo/testdata"

// syncBuffer lets a test read what a running watch has written so far.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness runs commands against a fake API server holding the objects of a fixture.
type harness struct {
	t      *testing.T
	client client.WithWatch
	out    *syncBuffer
	errOut *syncBuffer
	// in is what the command reads on standard input.
	in string
}

func newHarness(t *testing.T, fixtureName string, extra ...client.Object) *harness {
	t.Helper()
	var objs []client.Object
	if fixtureName != "" {
		var err error
		if objs, err = fixture.Load(filepath.Join(fixtures, fixtureName+".yaml")); err != nil {
			t.Fatal(err)
		}
	}
	scheme, err := ternscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&v1alpha1.Rollout{}, &v1alpha1.Experiment{}, &v1alpha1.AnalysisRun{}).
		// The real API server selects objects by metadata.name; the fake needs an index.
		WithIndex(&v1alpha1.Rollout{}, "metadata.name", byName).
		WithIndex(&v1alpha1.Experiment{}, "metadata.name", byName).
		WithIndex(&v1alpha1.AnalysisRun{}, "metadata.name", byName).
		WithObjects(append(objs, extra...)...).Build()
	return &harness{t: t, client: c, out: &syncBuffer{}, errOut: &syncBuffer{}}
}

func byName(o client.Object) []string { return []string{o.GetName()} }

func (h *harness) command(argv0 string) *cobra.Command {
	o := NewOptions(genericiooptions.IOStreams{In: strings.NewReader(h.in), Out: h.out, ErrOut: h.errOut}, argv0)
	o.NewClient = func() (client.WithWatch, error) { return h.client, nil }
	o.Now = func() time.Time { return fixture.Now }
	return NewRootCommand(o)
}

func (h *harness) run(args ...string) error {
	return h.runCtx(context.Background(), args...)
}

func (h *harness) runCtx(ctx context.Context, args ...string) error {
	cmd := h.command("/usr/local/bin/kubectl-tern")
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}

func golden(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// allVerbs are the plugin's top-level commands (compat.md §5, less dashboard and
// notifications).
var allVerbs = []string{"version", "get", "list", "status", "promote", "abort", "retry", "pause", "restart",
	"undo", "set", "terminate", "lint", "create", "completion"}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		h := newHarness(t, "")
		if err := h.run("completion", shell); err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		if !strings.Contains(h.out.String(), "kubectl-tern") || !strings.Contains(h.out.String(), "__complete") {
			t.Errorf("%s: the script does not complete kubectl-tern through __complete:\n%.300s", shell, h.out.String())
		}
	}
	// The scripts ask the binary for candidates: check what it answers.
	for words, want := range map[string][]string{
		"":           allVerbs,
		"get ":       {"rollout", "experiment", "analysisrun"},
		"list ":      {"rollouts", "experiments"},
		"retry ":     {"rollout", "experiment"},
		"terminate ": {"analysisrun", "experiment"},
		"create ":    {"analysisrun"},
		"set ":       {"image"},
	} {
		h := newHarness(t, "")
		if err := h.run(append([]string{"__complete"}, strings.Split(words, " ")...)...); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(h.out.String(), "\n") {
			if name, _, _ := strings.Cut(line, "\t"); name != "" && !strings.HasPrefix(name, ":") {
				got = append(got, name)
			}
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("completing %q offers %v, not %q", words, got, w)
			}
		}
	}
}

func TestHelpListsVerbsWithExamples(t *testing.T) {
	h := newHarness(t, "")
	if err := h.run("--help"); err != nil {
		t.Fatal(err)
	}
	for _, verb := range allVerbs {
		if !strings.Contains(h.out.String(), "\n  "+verb+" ") {
			t.Errorf("--help does not list %q:\n%s", verb, h.out.String())
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Hidden {
				continue
			}
			if parent := sub.Parent(); parent != nil && parent.Name() == "completion" {
				continue // cobra's per-shell completion commands
			}
			h := newHarness(t, "")
			if err := h.run(append(strings.Fields(strings.TrimPrefix(sub.CommandPath(), "kubectl-tern ")), "--help")...); err != nil {
				t.Errorf("%s --help: %v", sub.CommandPath(), err)
			}
			if !strings.Contains(h.out.String(), "\nExamples:\n") {
				t.Errorf("%s --help has no Examples section", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(h.command("kubectl-tern"))
}

func TestVersionUsesBinaryName(t *testing.T) {
	for argv0, want := range map[string]string{
		"/usr/bin/kubectl-tern":          "kubectl-tern: v99.99.99+unknown\n",
		"/usr/bin/kubectl-argo-rollouts": "kubectl-argo-rollouts: v99.99.99+unknown\n",
	} {
		h := newHarness(t, "")
		cmd := h.command(argv0)
		cmd.SetArgs([]string{"version", "--short"})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if h.out.String() != want {
			t.Errorf("%s version --short = %q, want %q", argv0, h.out.String(), want)
		}
	}
	h := newHarness(t, "")
	if err := h.run("version"); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"BuildDate:", "GitCommit:", "GitTreeState:", "GoVersion:", "Compiler:", "Platform:"} {
		if !strings.Contains(h.out.String(), "  "+field) {
			t.Errorf("version output lacks %s:\n%s", field, h.out.String())
		}
	}
}

func TestGetRolloutMatchesGoldens(t *testing.T) {
	for _, tc := range []struct{ fixture, namespace, name string }{
		{"bluegreen-paused", "jesse-test", "bluegreen-demo"},
		{"canary-aborted", "default", "rollout-background-analysis"},
		{"canary-paused", "default", "canary-demo"},
		{"rollout-invalid", "default", "rollout-invalid"},
	} {
		h := newHarness(t, tc.fixture)
		if err := h.run("get", "rollout", tc.name, "-n", tc.namespace, "--no-color"); err != nil {
			t.Fatal(err)
		}
		if got, want := h.out.String(), golden(t, tc.fixture); got != want {
			t.Errorf("%s:\n--- got ---\n%s--- want ---\n%s", tc.fixture, got, want)
		}
	}
}

func TestGetRolloutNotFound(t *testing.T) {
	h := newHarness(t, "canary-paused")
	err := h.run("get", "ro", "nope", "-n", "shop")
	want := `rollouts.argoproj.io "nope" not found in namespace "shop"`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if h.out.String() != "" {
		t.Errorf("stdout = %q, want nothing", h.out.String())
	}
	if !strings.Contains(h.errOut.String(), "Error: "+want) {
		t.Errorf("stderr = %q", h.errOut.String())
	}
}

func TestGetRolloutWatchRedrawsOnChange(t *testing.T) {
	h := newHarness(t, "canary-paused")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.runCtx(ctx, "get", "rollout", "canary-demo", "-n", "default", "-w", "--no-color") }()

	waitFor(t, h.out, "Status:          ॥ Paused")
	// Let the watches that follow the initial lists start.
	time.Sleep(200 * time.Millisecond)
	ro := &v1alpha1.Rollout{}
	if err := h.client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "canary-demo"}, ro); err != nil {
		t.Fatal(err)
	}
	ro.Status.Phase, ro.Status.Message = v1alpha1.RolloutPhaseDegraded, "RolloutAborted: stop"
	if err := h.client.Status().Update(ctx, ro); err != nil {
		t.Fatal(err)
	}
	waitFor(t, h.out, "Message:         RolloutAborted: stop")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(h.out.String(), "Name:            canary-demo"); n != 2 {
		t.Errorf("drew %d pictures, want 2 (unchanged redraws are skipped)", n)
	}
}

func TestGetRolloutWatchTimeout(t *testing.T) {
	h := newHarness(t, "canary-paused")
	start := time.Now()
	if err := h.run("get", "rollout", "canary-demo", "-n", "default", "-w", "--timeout-seconds", "1"); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("--timeout-seconds did not stop the watch")
	}
	if !strings.Contains(h.out.String(), "canary-demo-59c9d4f8b7-x2v7k") {
		t.Errorf("watch printed no tree:\n%s", h.out.String())
	}
}

func waitFor(t *testing.T, out *syncBuffer, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q in:\n%s", text, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) rollout(ns, name string) *v1alpha1.Rollout {
	h.t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := h.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ro); err != nil {
		h.t.Fatal(err)
	}
	return ro
}

func TestVerbsPrintConfirmations(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		want  string
		check func(*v1alpha1.Rollout) bool
	}{
		{[]string{"promote", "canary-demo"}, "rollout 'canary-demo' promoted\n",
			func(ro *v1alpha1.Rollout) bool { return len(ro.Status.PauseConditions) == 0 }},
		{[]string{"promote", "canary-demo", "--full"}, "rollout 'canary-demo' fully promoted\n",
			func(ro *v1alpha1.Rollout) bool { return ro.Status.PromoteFull }},
		{[]string{"promote", "canary-demo", "--skip-all-steps"}, "rollout 'canary-demo' promoted\n",
			func(ro *v1alpha1.Rollout) bool { return *ro.Status.CurrentStepIndex == 7 }},
		{[]string{"abort", "canary-demo"}, "rollout 'canary-demo' aborted\n",
			func(ro *v1alpha1.Rollout) bool { return ro.Status.Abort }},
		{[]string{"retry", "rollout", "canary-demo"}, "rollout 'canary-demo' retried\n",
			func(ro *v1alpha1.Rollout) bool { return !ro.Status.Abort }},
		{[]string{"pause", "canary-demo"}, "rollout 'canary-demo' paused\n",
			func(ro *v1alpha1.Rollout) bool { return ro.Spec.Paused }},
		{[]string{"restart", "canary-demo", "--in", "30s"}, "rollout 'canary-demo' restarts in 30s\n",
			func(ro *v1alpha1.Rollout) bool {
				return ro.Spec.RestartAt.Time.Equal(fixture.Now.Add(30 * time.Second))
			}},
		{[]string{"restart", "canary-demo"}, "rollout 'canary-demo' restarts in 0s\n",
			func(ro *v1alpha1.Rollout) bool { return ro.Spec.RestartAt.Time.Equal(fixture.Now) }},
		{[]string{"set", "image", "canary-demo", "app=argoproj/rollouts-demo:green"}, "rollout \"canary-demo\" image updated\n",
			func(ro *v1alpha1.Rollout) bool {
				return ro.Spec.Template.Spec.Containers[0].Image == "argoproj/rollouts-demo:green"
			}},
		{[]string{"undo", "canary-demo"}, "rollout 'canary-demo' undo\n",
			func(ro *v1alpha1.Rollout) bool {
				return ro.Spec.Template.Spec.Containers[0].Image == "argoproj/rollouts-demo:blue"
			}},
	} {
		h := newHarness(t, "canary-paused")
		if err := h.run(append(tc.args, "-n", "default")...); err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if h.out.String() != tc.want {
			t.Errorf("%v printed %q, want %q", tc.args, h.out.String(), tc.want)
		}
		if !tc.check(h.rollout("default", "canary-demo")) {
			t.Errorf("%v did not change the rollout as expected", tc.args)
		}
	}
}

func TestSetImageErrors(t *testing.T) {
	h := newHarness(t, "canary-paused")
	err := h.run("set", "image", "canary-demo", "nope=x:1", "-n", "default")
	if err == nil || !strings.Contains(err.Error(), `unable to find container named "nope"`) {
		t.Errorf("unknown container: err = %v", err)
	}
	if err := h.run("set", "image", "canary-demo", "no-equals", "-n", "default"); err == nil {
		t.Error("missing = accepted")
	}
	if err := h.run("set", "image", "canary-demo", "-n", "default"); err == nil || !strings.Contains(err.Error(), "CONTAINER=IMAGE") {
		t.Errorf("missing argument: err = %v", err)
	}
}

func TestStatus(t *testing.T) {
	h := newHarness(t, "canary-paused")
	if err := h.run("status", "canary-demo", "-n", "default", "--watch=false"); err != nil {
		t.Fatal(err)
	}
	if h.out.String() != "Paused - CanaryPauseStep\n" {
		t.Errorf("status = %q", h.out.String())
	}

	h = newHarness(t, "canary-aborted")
	err := h.run("status", "rollout-background-analysis", "-n", "default", "--timeout", "5s")
	if err == nil || !strings.Contains(err.Error(), "degraded state with message: RolloutAborted:") {
		t.Errorf("status of an aborted rollout: err = %v", err)
	}
	if !strings.HasPrefix(h.out.String(), "Degraded - RolloutAborted: ") {
		t.Errorf("status printed %q", h.out.String())
	}

	h = newHarness(t, "canary-paused")
	if err := h.run("status", "canary-demo", "-n", "default", "-t", "300ms"); err != errTimeout {
		t.Errorf("status of a paused rollout with a timeout: err = %v, want %v", err, errTimeout)
	}
}

func TestListRollouts(t *testing.T) {
	h := newHarness(t, "canary-paused")
	if err := h.run("list", "rollouts", "-n", "default"); err != nil {
		t.Fatal(err)
	}
	want := "NAME         STRATEGY   STATUS        STEP  SET-WEIGHT  READY  DESIRED  UP-TO-DATE  AVAILABLE\n" +
		"canary-demo  Canary     Paused        1/7   20          5/5    5        1           5        \n"
	if h.out.String() != want {
		t.Errorf("list rollouts =\n%s\nwant\n%s", h.out.String(), want)
	}
	h = newHarness(t, "canary-paused")
	if err := h.run("list", "rollouts", "-n", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if h.errOut.String() != "No resources found.\n" {
		t.Errorf("empty list: stderr %q", h.errOut.String())
	}
}
