package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateSelector checks a rollout selector on its own: it must select something, and be
// well formed. It returns the parsed selector, or nil when it cannot be used.
func validateSelector(sel *metav1.LabelSelector, fldPath *field.Path) (labels.Selector, field.ErrorList) {
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		return nil, field.ErrorList{field.Invalid(fldPath, "{}", SelectAllMessage)}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, fldPath)
	if len(errs) > 0 {
		return nil, errs
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, field.ErrorList{field.Invalid(fldPath, sel.String(), err.Error())}
	}
	return s, nil
}

// ValidatePodTemplate checks a pod template the way the API server will check the
// ReplicaSets made from it, for the mistakes that would otherwise only surface as a failed
// ReplicaSet create: selector mismatch, no containers, unnamed or duplicate containers,
// missing images, restart policies a ReplicaSet cannot have. The controller also calls it
// on templates resolved from a workloadRef. selector may be nil when it is checked
// elsewhere.
func ValidatePodTemplate(selector *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	labelsPath := fldPath.Child("metadata", "labels")
	errs = append(errs, metav1validation.ValidateLabels(tmpl.Labels, labelsPath)...)
	if selector != nil && len(selector.MatchLabels)+len(selector.MatchExpressions) > 0 {
		if s, err := metav1.LabelSelectorAsSelector(selector); err == nil && !s.Matches(labels.Set(tmpl.Labels)) {
			errs = append(errs, field.Invalid(labelsPath, tmpl.Labels, SelectorNotMatchingLabelsMessage))
		}
	}

	spec := &tmpl.Spec
	specPath := fldPath.Child("spec")
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(specPath.Child("containers"), missingField(specPath.Child("containers"))))
	}
	names := map[string]bool{}
	errs = append(errs, validateContainers(spec.Containers, specPath.Child("containers"), names)...)
	errs = append(errs, validateContainers(spec.InitContainers, specPath.Child("initContainers"), names)...)

	switch spec.RestartPolicy {
	case "", corev1.RestartPolicyAlways:
	default:
		errs = append(errs, field.NotSupported(specPath.Child("restartPolicy"), spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(specPath.Child("activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicaSet is not Supported"))
	}
	return errs
}

// validateContainers checks names and images; names must be unique across containers and
// init containers, which share one namespace in a pod.
func validateContainers(cs []corev1.Container, fldPath *field.Path, seen map[string]bool) field.ErrorList {
	var errs field.ErrorList
	for i := range cs {
		c := &cs[i]
		p := fldPath.Index(i)
		nameErrs := uniqueName(c.Name, p.Child("name"), seen, "every container needs a name")
		errs = append(errs, nameErrs...)
		if len(nameErrs) == 0 {
			for _, msg := range utilvalidation.IsDNS1123Label(c.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
			}
		}
		if c.Image == "" {
			errs = append(errs, field.Required(p.Child("image"), "every container needs an image"))
		}
	}
	return errs
}

// isEmptyTemplate reports whether the user left spec.template out, as a workloadRef
// rollout must.
// Semantic equality treats `labels: {}` like no labels, as the user would.
func isEmptyTemplate(t *corev1.PodTemplateSpec) bool {
	return equality.Semantic.DeepEqual(*t, corev1.PodTemplateSpec{})
}

func missingField(p *field.Path) string {
	return fmt.Sprintf(MissingFieldMessage, p.String())
}
