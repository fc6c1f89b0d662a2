package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func valid(name string) string   { return filepath.Join(lintCorpus, "valid", name) }
func invalid(name string) string { return filepath.Join(lintCorpus, "invalid", name) }

func TestCreateFromFiles(t *testing.T) {
	h := newHarness(t, "")
	if err := h.run("create", "-f", valid("analysis.yaml"), "-f", valid("experiment.yaml"), "-f", valid("bluegreen.yaml"), "-n", "shop"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(h.out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("printed %q", h.out.String())
	}
	for i, want := range []string{
		"analysistemplate.argoproj.io/success-rate created",
		"clusteranalysistemplate.argoproj.io/smoke created",
		"analysisrun.argoproj.io/smoke-",
		"experiment.argoproj.io/compare created",
		"rollout.argoproj.io/rollout-bluegreen created",
	} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want %q...", i, lines[i], want)
		}
	}
	ctx := context.Background()
	ro := &v1alpha1.Rollout{}
	if err := h.client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "rollout-bluegreen"}, ro); err != nil {
		t.Fatal(err)
	}
	if bg := ro.Spec.Strategy.BlueGreen; bg == nil || bg.ActiveService != "rollout-bluegreen-active" || *bg.AutoPromotionEnabled {
		t.Errorf("rollout created as %+v", ro.Spec.Strategy)
	}
	cat := &v1alpha1.ClusterAnalysisTemplate{}
	if err := h.client.Get(ctx, client.ObjectKey{Name: "smoke"}, cat); err != nil {
		t.Errorf("cluster template: %v", err)
	}
	runs := &v1alpha1.AnalysisRunList{}
	if err := h.client.List(ctx, runs, client.InNamespace("shop")); err != nil || len(runs.Items) != 1 ||
		!strings.HasPrefix(runs.Items[0].Name, "smoke-") || lines[2] != "analysisrun.argoproj.io/"+runs.Items[0].Name+" created" {
		t.Errorf("runs %v (err %v), printed %q", runs.Items, err, lines[2])
	}
}

// One bad document and nothing is created: the problems are printed as lint prints them.
func TestCreateRefusesInvalidFiles(t *testing.T) {
	h := newHarness(t, "")
	err := h.run("create", "-f", valid("experiment.yaml"), "-f", invalid("setweight-over-100.yaml"), "-n", "shop")
	if err == nil || err.Error() != "found 1 problem(s); nothing was created" {
		t.Errorf("err = %v", err)
	}
	if !strings.Contains(h.errOut.String(), "setweight-over-100.yaml: Rollout/web: spec.strategy.canary.steps[0].setWeight: Invalid value: 200: SetWeight needs to be between 0 and 100\n") {
		t.Errorf("stderr %q", h.errOut.String())
	}
	exps := &v1alpha1.ExperimentList{}
	if err := h.client.List(context.Background(), exps); err != nil || len(exps.Items) != 0 {
		t.Errorf("created %d experiments (err %v)", len(exps.Items), err)
	}

	for args, want := range map[string]string{
		"create -f " + valid("canary.yaml"): `Service/web-canary (v1) is not one of the kinds create handles`,
		"create":                            "create needs a file: pass it with -f FILE",
		"create -f " + valid("experiment.yaml") + " -n other -w -f x":                 "x: no such file",
		"create -w -f " + valid("experiment.yaml") + " -f " + valid("bluegreen.yaml"): "--watch shows one Rollout, Experiment or AnalysisRun, and the files hold 2",
	} {
		h := newHarness(t, "")
		if err := h.run(strings.Fields(args)...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", args, err, want)
		}
	}
}

func TestCreateErrorsNameTheObject(t *testing.T) {
	existing := &v1alpha1.Experiment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "compare"}}
	h := newHarness(t, "", existing)
	err := h.run("create", "-f", valid("experiment.yaml"), "-n", "shop")
	if err == nil || !strings.Contains(err.Error(), `creating Experiment "compare": experiments.argoproj.io "compare" already exists: delete it first, or change it with kubectl apply`) {
		t.Errorf("err = %v", err)
	}

	h = newHarness(t, "")
	h.in = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisRun\nmetadata: {name: r, namespace: prod}\nspec:\n  metrics:\n  - name: m\n    provider: {web: {url: http://x}}\n"
	err = h.run("create", "-f", "-", "-n", "shop")
	if err == nil || !strings.Contains(err.Error(), `<stdin>: AnalysisRun/r: its namespace "prod" does not match --namespace "shop"`) {
		t.Errorf("err = %v", err)
	}
	// Without -n, the object's own namespace is used.
	h.out = &syncBuffer{}
	if err := h.run("create", "-f", "-"); err != nil || h.out.String() != "analysisrun.argoproj.io/r created\n" {
		t.Errorf("err %v, printed %q", err, h.out.String())
	}
	if err := h.client.Get(context.Background(), client.ObjectKey{Namespace: "prod", Name: "r"}, &v1alpha1.AnalysisRun{}); err != nil {
		t.Error(err)
	}
}

func TestCreateWatch(t *testing.T) {
	h := newHarness(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.runCtx(ctx, "create", "-f", valid("experiment.yaml"), "-n", "shop", "-w") }()
	waitFor(t, h.out, "Σ compare")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.out.String(), "experiment.argoproj.io/compare created\n\nName:            compare\nNamespace:       shop\n") {
		t.Errorf("printed %q", h.out.String())
	}
}

