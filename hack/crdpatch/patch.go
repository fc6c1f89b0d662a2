package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// podTemplatePaths lists, per kind, where a corev1.PodTemplateSpec sits in the spec. The
// list is explicit (and cross-checked by findPodSpecs) because each entry changes what the
// API server prunes and defaults, and so the pod-template-hash (compat.md §6.1).
var podTemplatePaths = map[string][]string{
	"Rollout":                 {"spec.template"},
	"Experiment":              {"spec.templates[].template"},
	"AnalysisTemplate":        {"spec.metrics[].provider.job.spec.template"},
	"ClusterAnalysisTemplate": {"spec.metrics[].provider.job.spec.template"},
	"AnalysisRun":             {"spec.metrics[].provider.job.spec.template"},
}

// objectMetaPaths lists embedded metav1.ObjectMeta fields other than those of pod templates.
// controller-gen renders them as a bare `type: object`, which would prune every key.
var objectMetaPaths = map[string][]string{
	"AnalysisTemplate":        {"spec.metrics[].provider.job.metadata"},
	"ClusterAnalysisTemplate": {"spec.metrics[].provider.job.metadata"},
	"AnalysisRun":             {"spec.metrics[].provider.job.metadata"},
}

// embeddedAPIPaths lists, per kind, the Kubernetes API objects embedded as templates. Their
// x-kubernetes-validations are dropped: they are the rules of live objects (mostly "this
// field is immutable" transition rules, e.g. JobSpec.scheduling in k8s 1.37), meaningless
// for a template a user edits, and the API server refuses transition rules below a list
// such as metrics[]. The real Pod, ReplicaSet or Job is checked by its own API when the
// controller creates it, and upstream's CRDs (older k8s.io/api) have none of these rules.
var embeddedAPIPaths = map[string][]string{
	"Rollout":                 {"spec.template"},
	"Experiment":              {"spec.templates[].template"},
	"AnalysisTemplate":        {"spec.metrics[].provider.job"},
	"ClusterAnalysisTemplate": {"spec.metrics[].provider.job"},
	"AnalysisRun":             {"spec.metrics[].provider.job"},
}

// optionalContainersPaths lists pod specs whose containers the schema must not require.
// A workloadRef Rollout has an empty template, which encoding/json writes as
// {"containers":null}; the API server prunes the null and would then reject every write
// of such a rollout by a typed Go client (controller, CLI). ValidateRollout reports a
// rollout with neither containers nor a workloadRef as InvalidSpec instead.
var optionalContainersPaths = map[string][]string{
	"Rollout": {"spec.template.spec"},
}

// containerLists are the PodSpec fields whose items are corev1.Container-like.
var containerLists = []string{"containers", "initContainers", "ephemeralContainers"}

// PatchCRD post-processes one CustomResourceDefinition as written by controller-gen and
// returns it re-encoded. It refuses to return a schema the API server would reject.
func PatchCRD(in []byte) ([]byte, error) {
	var crd map[string]any
	if err := yaml.Unmarshal(in, &crd); err != nil {
		return nil, fmt.Errorf("decoding CRD: %w", err)
	}
	kind, _ := lookup(crd, "spec", "names", "kind").(string)
	if _, known := podTemplatePaths[kind]; !known {
		return nil, fmt.Errorf("CRD for unknown kind %q: add it to podTemplatePaths", kind)
	}
	versions, _ := lookup(crd, "spec", "versions").([]any)
	if len(versions) == 0 {
		return nil, fmt.Errorf("%s: CRD has no versions", kind)
	}
	for _, v := range versions {
		version, _ := v.(map[string]any)
		root, _ := lookup(version, "schema", "openAPIV3Schema").(map[string]any)
		if root == nil {
			return nil, fmt.Errorf("%s: version %v has no openAPIV3Schema", kind, version["name"])
		}
		if err := patchSchema(kind, root); err != nil {
			return nil, fmt.Errorf("%s %v: %w", kind, version["name"], err)
		}
		if err := checkSchema(root); err != nil {
			return nil, fmt.Errorf("%s %v: %w", kind, version["name"], err)
		}
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return nil, err
	}
	// Keep controller-gen's document marker so that concatenated files stay valid streams.
	return append([]byte("---\n"), out...), nil
}

