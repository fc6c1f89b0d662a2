package analysis

import (
	"fmt"
	"maps"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Template is one AnalysisTemplate or ClusterAnalysisTemplate to merge into a run. Name
// and ClusterScope only serve error messages.
type Template struct {
	Name         string
	ClusterScope bool
	Spec         v1alpha1.AnalysisTemplateSpec
}

func (t Template) String() string {
	if t.ClusterScope {
		return fmt.Sprintf("ClusterAnalysisTemplate %q", t.Name)
	}
	return fmt.Sprintf("AnalysisTemplate %q", t.Name)
}

// RunOptions are what the creator of a run adds to its templates.
type RunOptions struct {
	Name         string
	GenerateName string
	Namespace    string
	Labels       map[string]string
	Annotations  map[string]string
	Owners       []metav1.OwnerReference
	// Args override the templates' arguments of the same name (a rollout's args, already
	// resolved with ResolveRolloutArgs). Args no template declares are ignored.
	Args []v1alpha1.Argument
	// DryRun and MeasurementRetention add to the templates' own; for a metric named in
	// both, these win.
	DryRun               []v1alpha1.DryRun
	MeasurementRetention []v1alpha1.MeasurementRetention
}

// NewRunFromTemplates merges templates (flattened: see FlattenTemplates) into one
// AnalysisRun. It fails, naming the templates involved, when two metrics share a name,
// when two templates give one argument different values, and when an argument is left
// without a value or valueFrom.
func NewRunFromTemplates(templates []Template, opts RunOptions) (*v1alpha1.AnalysisRun, error) {
	if len(templates) == 0 {
		return nil, fmt.Errorf("no analysis templates to build a run from")
	}
	var spec v1alpha1.AnalysisRunSpec
	metricFrom := map[string]Template{}
	argFrom := map[string]Template{}
	retentionFrom := map[string]Template{}
	for _, t := range templates {
		for _, m := range t.Spec.Metrics {
			if prev, dup := metricFrom[m.Name]; dup {
				return nil, fmt.Errorf("two metrics have the same name %q: in %s and %s", m.Name, prev, t)
			}
			metricFrom[m.Name] = t
			spec.Metrics = append(spec.Metrics, *m.DeepCopy())
		}
		for _, a := range t.Spec.Args {
			i := slices.IndexFunc(spec.Args, func(x v1alpha1.Argument) bool { return x.Name == a.Name })
			if i < 0 {
				argFrom[a.Name] = t
				spec.Args = append(spec.Args, *a.DeepCopy())
				continue
			}
			prev := &spec.Args[i]
			switch {
			case !hasValue(a):
			case !hasValue(*prev):
				*prev = *a.DeepCopy()
				argFrom[a.Name] = t
			case !sameValue(*prev, a):
				return nil, fmt.Errorf("argument %q has different values in %s and %s", a.Name, argFrom[a.Name], t)
			}
		}
		for _, d := range t.Spec.DryRun {
			spec.DryRun = addDryRun(spec.DryRun, d)
		}
		for _, r := range t.Spec.MeasurementRetention {
			if prev, dup := retentionFrom[r.MetricName]; dup {
				return nil, fmt.Errorf("two measurementRetention rules for metric %q: in %s and %s", r.MetricName, prev, t)
			}
			retentionFrom[r.MetricName] = t
			spec.MeasurementRetention = append(spec.MeasurementRetention, r)
		}
	}
	for _, a := range opts.Args {
		i := slices.IndexFunc(spec.Args, func(x v1alpha1.Argument) bool { return x.Name == a.Name })
		if i < 0 || !hasValue(a) {
			continue
		}
		spec.Args[i].Value, spec.Args[i].ValueFrom = nil, nil
		if a.Value != nil {
			spec.Args[i].Value = ptrTo(*a.Value)
		} else {
			spec.Args[i].ValueFrom = a.ValueFrom.DeepCopy()
		}
	}
	for _, a := range spec.Args {
		if !hasValue(a) {
			return nil, fmt.Errorf("args.%s was not resolved: %s declares it without a value and none was given", a.Name, argFrom[a.Name])
		}
	}
	for _, d := range opts.DryRun {
		spec.DryRun = addDryRun(spec.DryRun, d)
	}
	for _, r := range opts.MeasurementRetention {
		i := slices.IndexFunc(spec.MeasurementRetention, func(x v1alpha1.MeasurementRetention) bool { return x.MetricName == r.MetricName })
		if i >= 0 {
			spec.MeasurementRetention[i] = r
		} else {
			spec.MeasurementRetention = append(spec.MeasurementRetention, r)
		}
	}
	for _, d := range spec.DryRun {
		if d.MetricName != "*" && metricFrom[d.MetricName].Name == "" {
			return nil, fmt.Errorf("dryRun names metric %q, which no template defines", d.MetricName)
		}
	}
	for _, r := range spec.MeasurementRetention {
		if r.MetricName != "*" && metricFrom[r.MetricName].Name == "" {
			return nil, fmt.Errorf("measurementRetention names metric %q, which no template defines", r.MetricName)
		}
	}
	if len(spec.Metrics) == 0 {
		return nil, fmt.Errorf("the templates define no metrics")
	}
	run := &v1alpha1.AnalysisRun{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "AnalysisRun"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            opts.Name,
			GenerateName:    opts.GenerateName,
			Namespace:       opts.Namespace,
			Labels:          maps.Clone(opts.Labels),
			Annotations:     maps.Clone(opts.Annotations),
			OwnerReferences: slices.Clone(opts.Owners),
		},
		Spec: spec,
	}
	return run, nil
}

