package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
	"github.com/tern-rollouts/tern/internal/validation"
)

// RunFromTemplate says how to instantiate an AnalysisRun by hand, outside any rollout.
type RunFromTemplate struct {
	Namespace string
	// TemplateName names the template; with ClusterScope a ClusterAnalysisTemplate,
	// else an AnalysisTemplate of Namespace.
	TemplateName string
	ClusterScope bool
	// Spec, when set, is the template itself (read from a file) instead of one fetched
	// from the cluster. Templates it references are still fetched.
	Spec *v1alpha1.AnalysisTemplateSpec
	// Args give values to the templates' arguments, in the order given.
	Args []v1alpha1.Argument
	// Name or GenerateName of the run; without both the run is named after the template
	// with a random suffix.
	Name, GenerateName string
	// InstanceID, when set, labels the run for the controller instance of that id.
	InstanceID string
}

// BuildAnalysisRun merges the template and those it references into a run, with args
// filled in. It fails when an argument given is declared by none of the templates (a
// typo would otherwise be ignored silently), when one is left without a value, and when
// the result would not pass validation.
func BuildAnalysisRun(ctx context.Context, c client.Client, o RunFromTemplate) (*v1alpha1.AnalysisRun, error) {
	lookup := func(ref v1alpha1.AnalysisTemplateRef) (*v1alpha1.AnalysisTemplateSpec, error) {
		return getTemplate(ctx, c, o.Namespace, ref)
	}
	top := v1alpha1.AnalysisTemplateRef{TemplateName: o.TemplateName, ClusterScope: o.ClusterScope}
	var templates []analysis.Template
	var err error
	if o.Spec == nil {
		templates, err = analysis.FlattenTemplates([]v1alpha1.AnalysisTemplateRef{top}, lookup)
	} else {
		own := analysis.Template{Name: o.TemplateName, ClusterScope: o.ClusterScope, Spec: *o.Spec.DeepCopy()}
		own.Spec.Templates = nil
		var nested []analysis.Template
		nested, err = analysis.FlattenTemplates(o.Spec.Templates, lookup)
		templates = append([]analysis.Template{own}, nested...)
	}
	if err != nil {
		return nil, err
	}
	for _, a := range o.Args {
		if !declares(templates, a.Name) {
			names := "none"
			if d := declared(templates); len(d) > 0 {
				names = strings.Join(d, ", ")
			}
			return nil, fmt.Errorf("argument %q is not declared by %s (it declares: %s)", a.Name, templates[0], names)
		}
	}
	opts := analysis.RunOptions{
		Name:         o.Name,
		GenerateName: o.GenerateName,
		Namespace:    o.Namespace,
		Args:         o.Args,
	}
	if opts.Name == "" && opts.GenerateName == "" {
		opts.GenerateName = o.TemplateName + "-"
	}
	if o.InstanceID != "" {
		opts.Labels = map[string]string{v1alpha1.LabelKeyControllerInstanceID: o.InstanceID}
	}
	run, err := analysis.NewRunFromTemplates(templates, opts)
	if err != nil {
		return nil, err
	}
	if errs := validation.ValidateAnalysisRunSpec(&run.Spec, field.NewPath("spec")); len(errs) > 0 {
		return nil, fmt.Errorf("the AnalysisRun built from %s is invalid: %s", templates[0], validation.InvalidSpecMessage(errs))
	}
	return run, nil
}

func getTemplate(ctx context.Context, c client.Client, ns string, ref v1alpha1.AnalysisTemplateRef) (*v1alpha1.AnalysisTemplateSpec, error) {
	if ref.ClusterScope {
		t := &v1alpha1.ClusterAnalysisTemplate{}
		if err := c.Get(ctx, types.NamespacedName{Name: ref.TemplateName}, t); err != nil {
			return nil, err
		}
		return &t.Spec, nil
	}
	t := &v1alpha1.AnalysisTemplate{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.TemplateName}, t); err != nil {
		return nil, explain(err, ns)
	}
	return &t.Spec, nil
}

func declares(templates []analysis.Template, name string) bool {
	return slices.Contains(declared(templates), name)
}

// declared lists the argument names of the templates, each once, in order.
func declared(templates []analysis.Template) []string {
	var names []string
	for _, t := range templates {
		for _, a := range t.Spec.Args {
			if !slices.Contains(names, a.Name) {
				names = append(names, a.Name)
			}
		}
	}
	return names
}
