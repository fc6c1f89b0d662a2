package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const basesDir = "../../config/crd/bases"

// wantPodTemplateDefaults are the structural defaults upstream's Rollout CRD carries under
// spec.template (compat.md §6.1). The API server fills them in before the controller
// hashes the template, so any drift here changes pod-template-hashes.
var wantPodTemplateDefaults = func() []string {
	var want []string
	for _, c := range containerLists {
		want = append(want,
			"spec."+c+"[].env[].valueFrom.configMapKeyRef.name=\"\"",
			"spec."+c+"[].env[].valueFrom.fileKeyRef.optional=false",
			"spec."+c+"[].env[].valueFrom.secretKeyRef.name=\"\"",
			"spec."+c+"[].envFrom[].configMapRef.name=\"\"",
			"spec."+c+"[].envFrom[].secretRef.name=\"\"",
			"spec."+c+"[].livenessProbe.grpc.service=\"\"",
			"spec."+c+"[].ports[].protocol=\"TCP\"",
			"spec."+c+"[].readinessProbe.grpc.service=\"\"",
			"spec."+c+"[].startupProbe.grpc.service=\"\"",
		)
	}
	want = append(want, "spec.imagePullSecrets[].name=\"\"")
	sort.Strings(want)
	return want
}()

func TestWantListHas28Entries(t *testing.T) {
	if len(wantPodTemplateDefaults) != 28 {
		t.Fatalf("the contract lists 28 defaults, the test table has %d", len(wantPodTemplateDefaults))
	}
}

// TestRolloutPodTemplateDefaults counts the defaults under spec.template of the shipped
// Rollout CRD.
func TestRolloutPodTemplateDefaults(t *testing.T) {
	root := loadSchema(t, "argoproj.io_rollouts.yaml")
	tmpl, err := schemaAt(root, "spec.template")
	if err != nil {
		t.Fatal(err)
	}
	got := collectDefaults(tmpl, "")
	for _, d := range got {
		t.Log(d)
	}
	if len(got) != 28 {
		t.Errorf("spec.template of the Rollout CRD carries %d defaults, want 28", len(got))
	}
	if !slices.Equal(got, wantPodTemplateDefaults) {
		t.Errorf("defaults differ from the contract\n extra:   %v\n missing: %v",
			minus(got, wantPodTemplateDefaults), minus(wantPodTemplateDefaults, got))
	}
}

// TestEveryPodTemplateHasTheSameDefaults checks the other pod templates (experiments, job
// metrics) against the same list, so that a Job or an experiment ReplicaSet sees the same
// defaulting as the Rollout it came from.
func TestEveryPodTemplateHasTheSameDefaults(t *testing.T) {
	files := map[string]string{
		"Rollout":                 "argoproj.io_rollouts.yaml",
		"Experiment":              "argoproj.io_experiments.yaml",
		"AnalysisTemplate":        "argoproj.io_analysistemplates.yaml",
		"ClusterAnalysisTemplate": "argoproj.io_clusteranalysistemplates.yaml",
		"AnalysisRun":             "argoproj.io_analysisruns.yaml",
	}
	for kind, file := range files {
		t.Run(kind, func(t *testing.T) {
			root := loadSchema(t, file)
			paths := podTemplatePaths[kind]
			if len(paths) == 0 {
				t.Fatalf("no pod template paths for %s", kind)
			}
			total := len(collectDefaults(root, ""))
			for _, p := range paths {
				tmpl, err := schemaAt(root, p)
				if err != nil {
					t.Fatal(err)
				}
				if got := collectDefaults(tmpl, ""); !slices.Equal(got, wantPodTemplateDefaults) {
					t.Errorf("%s: defaults differ\n extra:   %v\n missing: %v", p,
						minus(got, wantPodTemplateDefaults), minus(wantPodTemplateDefaults, got))
				}
			}
			// Nothing outside the pod templates is defaulted by the schema: our own
			// defaults are applied when read (api/v1alpha1/defaults.go), never stored.
			if want := 28 * len(paths); total != want {
				t.Errorf("whole %s schema carries %d defaults, want %d (all in pod templates)", kind, total, want)
			}
		})
	}
}

