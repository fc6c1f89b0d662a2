package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// helmPath is the helm `make helm` builds: $CACHE_DIR/helm-<version pinned in hack/helm>.
func helmPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HELM"); p != "" {
		return tool(t, p, "HELM names no file")
	}
	mod, err := os.ReadFile(filepath.Join(repoRoot, "hack/helm/go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`helm\.sh/helm/v3 (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("no helm.sh/helm/v3 version in hack/helm/go.mod")
	}
	cache := os.Getenv("CACHE_DIR")
	if cache == "" {
		cache = os.ExpandEnv("$HOME/.cache/tern")
	}
	return tool(t, filepath.Join(cache, "helm-"+string(m[1])), "run make helm")
}

func helmTemplate(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	all := append([]string{"template", "tern", filepath.Join(repoRoot, ChartDir), "--namespace", "tern"}, args...)
	cmd := exec.CommandContext(ctx, helmPath(t), all...)
	// helm keeps a cache and config of its own; none of them matters to `template`.
	dir := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+dir, "HELM_CONFIG_HOME="+dir, "HELM_DATA_HOME="+dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(all, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// With its default values the chart renders the objects of manifests/install.yaml, and with
// namespaced=true those of manifests/namespace-install.yaml: the same names, specs, rules
// and pod template, differing only by Helm's own labels and explicit namespaces.
func TestChartRendersTheKustomizeObjects(t *testing.T) {
	for _, c := range []struct {
		manifest string
		args     []string
	}{
		{InstallYAML, []string{"--include-crds"}},
		{NamespaceInstallYAML, []string{"--set", "namespaced=true"}},
	} {
		t.Run(filepath.Base(c.manifest), func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(repoRoot, c.manifest))
			if err != nil {
				t.Fatal(err)
			}
			compareObjects(t, "helm template "+strings.Join(c.args, " "), helmTemplate(t, c.args...), c.manifest, want)
		})
	}
}

// Values change what they say they change.
func TestChartValues(t *testing.T) {
	out := helmTemplate(t,
		"--set", "image.repository=registry.example/tern", "--set", "image.tag=v9.9.9",
		"--set", "replicas=3", "--set", "logLevel=debug", "--set", "metrics.port=9100",
		"--set", "extraArgs={--instance-id=blue,--rollout-threads=20}",
		"--set", "resources.limits.memory=1Gi")
	objs := decodeAll(t, "helm template", out)
	dep := objs["Deployment/tern-controller"]
	if dep == nil {
		t.Fatal("no Deployment/tern-controller")
	}
	js, _ := json.Marshal(dep)
	for _, want := range []string{
		`"image":"registry.example/tern:v9.9.9"`, `"replicas":3`, `"--zap-log-level=debug"`,
		`"--metrics-bind-address=:9100"`, `"containerPort":9100`, `"--instance-id=blue"`,
		`"--rollout-threads=20"`, `"memory":"1Gi"`,
	} {
		if !strings.Contains(string(js), want) {
			t.Errorf("Deployment lacks %s:\n%s", want, js)
		}
	}
	svc, _ := json.Marshal(objs["Service/tern-controller-metrics"])
	if !strings.Contains(string(svc), `"port":9100`) {
		t.Errorf("metrics Service does not follow metrics.port: %s", svc)
	}
}

// helmOnlyLabels are the labels Helm charts add by convention and kustomize does not.
var helmOnlyLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version"}

func compareObjects(t *testing.T, gotName string, got []byte, wantName string, want []byte) {
	t.Helper()
	g, w := decodeAll(t, gotName, got), decodeAll(t, wantName, want)
	var keys []string
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch gv, wv := g[k], w[k]; {
		case gv == nil:
			t.Errorf("%s lacks %s, which %s has", gotName, k, wantName)
		case wv == nil:
			t.Errorf("%s has %s, which %s lacks", gotName, k, wantName)
		case !equality.Semantic.DeepEqual(gv, wv):
			gj, _ := json.MarshalIndent(gv, "", " ")
			wj, _ := json.MarshalIndent(wv, "", " ")
			t.Errorf("%s differs from %s's: %s", k, wantName, firstDifference(gj, wj))
		}
	}
}

// decodeAll reads a multi-document manifest into normalised objects by "Kind/name": Helm's
// labels and metadata.namespace removed (install.yaml leaves namespaces to `kubectl -n`),
// numbers and strings as JSON has them.
func decodeAll(t *testing.T, name string, data []byte) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var obj map[string]any
		if err := utilyaml.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(obj) == 0 {
			continue
		}
		normalise(obj)
		meta, _ := obj["metadata"].(map[string]any)
		key := fmt.Sprintf("%s/%s", obj["kind"], meta["name"])
		if _, dup := out[key]; dup {
			t.Fatalf("%s: %s twice", name, key)
		}
		out[key] = obj
	}
}

func normalise(obj map[string]any) {
	meta, _ := obj["metadata"].(map[string]any)
	delete(meta, "namespace")
	dropLabels(meta)
	if spec, ok := obj["spec"].(map[string]any); ok {
		if tmpl, ok := spec["template"].(map[string]any); ok {
			m, _ := tmpl["metadata"].(map[string]any)
			dropLabels(m)
		}
	}
}

func dropLabels(meta map[string]any) {
	labels, _ := meta["labels"].(map[string]any)
	for _, l := range helmOnlyLabels {
		delete(labels, l)
	}
	if labels != nil && len(labels) == 0 {
		delete(meta, "labels")
	}
}
