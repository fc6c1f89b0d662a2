package validation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// ValidateRollout returns every problem of the rollout's spec, in a stable order (the order
// of the fields), so that the InvalidSpec message does not flap between reconciles.
func ValidateRollout(ro *v1alpha1.Rollout) field.ErrorList {
	spec := &ro.Spec
	specPath := field.NewPath("spec")
	var errs field.ErrorList

	errs = append(errs, nonNegative(spec.Replicas, specPath.Child("replicas"))...)

	selPath := specPath.Child("selector")
	if spec.Selector == nil {
		if spec.WorkloadRef == nil {
			errs = append(errs, field.Required(selPath, fmt.Sprintf(MissingFieldMessage, ".spec.selector")))
		}
	} else {
		_, selErrs := validateSelector(spec.Selector, selPath)
		errs = append(errs, selErrs...)
	}

	tmplPath := specPath.Child("template")
	if spec.WorkloadRef != nil {
		errs = append(errs, validateWorkloadRef(spec.WorkloadRef, specPath.Child("workloadRef"))...)
		if !isEmptyTemplate(&spec.Template) {
			errs = append(errs, field.Forbidden(tmplPath, WorkloadRefWithTemplateMessage))
		}
	} else {
		errs = append(errs, ValidatePodTemplate(spec.Selector, &spec.Template, tmplPath)...)
	}

	errs = append(errs, nonNegative(&spec.MinReadySeconds, specPath.Child("minReadySeconds"))...)
	errs = append(errs, nonNegative(spec.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	pdsPath := specPath.Child("progressDeadlineSeconds")
	if pds := ro.GetProgressDeadlineSeconds(); pds < 0 {
		errs = append(errs, field.Invalid(pdsPath, pds, NegativeMessage))
	} else if pds <= spec.MinReadySeconds {
		errs = append(errs, field.Invalid(pdsPath, pds, ProgressDeadlineNotAboveMinReadyMsg))
	}
	if spec.RollbackWindow != nil {
		errs = append(errs, nonNegative(&spec.RollbackWindow.Revisions, specPath.Child("rollbackWindow", "revisions"))...)
	}
	if a := spec.Analysis; a != nil {
		p := specPath.Child("analysis")
		errs = append(errs, nonNegative(a.SuccessfulRunHistoryLimit, p.Child("successfulRunHistoryLimit"))...)
		errs = append(errs, nonNegative(a.UnsuccessfulRunHistoryLimit, p.Child("unsuccessfulRunHistoryLimit"))...)
	}

	errs = append(errs, validateStrategy(ro, specPath.Child("strategy"))...)
	return errs
}

func validateWorkloadRef(ref *v1alpha1.ObjectRef, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch ref.Kind {
	case "Deployment", "ReplicaSet", "PodTemplate":
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("kind"), ref.Kind, []string{"Deployment", "ReplicaSet", "PodTemplate"}))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), missingField(fldPath.Child("name"))))
	}
	switch ref.ScaleDown {
	case "", v1alpha1.ScaleDownNever, v1alpha1.ScaleDownOnSuccess, v1alpha1.ScaleDownProgressively:
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("scaleDown"), ref.ScaleDown,
			[]string{v1alpha1.ScaleDownNever, v1alpha1.ScaleDownOnSuccess, v1alpha1.ScaleDownProgressively}))
	}
	return errs
}

func validateStrategy(ro *v1alpha1.Rollout, fldPath *field.Path) field.ErrorList {
	s := &ro.Spec.Strategy
	switch {
	case s.BlueGreen == nil && s.Canary == nil:
		return field.ErrorList{field.Required(fldPath, fmt.Sprintf(MissingFieldMessage, ".spec.strategy.canary or .spec.strategy.blueGreen"))}
	case s.BlueGreen != nil && s.Canary != nil:
		return field.ErrorList{field.Invalid(fldPath, "blueGreen and canary", InvalidStrategyMessage)}
	case s.BlueGreen != nil:
		return validateBlueGreen(ro, fldPath.Child("blueGreen"))
	default:
		return validateCanary(ro, fldPath.Child("canary"))
	}
}

