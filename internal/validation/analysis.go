package validation

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis/metricsource"
)

// validateRolloutAnalysis checks an analysis a rollout asks for (step, background, pre- or
// post-promotion); nil means none was asked for.
func validateRolloutAnalysis(a *v1alpha1.RolloutAnalysis, p *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	tp := p.Child("templates")
	if len(a.Templates) == 0 {
		errs = append(errs, field.Required(tp, AnalysisNoTemplatesMessage))
	}
	for i, t := range a.Templates {
		if t.TemplateName == "" {
			errs = append(errs, field.Required(tp.Index(i).Child("templateName"), missingField(tp.Index(i).Child("templateName"))))
		}
	}
	errs = append(errs, validateRolloutArgs(a.Args, p.Child("args"))...)
	errs = append(errs, validateMetricSelections(a.DryRun, a.MeasurementRetention, p)...)
	return errs
}

// validateMetricSelections checks the dryRun and measurementRetention lists of an analysis
// (a rollout's or an experiment's), below p: each entry names a metric.
func validateMetricSelections(dryRun []v1alpha1.DryRun, retention []v1alpha1.MeasurementRetention, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, d := range dryRun {
		if d.MetricName == "" {
			errs = append(errs, field.Required(p.Child("dryRun").Index(i).Child("metricName"), "name a metric, or \"*\" for all"))
		}
	}
	for i, m := range retention {
		mp := p.Child("measurementRetention").Index(i)
		if m.MetricName == "" {
			errs = append(errs, field.Required(mp.Child("metricName"), "name a metric, or \"*\" for all"))
		}
		errs = append(errs, nonNegative(&m.Limit, mp.Child("limit"))...)
	}
	return errs
}

// uniqueName checks the name of one item of a list whose names must be unique, at p:
// missing is the message for an empty name. It marks the name as seen.
func uniqueName(name string, p *field.Path, seen map[string]bool, missing string) field.ErrorList {
	var errs field.ErrorList
	switch {
	case name == "":
		errs = append(errs, field.Required(p, missing))
	case seen[name]:
		errs = append(errs, field.Duplicate(p, name))
	}
	seen[name] = true
	return errs
}

// validateRolloutArgs checks the arguments a rollout passes to its AnalysisRuns.
func validateRolloutArgs(args []v1alpha1.AnalysisRunArgument, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, a := range args {
		ap := p.Index(i)
		errs = append(errs, uniqueName(a.Name, ap.Child("name"), seen, missingField(ap.Child("name")))...)
		vf := a.ValueFrom
		if vf == nil {
			continue
		}
		if a.Value != "" {
			errs = append(errs, field.Invalid(ap, a.Name, "set value or valueFrom, not both"))
		}
		if (vf.PodTemplateHashValue == nil) == (vf.FieldRef == nil) {
			errs = append(errs, field.Invalid(ap.Child("valueFrom"), a.Name, "set exactly one of podTemplateHashValue and fieldRef"))
		}
		if h := vf.PodTemplateHashValue; h != nil && *h != v1alpha1.Stable && *h != v1alpha1.Latest {
			errs = append(errs, field.NotSupported(ap.Child("valueFrom", "podTemplateHashValue"), *h, []v1alpha1.ValueFromPodTemplateHash{v1alpha1.Stable, v1alpha1.Latest}))
		}
		if f := vf.FieldRef; f != nil && f.FieldPath == "" {
			errs = append(errs, field.Required(ap.Child("valueFrom", "fieldRef", "fieldPath"), missingField(ap.Child("valueFrom", "fieldRef", "fieldPath"))))
		}
	}
	return errs
}

// ValidateAnalysisTemplateSpec checks an AnalysisTemplate or ClusterAnalysisTemplate.
// A template may hold no metrics of its own when it only merges other templates.
func ValidateAnalysisTemplateSpec(spec *v1alpha1.AnalysisTemplateSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Metrics) == 0 && len(spec.Templates) == 0 {
		errs = append(errs, field.Required(fldPath.Child("metrics"), NoMetricsMessage))
	} else if len(spec.Metrics) > 0 {
		errs = append(errs, ValidateMetrics(spec.Metrics, fldPath.Child("metrics"))...)
	}
	errs = append(errs, validateArgs(spec.Args, fldPath.Child("args"))...)
	for i, t := range spec.Templates {
		if t.TemplateName == "" {
			p := fldPath.Child("templates").Index(i).Child("templateName")
			errs = append(errs, field.Required(p, "name the template to merge"))
		}
	}
	return errs
}

// ValidateAnalysisRunSpec checks an AnalysisRun; unlike a template it must measure
// something itself.
func ValidateAnalysisRunSpec(spec *v1alpha1.AnalysisRunSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Metrics) == 0 {
		errs = append(errs, field.Required(fldPath.Child("metrics"), NoMetricsMessage))
	}
	errs = append(errs, ValidateMetrics(spec.Metrics, fldPath.Child("metrics"))...)
	errs = append(errs, validateArgs(spec.Args, fldPath.Child("args"))...)
	return errs
}