func TestPodTemplateShape(t *testing.T) {
	for kind, file := range map[string]string{
		"Rollout":     "argoproj.io_rollouts.yaml",
		"Experiment":  "argoproj.io_experiments.yaml",
		"AnalysisRun": "argoproj.io_analysisruns.yaml",
	} {
		root := loadSchema(t, file)
		tmpl, err := schemaAt(root, podTemplatePaths[kind][0])
		if err != nil {
			t.Fatal(err)
		}
		md, _ := schemaAt(tmpl, "metadata")
		if props, _ := md["properties"].(map[string]any); len(props) != 2 || props["labels"] == nil || props["annotations"] == nil {
			t.Errorf("%s: template metadata must hold exactly labels and annotations, got %v", kind, md)
		}
		volumes, _ := schemaAt(tmpl, "spec.volumes[]")
		if volumes["x-kubernetes-preserve-unknown-fields"] != true || volumes["type"] != "object" {
			t.Errorf("%s: volumes items not a preserved object: %v", kind, volumes)
		}
		if props, _ := volumes["properties"].(map[string]any); len(props) != 1 || props["name"] == nil {
			t.Errorf("%s: volumes items must keep only the list-map key name, got %v", kind, props)
		}
		for _, c := range containerLists {
			for _, q := range []string{"limits", "requests"} {
				s, err := schemaAt(tmpl, "spec."+c+"[].resources."+q)
				if err != nil {
					t.Fatal(err)
				}
				if s["x-kubernetes-preserve-unknown-fields"] != true || s["type"] != "object" || len(s) != 2 {
					t.Errorf("%s: %s resources.%s = %v, want a preserved object", kind, c, q, s)
				}
			}
		}
		for _, q := range []string{"limits", "requests"} {
			s, err := schemaAt(tmpl, "spec.resources."+q)
			if err != nil {
				t.Fatal(err)
			}
			if s["x-kubernetes-preserve-unknown-fields"] != true {
				t.Errorf("%s: pod-level resources.%s = %v, want a preserved object", kind, q, s)
			}
		}
	}
}

// TestOpaqueFieldsPreserved checks the raw-JSON fields whose markers ask the API server to
// keep whatever the user wrote.
func TestOpaqueFieldsPreserved(t *testing.T) {
	cases := []struct{ file, path string }{
		{"argoproj.io_rollouts.yaml", "spec.strategy.canary.trafficRouting.plugins"},
		{"argoproj.io_rollouts.yaml", "spec.strategy.canary.steps[].plugin.config"},
		{"argoproj.io_rollouts.yaml", "status.canary.stepPluginStatuses[].status"},
		{"argoproj.io_analysistemplates.yaml", "spec.metrics[].provider.plugin"},
		{"argoproj.io_analysistemplates.yaml", "spec.metrics[].provider.web.jsonBody"},
		{"argoproj.io_analysisruns.yaml", "spec.metrics[].provider.plugin"},
		{"argoproj.io_clusteranalysistemplates.yaml", "spec.metrics[].provider.plugin"},
	}
	for _, c := range cases {
		s, err := schemaAt(loadSchema(t, c.file), c.path)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if s["x-kubernetes-preserve-unknown-fields"] != true {
			t.Errorf("%s %s: not x-kubernetes-preserve-unknown-fields: %v", c.file, c.path, s)
		}
	}
}

func TestJobMetadataKeepsLabelsAndAnnotations(t *testing.T) {
	for _, file := range []string{"argoproj.io_analysistemplates.yaml", "argoproj.io_clusteranalysistemplates.yaml", "argoproj.io_analysisruns.yaml"} {
		md, err := schemaAt(loadSchema(t, file), "spec.metrics[].provider.job.metadata")
		if err != nil {
			t.Fatal(err)
		}
		props, _ := md["properties"].(map[string]any)
		if props["labels"] == nil || props["annotations"] == nil {
			t.Errorf("%s: job metadata = %v, want labels and annotations", file, md)
		}
	}
}