func validateBlueGreen(ro *v1alpha1.Rollout, fldPath *field.Path) field.ErrorList {
	bg := ro.Spec.Strategy.BlueGreen
	var errs field.ErrorList
	activePath := fldPath.Child("activeService")
	switch {
	case bg.ActiveService == "":
		errs = append(errs, field.Required(activePath, missingField(activePath)))
	case bg.ActiveService == bg.PreviewService:
		errs = append(errs, field.Invalid(activePath, bg.ActiveService, DuplicatedServicesBlueGreenMessage))
	}
	errs = append(errs, nonNegative(bg.PreviewReplicaCount, fldPath.Child("previewReplicaCount"))...)
	errs = append(errs, nonNegative(&bg.AutoPromotionSeconds, fldPath.Child("autoPromotionSeconds"))...)
	errs = append(errs, nonNegative(bg.ScaleDownDelaySeconds, fldPath.Child("scaleDownDelaySeconds"))...)
	errs = append(errs, nonNegative(bg.AbortScaleDownDelaySeconds, fldPath.Child("abortScaleDownDelaySeconds"))...)
	limitPath := fldPath.Child("scaleDownDelayRevisionLimit")
	if l := bg.ScaleDownDelayRevisionLimit; l != nil {
		if *l < 0 {
			errs = append(errs, field.Invalid(limitPath, *l, NegativeMessage))
		} else if *l > ro.GetRevisionHistoryLimit() {
			errs = append(errs, field.Invalid(limitPath, *l, ScaleDownLimitLargerThanRevisionMsg))
		}
	}
	if bg.MaxUnavailable != nil {
		_, err := checkIntOrPercent(*bg.MaxUnavailable, fldPath.Child("maxUnavailable"), true)
		errs = append(errs, err...)
	}
	errs = append(errs, validateRolloutAnalysis(bg.PrePromotionAnalysis, fldPath.Child("prePromotionAnalysis"))...)
	errs = append(errs, validateRolloutAnalysis(bg.PostPromotionAnalysis, fldPath.Child("postPromotionAnalysis"))...)
	errs = append(errs, validateAntiAffinity(bg.AntiAffinity, fldPath.Child("antiAffinity"))...)
	return errs
}

func validateAntiAffinity(a *v1alpha1.AntiAffinity, fldPath *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	preferred, required := a.PreferredDuringSchedulingIgnoredDuringExecution, a.RequiredDuringSchedulingIgnoredDuringExecution
	if (preferred == nil) == (required == nil) {
		errs = append(errs, field.Invalid(fldPath, setNames(
			named{"preferredDuringSchedulingIgnoredDuringExecution", preferred != nil},
			named{"requiredDuringSchedulingIgnoredDuringExecution", required != nil},
		), InvalidAntiAffinityStrategyMessage))
	}
	if preferred != nil && (preferred.Weight < 1 || preferred.Weight > 100) {
		errs = append(errs, field.Invalid(fldPath.Child("preferredDuringSchedulingIgnoredDuringExecution", "weight"), preferred.Weight, InvalidAntiAffinityWeightMessage))
	}
	return errs
}

// checkIntOrPercent validates maxSurge/maxUnavailable and returns the value as a
// percentage-or-count for the "both zero" rule (-1 when invalid).
func checkIntOrPercent(v intstr.IntOrString, fldPath *field.Path, capAt100 bool) (int, field.ErrorList) {
	n, percent, err := intOrPercent(v)
	if err != nil {
		return -1, field.ErrorList{field.Invalid(fldPath, v.String(), err.Error())}
	}
	if n < 0 {
		return -1, field.ErrorList{field.Invalid(fldPath, v.String(), NegativeMessage)}
	}
	if percent && capAt100 && n > 100 {
		return -1, field.ErrorList{field.Invalid(fldPath, v.String(), PercentOver100Message)}
	}
	return n, nil
}

func nonNegative[T ~int32 | ~int64](v *T, fldPath *field.Path) field.ErrorList {
	if v == nil || *v >= 0 {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, int64(*v), NegativeMessage)}
}

// named pairs a field name with whether it is set, for listing what a user set.
type named struct {
	name string
	set  bool
}

// setNames lists the names that are set, or "{}" when none is, as the bad value of an
// exactly-one-of error.
func setNames(fields ...named) string {
	out := ""
	for _, f := range fields {
		if !f.set {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += f.name
	}
	if out == "" {
		return "{}"
	}
	return out
}
