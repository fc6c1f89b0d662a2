package validation

import (
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// ValidateExperiment checks an Experiment on its own: each template must be able to
// become a ReplicaSet (named, with a selector matching its pod labels), durations must
// read, and each analysis must name its template. Template references are resolved
// against the cluster elsewhere.
func ValidateExperiment(exp *v1alpha1.Experiment) field.ErrorList {
	spec := &exp.Spec
	specPath := field.NewPath("spec")
	var errs field.ErrorList

	tmplsPath := specPath.Child("templates")
	if len(spec.Templates) == 0 {
		errs = append(errs, field.Required(tmplsPath, "an experiment needs at least one template"))
	}
	names := map[string]bool{}
	for i := range spec.Templates {
		t := &spec.Templates[i]
		tp := tmplsPath.Index(i)
		errs = append(errs, uniqueName(t.Name, tp.Child("name"), names, "every template needs a name")...)
		errs = append(errs, nonNegative(t.Replicas, tp.Child("replicas"))...)
		errs = append(errs, nonNegative(&t.MinReadySeconds, tp.Child("minReadySeconds"))...)
		if t.Selector == nil {
			errs = append(errs, field.Required(tp.Child("selector"), "a template needs a selector matching its pod labels"))
		} else if _, selErrs := validateSelector(t.Selector, tp.Child("selector")); len(selErrs) > 0 {
			errs = append(errs, selErrs...)
		}
		errs = append(errs, ValidatePodTemplate(t.Selector, &t.Template, tp.Child("template"))...)
	}

	if d := spec.Duration; d != "" && !isTemplated(string(d)) {
		if v, err := time.ParseDuration(string(d)); err != nil {
			errs = append(errs, field.Invalid(specPath.Child("duration"), string(d), DurationUnitMessage))
		} else if v <= 0 {
			errs = append(errs, field.Invalid(specPath.Child("duration"), string(d), InvalidDurationMessage))
		}
	}
	errs = append(errs, nonNegative(spec.ProgressDeadlineSeconds, specPath.Child("progressDeadlineSeconds"))...)
	errs = append(errs, nonNegative(spec.ScaleDownDelaySeconds, specPath.Child("scaleDownDelaySeconds"))...)

	analysesPath := specPath.Child("analyses")
	analyses := map[string]bool{}
	for i, a := range spec.Analyses {
		ap := analysesPath.Index(i)
		errs = append(errs, uniqueName(a.Name, ap.Child("name"), analyses, "every analysis needs a name")...)
		if a.TemplateName == "" {
			errs = append(errs, field.Required(ap.Child("templateName"), "name the AnalysisTemplate (or, with clusterScope, ClusterAnalysisTemplate) to run"))
		}
		errs = append(errs, validateArgs(a.Args, ap.Child("args"))...)
	}
	errs = append(errs, validateMetricSelections(spec.DryRun, spec.MeasurementRetention, specPath)...)
	return errs
}