// TestShippedCRDsPassChecks re-runs the structural checks over the committed files, which
// catches hand edits that `make manifests` would have refused.
func TestShippedCRDsPassChecks(t *testing.T) {
	for _, name := range crdFiles(t) {
		var crd map[string]any
		mustUnmarshal(t, filepath.Join(basesDir, name), &crd)
		for _, v := range lookup(crd, "spec", "versions").([]any) {
			root, _ := lookup(v.(map[string]any), "schema", "openAPIV3Schema").(map[string]any)
			if err := checkSchema(root); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// TestCRDsFitClientSideApply keeps every CRD small enough for a plain `kubectl apply`,
// whose last-applied annotation (compact JSON of the object) must stay under 256 KiB.
// Server-side apply has no such limit, but not every GitOps tool uses it.
func TestCRDsFitClientSideApply(t *testing.T) {
	const annotationLimit = 262144
	for _, name := range crdFiles(t) {
		var crd map[string]any
		mustUnmarshal(t, filepath.Join(basesDir, name), &crd)
		raw, err := json.Marshal(crd)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes as compact JSON", name, len(raw))
		if len(raw) >= annotationLimit {
			t.Errorf("%s is %d bytes as JSON, over the %d-byte annotation limit of client-side apply", name, len(raw), annotationLimit)
		}
	}
}

func TestPatchIsIdempotent(t *testing.T) {
	for _, name := range crdFiles(t) {
		in, err := os.ReadFile(filepath.Join(basesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		out, err := PatchCRD(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(in, out) {
			t.Errorf("%s changes when patched a second time", name)
		}
	}
}

// miniCRD builds a small CRD around spec, shaped like controller-gen's output.
func miniCRD(kind string, spec map[string]any) []byte {
	crd := map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "x.argoproj.io"},
		"spec": map[string]any{
			"group": "argoproj.io",
			"names": map[string]any{"kind": kind, "plural": "xs"},
			"scope": "Namespaced",
			"versions": []any{map[string]any{
				"name": "v1alpha1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"metadata": map[string]any{"type": "object"},
						"spec":     spec,
					},
				}},
			}},
		},
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		panic(err)
	}
	return out
}

func obj(props map[string]any) map[string]any {
	return map[string]any{"type": "object", "properties": props}
}

func arr(items map[string]any) map[string]any {
	return map[string]any{"type": "array", "items": items}
}

func str() map[string]any { return map[string]any{"type": "string"} }

func quantityMap() map[string]any {
	return map[string]any{"type": "object", "additionalProperties": map[string]any{
		"anyOf":                      []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}},
		"x-kubernetes-int-or-string": true,
	}}
}

// podTemplate is a cut-down PodTemplateSpec schema with the parts crdpatch rewrites.
func podTemplate() map[string]any {
	container := func() map[string]any {
		return obj(map[string]any{
			"name":      str(),
			"resources": obj(map[string]any{"limits": quantityMap(), "requests": quantityMap()}),
			"ports": map[string]any{
				"type": "array", "x-kubernetes-list-type": "map",
				"x-kubernetes-list-map-keys": []any{"containerPort", "protocol"},
				"items": map[string]any{"type": "object", "required": []any{"containerPort"},
					"properties": map[string]any{
						"containerPort": map[string]any{"type": "integer"},
						"protocol":      map[string]any{"type": "string", "default": "TCP"},
					}},
			},
		})
	}
	volume := obj(map[string]any{"name": str(), "rbd": obj(map[string]any{"pool": map[string]any{"type": "string", "default": "rbd"}})})
	volume["required"] = []any{"name"}
	volumes := arr(volume)
	volumes["x-kubernetes-list-type"] = "map"
	volumes["x-kubernetes-list-map-keys"] = []any{"name"}
	return obj(map[string]any{
		"metadata": map[string]any{"type": "object"},
		"spec": obj(map[string]any{
			"containers":          arr(container()),
			"initContainers":      arr(container()),
			"ephemeralContainers": arr(container()),
			"volumes":             volumes,
		}),
	})
}