// patchSchema applies every structural override to the schema of one CRD version.
func patchSchema(kind string, root map[string]any) error {
	var errs []error
	for _, p := range podTemplatePaths[kind] {
		tmpl, err := schemaAt(root, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := patchPodTemplate(tmpl); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	for _, p := range objectMetaPaths[kind] {
		if err := replaceAt(root, p, labelsAndAnnotations()); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range optionalContainersPaths[kind] {
		if err := unrequire(root, p, "containers"); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range embeddedAPIPaths[kind] {
		node, err := schemaAt(root, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		dropValidations(node)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// A PodSpec that is not in podTemplatePaths would keep controller-gen's volume and
	// quantity schemas and its 47 defaults; catch a new one as soon as a type grows it.
	want := map[string]bool{}
	for _, p := range podTemplatePaths[kind] {
		want[p+".spec"] = true
	}
	for _, found := range findPodSpecs(root, "") {
		if !want[found] {
			errs = append(errs, fmt.Errorf("pod spec at %s is not listed in podTemplatePaths", found))
		}
	}
	return errors.Join(errs...)
}

// patchPodTemplate gives a PodTemplateSpec the same shape as upstream's CRDs: labels and
// annotations only in its metadata (so other keys are pruned, as upstream does), and
// volumes and resource quantities left unvalidated. Quantities are validated again when
// the ReplicaSet is created and their schemas are large; the volume schemas carry 19 of
// controller-gen's defaults that upstream's CRD does not apply. Volume names stay typed
// because they are the list-map key (see keepListMapKeys).
func patchPodTemplate(tmpl map[string]any) error {
	var errs []error
	if err := replaceAt(tmpl, "metadata", labelsAndAnnotations()); err != nil {
		errs = append(errs, err)
	}
	if err := replaceAt(tmpl, "spec.volumes[]", preservedObject()); err != nil {
		errs = append(errs, err)
	}
	for _, list := range containerLists {
		for _, q := range []string{"limits", "requests"} {
			if err := replaceAt(tmpl, "spec."+list+"[].resources."+q, preservedObject()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Pod-level resources are newer than upstream's snapshot; treat them like the
	// container ones when the API has them.
	if _, err := schemaAt(tmpl, "spec.resources"); err == nil {
		for _, q := range []string{"limits", "requests"} {
			if err := replaceAt(tmpl, "spec.resources."+q, preservedObject()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// unrequire removes name from the required fields of the object at path.
func unrequire(root map[string]any, path, name string) error {
	node, err := schemaAt(root, path)
	if err != nil {
		return err
	}
	if _, ok := lookup(node, "properties", name).(map[string]any); !ok {
		return fmt.Errorf("schema has no field %s (looking for %s.%s)", name, path, name)
	}
	required, _ := node["required"].([]any)
	required = slices.DeleteFunc(slices.Clone(required), func(r any) bool { return r == name })
	if len(required) == 0 {
		delete(node, "required")
	} else {
		node["required"] = required
	}
	return nil
}

// dropValidations removes every x-kubernetes-validations at or below node.
func dropValidations(node map[string]any) {
	delete(node, "x-kubernetes-validations")
	if props, ok := node["properties"].(map[string]any); ok {
		for _, child := range props {
			if m, ok := child.(map[string]any); ok {
				dropValidations(m)
			}
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if m, ok := node[key].(map[string]any); ok {
			dropValidations(m)
		}
	}
}

func preservedObject() map[string]any {
	return map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
}

func labelsAndAnnotations() map[string]any {
	stringMap := func() map[string]any {
		return map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}
	}
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"labels":      stringMap(),
			"annotations": stringMap(),
		},
	}
}

// schemaAt follows a dotted field path through a schema; "name[]" steps into the items of
// the array "name".
func schemaAt(root map[string]any, path string) (map[string]any, error) {
	node := root
	for _, part := range strings.Split(path, ".") {
		name, isArray := strings.CutSuffix(part, "[]")
		props, _ := node["properties"].(map[string]any)
		next, _ := props[name].(map[string]any)
		if next == nil {
			return nil, fmt.Errorf("schema has no field %s (looking for %s)", name, path)
		}
		if isArray {
			items, _ := next["items"].(map[string]any)
			if items == nil {
				return nil, fmt.Errorf("field %s has no items (looking for %s)", name, path)
			}
			next = items
		}
		node = next
	}
	return node, nil
}

// replaceAt swaps the schema at path for repl; the path must already exist so that a
// renamed field fails the generation instead of silently growing a new property.
func replaceAt(root map[string]any, path string, repl map[string]any) error {
	parentPath, last := "", path
	if i := strings.LastIndex(path, "."); i >= 0 {
		parentPath, last = path[:i], path[i+1:]
	}
	parent := root
	if parentPath != "" {
		var err error
		if parent, err = schemaAt(root, parentPath); err != nil {
			return err
		}
	}
	name, isArray := strings.CutSuffix(last, "[]")
	props, _ := parent["properties"].(map[string]any)
	field, _ := props[name].(map[string]any)
	if field == nil {
		return fmt.Errorf("schema has no field %s (looking for %s)", name, path)
	}
	if !isArray {
		props[name] = repl
		return nil
	}
	old, ok := field["items"].(map[string]any)
	if !ok {
		return fmt.Errorf("field %s has no items (looking for %s)", name, path)
	}
	field["items"] = keepListMapKeys(field, old, repl)
	return nil
}

// keepListMapKeys carries the key properties of an x-kubernetes-list-type=map array over
// to its replacement item schema. The API server requires them there, and keeping the list
// a map lets server-side apply merge entries by key, as it does for a Deployment.
func keepListMapKeys(array, oldItems, newItems map[string]any) map[string]any {
	keys, _ := array["x-kubernetes-list-map-keys"].([]any)
	if array["x-kubernetes-list-type"] != "map" || len(keys) == 0 {
		return newItems
	}
	oldProps, _ := oldItems["properties"].(map[string]any)
	oldRequired, _ := oldItems["required"].([]any)
	props := map[string]any{}
	var required []any
	for _, k := range keys {
		name, _ := k.(string)
		if p, ok := oldProps[name]; ok {
			props[name] = p
		}
		if slices.Contains(oldRequired, k) {
			required = append(required, k)
		}
	}
	newItems["properties"] = props
	if len(required) > 0 {
		newItems["required"] = required
	}
	return newItems
}

// findPodSpecs returns the dotted paths of every schema node that looks like a PodSpec.
func findPodSpecs(node map[string]any, path string) []string {
	var found []string
	props, _ := node["properties"].(map[string]any)
	if props["containers"] != nil && props["initContainers"] != nil {
		found = append(found, path)
	}
	for name, child := range props {
		if m, ok := child.(map[string]any); ok {
			found = append(found, findPodSpecs(m, joinPath(path, name))...)
		}
	}
	if items, ok := node["items"].(map[string]any); ok {
		found = append(found, findPodSpecs(items, path+"[]")...)
	}
	return found
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// lookup walks nested maps by key and returns nil when a key is missing.
func lookup(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}
