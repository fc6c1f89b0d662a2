package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const lintCorpus = "testdata/lint"

// lintCases are the invalid manifests of the corpus and the exact problems lint reports
// for each, after the "<file>: " prefix. Messages marked upstream in
// internal/validation are word for word those of the upstream contract.
var lintCases = []struct {
	file string
	want []string
}{
	{"analysisrun-no-metrics.yaml", []string{
		`AnalysisRun/empty: spec.metrics: Required value: no metrics specified`,
	}},
	{"bluegreen-no-active-service.yaml", []string{
		`Rollout/web: spec.strategy.blueGreen.activeService: Required value: Rollout has missing field 'spec.strategy.blueGreen.activeService'`,
	}},
	{"bluegreen-same-services.yaml", []string{
		`Rollout/web: spec.strategy.blueGreen.activeService: Invalid value: "web": This rollout uses the same service for the active and preview services, but two different services are required.`,
	}},
	{"both-strategies.yaml", []string{
		`Rollout/web: spec.strategy: Invalid value: "blueGreen and canary": Multiple Strategies can not be listed`,
	}},
	{"canary-same-services.yaml", []string{
		`Rollout/web: spec.strategy.canary.stableService: Invalid value: "web": This rollout uses the same service for the stable and canary services, but two different services are required.`,
	}},
	{"duplicate-keys.yaml", []string{
		`Rollout/web: duplicate key "canary" at line 20 of the document`,
	}},
	{"experiment.yaml", []string{
		"Experiment/compare: spec.templates[0].template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`",
		`Experiment/compare: spec.templates[1].name: Duplicate value: "baseline"`,
		`Experiment/compare: spec.duration: Invalid value: "10": must be a duration with a unit such as "30s", "5m" or "1h"`,
		`Experiment/compare: spec.analyses[0].templateName: Required value: name the AnalysisTemplate (or, with clusterScope, ClusterAnalysisTemplate) to run`,
	}},
	{"kinds-and-names.yaml", []string{
		`AnalysisTemplate (document 1): metadata.name: Required value: set metadata.name (or metadata.generateName)`,
		`Rollout/future: apiVersion: Unsupported value: "argoproj.io/v1beta1": supported values: "argoproj.io/v1alpha1"`,
		`Rollouts/typo: kind: Unsupported value: "Rollouts": supported values: "Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Experiment"`,
	}},
	{"max-surge-unavailable-zero.yaml", []string{
		`Rollout/web: spec.strategy.canary.maxSurge: Invalid value: "0": MaxSurge and MaxUnavailable both can not be zero`,
	}},
	{"metric-durations.yaml", []string{
		`AnalysisTemplate/rate: spec.metrics[0].interval: Invalid value: "30": must be a duration with a unit such as "30s", "5m" or "1h"`,
		`AnalysisTemplate/rate: spec.metrics[0].initialDelay: Invalid value: "-1m": must be greater than or equal to 0`,
	}},
	{"metric-providers.yaml", []string{
		`AnalysisTemplate/checks: spec.metrics[0].provider: Required value: no provider specified`,
		`AnalysisTemplate/checks: spec.metrics[1].provider: Invalid value: "prometheus, web": multiple providers specified`,
		`AnalysisTemplate/checks: spec.metrics[2].name: Duplicate value: "no-provider"`,
	}},
	{"no-strategy.yaml", []string{
		`Rollout/web: spec.strategy: Required value: Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'`,
	}},
	{"pause-bad-durations.yaml", []string{
		`Rollout/web: spec.strategy.canary.steps[0].pause.duration: Invalid value: "-5": Duration needs to be greater than 0`,
		`Rollout/web: spec.strategy.canary.steps[1].pause.duration: Invalid value: "5 minutes": invalid duration "5 minutes": use a number of seconds (30) or a number with a unit (30s, 5m, 1h)`,
	}},
	{"selector-empty.yaml", []string{
		`Rollout/web: spec.selector: Invalid value: "{}": This rollout is selecting all pods by having an empty selector.`,
	}},
	{"selector-mismatch.yaml", []string{
		"Rollout/web: spec.template.metadata.labels: Invalid value: {\"app\":\"api\"}: `selector` does not match template `labels`",
	}},
	{"setweight-over-100.yaml", []string{
		`Rollout/web: spec.strategy.canary.steps[0].setWeight: Invalid value: 200: SetWeight needs to be between 0 and 100`,
	}},
	{"step-without-action.yaml", []string{
		`Rollout/web: spec.strategy.canary.steps[1]: Invalid value: "{}": Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause`,
	}},
	{"unknown-fields.yaml", []string{
		`Rollout/web: spec.strategy.canary.stepz: unknown field`,
		`Rollout/web: spec.template.spec.containers[0].imagePolicy: unknown field`,
	}},
	{"wrong-type.yaml", []string{
		`Rollout/web: spec.replicas: Invalid type: must be int32, got string`,
	}},
}