func TestPatchMiniRollout(t *testing.T) {
	out, err := PatchCRD(miniCRD("Rollout", obj(map[string]any{"template": podTemplate()})))
	if err != nil {
		t.Fatal(err)
	}
	var crd map[string]any
	if err := yaml.Unmarshal(out, &crd); err != nil {
		t.Fatal(err)
	}
	root := lookup(crd, "spec", "versions").([]any)[0].(map[string]any)["schema"].(map[string]any)["openAPIV3Schema"].(map[string]any)
	got := collectDefaults(root, "")
	want := []string{
		`spec.template.spec.containers[].ports[].protocol="TCP"`,
		`spec.template.spec.ephemeralContainers[].ports[].protocol="TCP"`,
		`spec.template.spec.initContainers[].ports[].protocol="TCP"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("defaults after patch = %v, want %v (the rbd pool default must be gone)", got, want)
	}
	if !strings.HasPrefix(string(out), "---\n") {
		t.Errorf("output does not start with a document marker")
	}
}

func TestPatchRejects(t *testing.T) {
	withExtraPodSpec := obj(map[string]any{"template": podTemplate(), "other": podTemplate()})
	withBareMetadata := obj(map[string]any{"template": podTemplate(), "thing": obj(map[string]any{"metadata": map[string]any{"type": "object"}})})
	untyped := obj(map[string]any{"template": podTemplate(), "loose": map[string]any{"properties": map[string]any{"a": str()}}})
	badListMap := obj(map[string]any{"template": podTemplate(), "list": map[string]any{
		"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": []any{"id"},
		"items": obj(map[string]any{"id": str()}),
	}})
	transitionUnderList := obj(map[string]any{"template": podTemplate(), "list": arr(map[string]any{
		"type": "object", "x-kubernetes-validations": []any{map[string]any{"rule": "self == oldSelf"}},
	})})
	badDefault := obj(map[string]any{"template": podTemplate(), "flag": map[string]any{"type": "boolean", "default": "yes"}})
	cases := []struct {
		name, kind string
		spec       map[string]any
		wantErr    string
	}{
		{"unknown kind", "Widget", obj(nil), `unknown kind "Widget"`},
		{"template missing", "Rollout", obj(map[string]any{"replicas": map[string]any{"type": "integer"}}), "schema has no field template"},
		{"volumes missing", "Rollout", obj(map[string]any{"template": obj(map[string]any{"metadata": map[string]any{"type": "object"}, "spec": obj(map[string]any{"containers": arr(obj(nil))})})}), "no field volumes"},
		{"unlisted pod spec", "Rollout", withExtraPodSpec, "pod spec at spec.other.spec is not listed"},
		{"bare embedded metadata", "Rollout", withBareMetadata, "spec.thing.metadata: embedded metadata is a bare object"},
		{"not structural", "Rollout", untyped, "not structural"},
		{"list-map key neither required nor defaulted", "Rollout", badListMap, `list-map key "id" must be required or have a default`},
		{"default of the wrong type", "Rollout", badDefault, "default yes does not have type boolean"},
		{"transition rule below a plain list", "Rollout", transitionUnderList, `spec.list[]: transition rule "self == oldSelf" under a list that is not a list-map`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := PatchCRD(miniCRD(c.kind, c.spec))
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("PatchCRD error = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

// TestPatchDropsEmbeddedAPIRules checks that the live-object rules of an embedded Job
// (immutability of JobSpec.scheduling in k8s 1.37) are dropped, while rules of our own
// types stay.
func TestPatchDropsEmbeddedAPIRules(t *testing.T) {
	immutable := func() map[string]any {
		return map[string]any{"type": "object", "x-kubernetes-validations": []any{map[string]any{"rule": "self == oldSelf"}}}
	}
	job := obj(map[string]any{
		"metadata": map[string]any{"type": "object"},
		"spec":     obj(map[string]any{"template": podTemplate(), "scheduling": immutable()}),
	})
	metric := obj(map[string]any{"name": str(), "provider": obj(map[string]any{"job": job})})
	out, err := PatchCRD(miniCRD("AnalysisTemplate", obj(map[string]any{
		"metrics": arr(metric),
		"owned":   immutable(),
	})))
	if err != nil {
		t.Fatal(err)
	}
	var crd map[string]any
	if err := yaml.Unmarshal(out, &crd); err != nil {
		t.Fatal(err)
	}
	root := lookup(crd, "spec", "versions").([]any)[0].(map[string]any)["schema"].(map[string]any)["openAPIV3Schema"].(map[string]any)
	scheduling, err := schemaAt(root, "spec.metrics[].provider.job.spec.scheduling")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := scheduling["x-kubernetes-validations"]; ok {
		t.Errorf("job scheduling still carries its rules: %v", scheduling)
	}
	owned, _ := schemaAt(root, "spec.owned")
	if _, ok := owned["x-kubernetes-validations"]; !ok {
		t.Errorf("a rule outside the embedded Job was dropped: %v", owned)
	}
}

// TestContainersRequiredOnlyWhereNoWorkloadRef: a Rollout may leave its template empty
// (workloadRef), an experiment or job template may not.
func TestContainersRequiredOnlyWhereNoWorkloadRef(t *testing.T) {
	cases := []struct {
		file, path string
		want       bool
	}{
		{"argoproj.io_rollouts.yaml", "spec.template.spec", false},
		{"argoproj.io_experiments.yaml", "spec.templates[].template.spec", true},
		{"argoproj.io_analysisruns.yaml", "spec.metrics[].provider.job.spec.template.spec", true},
	}
	for _, c := range cases {
		spec, err := schemaAt(loadSchema(t, c.file), c.path)
		if err != nil {
			t.Fatal(err)
		}
		required, _ := spec["required"].([]any)
		if got := slices.Contains(required, any("containers")); got != c.want {
			t.Errorf("%s %s: containers required = %v, want %v", c.file, c.path, got, c.want)
		}
	}
}

func TestSelectorRuleKept(t *testing.T) {
	sel, err := schemaAt(loadSchema(t, "argoproj.io_rollouts.yaml"), "spec.selector")
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := sel["x-kubernetes-validations"].([]any)
	if len(rules) != 1 || rules[0].(map[string]any)["rule"] != "self == oldSelf" {
		t.Errorf("spec.selector rules = %v, want the immutability rule", rules)
	}
}

func TestSchemaAt(t *testing.T) {
	root := obj(map[string]any{"spec": obj(map[string]any{"list": arr(obj(map[string]any{"x": str()}))})})
	if s, err := schemaAt(root, "spec.list[].x"); err != nil || s["type"] != "string" {
		t.Errorf("schemaAt(spec.list[].x) = %v, %v", s, err)
	}
	if _, err := schemaAt(root, "spec.list.x"); err == nil {
		t.Errorf("schemaAt went through an array without []")
	}
	if _, err := schemaAt(root, "spec.nope"); err == nil || !strings.Contains(err.Error(), "no field nope") {
		t.Errorf("schemaAt(spec.nope) error = %v", err)
	}
}

// collectDefaults lists "path=json(default)" for every default below node, sorted.
func collectDefaults(node map[string]any, path string) []string {
	var out []string
	if d, ok := node["default"]; ok {
		raw, _ := json.Marshal(d)
		out = append(out, fmt.Sprintf("%s=%s", path, raw))
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for name, child := range props {
			if m, ok := child.(map[string]any); ok {
				out = append(out, collectDefaults(m, joinPath(path, name))...)
			}
		}
	}
	if items, ok := node["items"].(map[string]any); ok {
		out = append(out, collectDefaults(items, path+"[]")...)
	}
	if ap, ok := node["additionalProperties"].(map[string]any); ok {
		out = append(out, collectDefaults(ap, path+"{}")...)
	}
	sort.Strings(out)
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func crdFiles(t *testing.T) []string {
	t.Helper()
	names, err := yamlFiles(basesDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 5 {
		t.Fatalf("want the 5 CRDs of argoproj.io/v1alpha1 in %s, found %v", basesDir, names)
	}
	return names
}

func loadSchema(t *testing.T, file string) map[string]any {
	t.Helper()
	var crd map[string]any
	mustUnmarshal(t, filepath.Join(basesDir, file), &crd)
	versions, _ := lookup(crd, "spec", "versions").([]any)
	if len(versions) != 1 {
		t.Fatalf("%s: want one version, got %d", file, len(versions))
	}
	root, _ := lookup(versions[0].(map[string]any), "schema", "openAPIV3Schema").(map[string]any)
	if root == nil {
		t.Fatalf("%s: no schema", file)
	}
	return root
}

func mustUnmarshal(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
