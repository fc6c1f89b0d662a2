package analysis

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/jsonpath"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// FieldValue reads a fieldRef path from an object, as upstream does for rollout and run
// arguments: paths under metadata follow the downward API (metadata.name,
// metadata.labels['k'], metadata.annotations, ...); any other path is a field path into the
// object, such as spec.template.spec.containers[0].image.
func FieldValue(obj runtime.Object, path string) (string, error) {
	if strings.HasPrefix(path, "metadata.") {
		return metadataField(obj, path)
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return "", err
	}
	jp := jsonpath.New("fieldRef")
	if err := jp.Parse("{." + path + "}"); err != nil {
		return "", fmt.Errorf("fieldRef %q: %w", path, err)
	}
	results, err := jp.FindResults(u)
	if err != nil {
		return "", fmt.Errorf("fieldRef %q: %w", path, err)
	}
	if len(results) == 0 || len(results[0]) == 0 {
		return "", fmt.Errorf("fieldRef %q: no such field", path)
	}
	var buf bytes.Buffer
	if err := jp.PrintResults(&buf, results[0][:1]); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func metadataField(obj runtime.Object, path string) (string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return "", err
	}
	if key, ok := subscript(path, "metadata.labels"); ok {
		return m.GetLabels()[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return m.GetAnnotations()[key], nil
	}
	switch path {
	case "metadata.name":
		return m.GetName(), nil
	case "metadata.namespace":
		return m.GetNamespace(), nil
	case "metadata.uid":
		return string(m.GetUID()), nil
	case "metadata.labels":
		return formatMap(m.GetLabels()), nil
	case "metadata.annotations":
		return formatMap(m.GetAnnotations()), nil
	}
	return "", fmt.Errorf("fieldRef %q: unsupported metadata field", path)
}

// subscript reads the key of `prefix['key']`.
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return "", false
	}
	key := strings.TrimSuffix(rest, "]")
	if len(key) >= 2 && (key[0] == '\'' || key[0] == '"') && key[len(key)-1] == key[0] {
		return key[1 : len(key)-1], true
	}
	return "", false
}

// formatMap renders labels as the downward API does: sorted key="value" lines.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(lines, "\n")
}

// ResolveRolloutArgs turns the args a rollout passes to its analysis into run arguments:
// podTemplateHashValue Stable and Latest take the given hashes, fieldRef reads the
// rollout.
func ResolveRolloutArgs(args []v1alpha1.AnalysisRunArgument, ro *v1alpha1.Rollout, stableHash, latestHash string) ([]v1alpha1.Argument, error) {
	out := make([]v1alpha1.Argument, 0, len(args))
	for _, a := range args {
		v := a.Value
		if vf := a.ValueFrom; vf != nil {
			switch {
			case vf.PodTemplateHashValue != nil && *vf.PodTemplateHashValue == v1alpha1.Stable:
				v = stableHash
			case vf.PodTemplateHashValue != nil && *vf.PodTemplateHashValue == v1alpha1.Latest:
				v = latestHash
			case vf.PodTemplateHashValue != nil:
				return nil, fmt.Errorf("arg %q: podTemplateHashValue must be Stable or Latest, not %q", a.Name, *vf.PodTemplateHashValue)
			case vf.FieldRef != nil:
				fv, err := FieldValue(ro, vf.FieldRef.FieldPath)
				if err != nil {
					return nil, fmt.Errorf("arg %q: %w", a.Name, err)
				}
				v = fv
			}
		}
		out = append(out, v1alpha1.Argument{Name: a.Name, Value: ptrTo(v)})
	}
	return out, nil
}