func TestLintInvalidCorpus(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range lintCases {
		covered[tc.file] = true
		path := filepath.Join(lintCorpus, "invalid", tc.file)
		h := newHarness(t, "")
		err := h.run("lint", "-f", path)
		if err == nil {
			t.Errorf("%s: lint passed", tc.file)
		}
		var want strings.Builder
		for _, line := range tc.want {
			want.WriteString(path + ": " + line + "\n")
		}
		if got := h.out.String(); got != want.String() {
			t.Errorf("%s:\n--- got ---\n%s--- want ---\n%s", tc.file, got, want.String())
		}
		if !strings.Contains(h.errOut.String(), "Error: lint found ") {
			t.Errorf("%s: stderr %q", tc.file, h.errOut.String())
		}
	}
	// Every file of the corpus has its expectations here.
	files, _ := filepath.Glob(filepath.Join(lintCorpus, "invalid", "*.yaml"))
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no case in lintCases", f)
		}
	}
}

func TestLintValidCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(lintCorpus, "valid", "*.yaml"))
	if len(files) < 4 {
		t.Fatalf("valid corpus has %d files", len(files))
	}
	args := []string{"lint"}
	for _, f := range files {
		h := newHarness(t, "")
		if err := h.run("lint", "-f", f); err != nil || h.out.String() != "" {
			t.Errorf("%s: err %v, output %q", f, err, h.out.String())
		}
		args = append(args, "-f", f)
	}
	// The seed manifests the e2e tests apply lint clean too.
	for _, f := range []string{"seed-bluegreen.yaml", "seed-canary-rollout.yaml", "seed-canary-service.yaml"} {
		args = append(args, "-f", filepath.Join("..", "..", "test", "fixtures", f))
	}
	h := newHarness(t, "")
	if err := h.run(args...); err != nil || h.out.String() != "" {
		t.Errorf("%v: err %v, output %q", args, err, h.out.String())
	}
}

// Upstream's documented behaviour: a bad setWeight fails with its message, offline.
func TestLintNeedsNoCluster(t *testing.T) {
	h := newHarness(t, "")
	cmd := h.command("kubectl-argo-rollouts")
	cmd.SetArgs([]string{"lint", "-f", filepath.Join(lintCorpus, "invalid", "setweight-over-100.yaml"), "--kubeconfig", "/nonexistent"})
	if err := cmd.Execute(); err == nil || !strings.Contains(h.out.String(), "SetWeight needs to be between 0 and 100") {
		t.Errorf("err %v, output %q", err, h.out.String())
	}
}

func TestLintStdinAndErrors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(lintCorpus, "invalid", "setweight-over-100.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "")
	h.in = string(data)
	if err := h.run("lint", "-f", "-"); err == nil {
		t.Error("lint of a bad manifest on stdin passed")
	}
	want := "<stdin>: Rollout/web: spec.strategy.canary.steps[0].setWeight: Invalid value: 200: SetWeight needs to be between 0 and 100\n"
	if h.out.String() != want {
		t.Errorf("stdin: %q, want %q", h.out.String(), want)
	}

	for args, msg := range map[string]string{
		"lint":                 "lint needs a file: pass it with -f FILE",
		"lint -f nope.yaml":    "nope.yaml: no such file",
		"lint extra -f x.yaml": `"kubectl-tern lint" takes no arguments, got 1`,
	} {
		h := newHarness(t, "")
		if err := h.run(strings.Fields(args)...); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: err = %v, want %q", args, err, msg)
		}
	}
}