func analysisTemplates() []client.Object {
	metric := v1alpha1.Metric{Name: "up", SuccessCondition: "result == true",
		Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://{{args.service}}/healthz"}}}
	return []client.Object{
		&v1alpha1.AnalysisTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "health"},
			Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{metric},
				Args: []v1alpha1.Argument{{Name: "service"}, {Name: "port", Value: ptr.To("80")}}},
		},
		&v1alpha1.ClusterAnalysisTemplate{
			ObjectMeta: metav1.ObjectMeta{Name: "health"},
			Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{metric},
				Args: []v1alpha1.Argument{{Name: "service", Value: ptr.To("web")}}},
		},
	}
}

func TestCreateAnalysisRun(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "", analysisTemplates()...)
	if err := h.run("create", "analysisrun", "--from", "health", "-a", "service=web", "-a", "port=8080", "--name", "check", "--instance-id", "blue", "-n", "shop"); err != nil {
		t.Fatal(err)
	}
	if h.out.String() != "analysisrun.argoproj.io/check created\n" {
		t.Errorf("printed %q", h.out.String())
	}
	run := &v1alpha1.AnalysisRun{}
	if err := h.client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "check"}, run); err != nil {
		t.Fatal(err)
	}
	if len(run.Spec.Args) != 2 || *run.Spec.Args[0].Value != "web" || *run.Spec.Args[1].Value != "8080" ||
		run.Labels[v1alpha1.LabelKeyControllerInstanceID] != "blue" || len(run.Spec.Metrics) != 1 {
		t.Errorf("run %+v", run)
	}

	// --global takes the ClusterAnalysisTemplate; without a name, one is generated.
	h.out = &syncBuffer{}
	if err := h.run("create", "ar", "--global", "--from", "health", "-n", "shop"); err != nil {
		t.Fatal(err)
	}
	list := &v1alpha1.AnalysisRunList{}
	if err := h.client.List(ctx, list, client.InNamespace("shop")); err != nil || len(list.Items) != 2 {
		t.Fatalf("runs %d, err %v", len(list.Items), err)
	}
	if !strings.HasPrefix(h.out.String(), "analysisrun.argoproj.io/health-") {
		t.Errorf("printed %q", h.out.String())
	}

	// --from-file reads the template from the file, not the cluster.
	h.out = &syncBuffer{}
	if err := h.run("create", "analysisrun", "--from-file", valid("analysis.yaml"), "-a", "service=web", "--generate-name", "manual-", "-n", "shop"); err == nil ||
		!strings.Contains(err.Error(), "--from-file needs exactly one AnalysisTemplate or ClusterAnalysisTemplate, found 2") {
		t.Errorf("two templates in the file: err = %v", err)
	}
	h.in = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: from-file}\nspec:\n  args: [{name: service}]\n  metrics:\n  - name: m\n    provider: {web: {url: 'http://{{args.service}}'}}\n"
	if err := h.run("create", "analysisrun", "--from-file", "-", "-a", "service=web", "--generate-name", "manual-", "-n", "shop"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.out.String(), "analysisrun.argoproj.io/manual-") {
		t.Errorf("printed %q", h.out.String())
	}
}

func TestCreateAnalysisRunErrors(t *testing.T) {
	for args, want := range map[string]string{
		"create analysisrun --from health -n shop":                             `args.service was not resolved: AnalysisTemplate "health" declares it without a value and none was given: pass it with -a service=VALUE`,
		"create analysisrun --from health -n shop -a service=web -a sevrice=x": `argument "sevrice" is not declared by AnalysisTemplate "health" (it declares: service, port)`,
		"create analysisrun --from nope -n shop":                               `analysistemplates.argoproj.io "nope" not found in namespace "shop"`,
		"create analysisrun --from health --global -a port=1":                  `argument "port" is not declared by ClusterAnalysisTemplate "health" (it declares: service)`,
		"create analysisrun -n shop":                                           "name the template: --from TEMPLATE, or --from-file FILE",
		"create analysisrun --from a --from-file b":                            "--from and --from-file cannot be used together",
		"create analysisrun --from a --name x --generate-name y":               "--name and --generate-name cannot be used together",
		"create analysisrun --from a -a novalue":                               `invalid argument "novalue": use -a NAME=VALUE`,
		"create analysisrun --from-file " + invalid("metric-providers.yaml"):   "AnalysisTemplate/checks has 3 problem(s)",
	} {
		h := newHarness(t, "", analysisTemplates()...)
		if err := h.run(strings.Fields(args)...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\n err = %v\nwant %q", args, err, want)
		}
	}
}