// validateArgs checks the arguments declared by a template or run.
func validateArgs(args []v1alpha1.Argument, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, a := range args {
		ap := p.Index(i)
		errs = append(errs, uniqueName(a.Name, ap.Child("name"), seen, "every argument needs a name")...)
		if a.Value != nil && a.ValueFrom != nil {
			errs = append(errs, field.Invalid(ap, a.Name, "set value or valueFrom, not both"))
		}
		if vf := a.ValueFrom; vf != nil {
			if (vf.SecretKeyRef == nil) == (vf.FieldRef == nil) {
				errs = append(errs, field.Invalid(ap.Child("valueFrom"), a.Name, "set exactly one of secretKeyRef and fieldRef"))
			}
			if s := vf.SecretKeyRef; s != nil && (s.Name == "" || s.Key == "") {
				errs = append(errs, field.Required(ap.Child("valueFrom", "secretKeyRef"), "secretKeyRef needs both name and key"))
			}
		}
	}
	return errs
}

// ValidateMetrics checks a list of metrics: unique names, exactly one provider each, and
// counts, limits and durations that can be read. Values still holding {{args.*}}
// placeholders are checked once the run resolves them.
func ValidateMetrics(metrics []v1alpha1.Metric, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i := range metrics {
		m := &metrics[i]
		p := fldPath.Index(i)
		errs = append(errs, uniqueName(m.Name, p.Child("name"), seen, "every metric needs a name")...)
		errs = append(errs, validateMetric(m, p)...)
	}
	return errs
}

func validateMetric(m *v1alpha1.Metric, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	count, countKnown := readIntOrArg(m.Count, p.Child("count"), 0, &errs)
	failureLimit, failureKnown := readIntOrArg(m.FailureLimit, p.Child("failureLimit"), 0, &errs)
	inconclusiveLimit, inconclusiveKnown := readIntOrArg(m.InconclusiveLimit, p.Child("inconclusiveLimit"), 0, &errs)
	consecErr, consecErrKnown := readIntOrArg(m.ConsecutiveErrorLimit, p.Child("consecutiveErrorLimit"), int(v1alpha1.DefaultConsecutiveErrorLimit), &errs)
	consecOK, consecOKKnown := readIntOrArg(m.ConsecutiveSuccessLimit, p.Child("consecutiveSuccessLimit"), 0, &errs)

	if countKnown && count < 0 {
		errs = append(errs, field.Invalid(p.Child("count"), count, NegativeMessage))
	}
	// -1 turns the failure limit off (compat.md §3.1).
	if failureKnown && failureLimit < -1 {
		errs = append(errs, field.Invalid(p.Child("failureLimit"), failureLimit, "must be -1 (no limit) or greater"))
	}
	if inconclusiveKnown && inconclusiveLimit < 0 {
		errs = append(errs, field.Invalid(p.Child("inconclusiveLimit"), inconclusiveLimit, NegativeMessage))
	}
	if consecErrKnown && consecErr < 0 {
		errs = append(errs, field.Invalid(p.Child("consecutiveErrorLimit"), consecErr, NegativeMessage))
	}
	if consecOKKnown && consecOK < 0 {
		errs = append(errs, field.Invalid(p.Child("consecutiveSuccessLimit"), consecOK, NegativeMessage))
	}
	if countKnown && count > 0 {
		if failureKnown && count < failureLimit {
			errs = append(errs, field.Invalid(p.Child("count"), count, "count must be >= failureLimit"))
		}
		if inconclusiveKnown && count < inconclusiveLimit {
			errs = append(errs, field.Invalid(p.Child("count"), count, "count must be >= inconclusiveLimit"))
		}
	}
	if countKnown && count > 1 && m.Interval == "" {
		errs = append(errs, field.Required(p.Child("interval"), IntervalRequiredMessage))
	}
	errs = append(errs, checkDurationString(m.Interval, p.Child("interval"))...)
	errs = append(errs, checkDurationString(m.InitialDelay, p.Child("initialDelay"))...)

	if providers := metricsource.Names(&m.Provider); len(providers) == 0 {
		errs = append(errs, field.Required(p.Child("provider"), NoProviderMessage))
	} else if len(providers) > 1 {
		errs = append(errs, field.Invalid(p.Child("provider"), strings.Join(providers, ", "), MultipleProvidersMessage))
	}
	errs = append(errs, metricsource.Validate(&m.Provider, p.Child("provider"))...)
	return errs
}

// readIntOrArg reads an optional templatable integer, recording an error when it is
// neither an integer nor a placeholder. known is false when nothing can be checked.
func readIntOrArg(v *intstr.IntOrString, p *field.Path, def int, errs *field.ErrorList) (int, bool) {
	if v == nil {
		return def, true
	}
	n, known, err := intOrArg(*v)
	if err != nil {
		*errs = append(*errs, field.Invalid(p, v.String(), err.Error()))
	}
	return n, known
}

func checkDurationString(d v1alpha1.DurationString, p *field.Path) field.ErrorList {
	if d == "" || isTemplated(string(d)) {
		return nil
	}
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return field.ErrorList{field.Invalid(p, string(d), DurationUnitMessage)}
	}
	if v < 0 {
		return field.ErrorList{field.Invalid(p, string(d), NegativeMessage)}
	}
	return nil
}