func hasValue(a v1alpha1.Argument) bool {
	return a.Value != nil || (a.ValueFrom != nil && (a.ValueFrom.SecretKeyRef != nil || a.ValueFrom.FieldRef != nil))
}

func sameValue(a, b v1alpha1.Argument) bool {
	if (a.Value == nil) != (b.Value == nil) || (a.Value != nil && *a.Value != *b.Value) {
		return false
	}
	var av, bv v1alpha1.ValueFrom
	if a.ValueFrom != nil {
		av = *a.ValueFrom
	}
	if b.ValueFrom != nil {
		bv = *b.ValueFrom
	}
	eqSecret := (av.SecretKeyRef == nil) == (bv.SecretKeyRef == nil) && (av.SecretKeyRef == nil || *av.SecretKeyRef == *bv.SecretKeyRef)
	eqField := (av.FieldRef == nil) == (bv.FieldRef == nil) && (av.FieldRef == nil || *av.FieldRef == *bv.FieldRef)
	return eqSecret && eqField
}

func addDryRun(list []v1alpha1.DryRun, d v1alpha1.DryRun) []v1alpha1.DryRun {
	if slices.Contains(list, d) {
		return list
	}
	return append(list, d)
}

func ptrTo[T any](v T) *T { return &v }

// TemplateLookup fetches a referenced template: an AnalysisTemplate from the namespace of
// the run to be, or a ClusterAnalysisTemplate when ref.ClusterScope.
type TemplateLookup func(ref v1alpha1.AnalysisTemplateRef) (*v1alpha1.AnalysisTemplateSpec, error)

// FlattenTemplates fetches the referenced templates and, depth first, the templates they
// reference in spec.templates, each once, in order. A template referencing itself through
// others is an error.
func FlattenTemplates(refs []v1alpha1.AnalysisTemplateRef, lookup TemplateLookup) ([]Template, error) {
	var out []Template
	seen := map[v1alpha1.AnalysisTemplateRef]bool{}
	var visit func(ref v1alpha1.AnalysisTemplateRef, path []v1alpha1.AnalysisTemplateRef) error
	visit = func(ref v1alpha1.AnalysisTemplateRef, path []v1alpha1.AnalysisTemplateRef) error {
		if slices.Contains(path, ref) {
			return fmt.Errorf("%s references itself through spec.templates", Template{Name: ref.TemplateName, ClusterScope: ref.ClusterScope})
		}
		if seen[ref] {
			return nil
		}
		seen[ref] = true
		spec, err := lookup(ref)
		if err != nil {
			return err
		}
		t := Template{Name: ref.TemplateName, ClusterScope: ref.ClusterScope, Spec: *spec.DeepCopy()}
		t.Spec.Templates = nil
		out = append(out, t)
		for _, child := range spec.Templates {
			if err := visit(child, append(path, ref)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, ref := range refs {
		if err := visit(ref, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}
