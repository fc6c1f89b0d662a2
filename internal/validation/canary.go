package validation

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func validateCanary(ro *v1alpha1.Rollout, fldPath *field.Path) field.ErrorList {
	c := ro.Spec.Strategy.Canary
	tr := c.TrafficRouting
	var errs field.ErrorList

	surgePath, unavailPath := fldPath.Child("maxSurge"), fldPath.Child("maxUnavailable")
	maxSurge, maxUnavailable := c.MaxSurgeOrDefault(), c.MaxUnavailableOrDefault()
	surge, surgeErrs := checkIntOrPercent(maxSurge, surgePath, false)
	unavail, unavailErrs := checkIntOrPercent(maxUnavailable, unavailPath, true)
	errs = append(errs, surgeErrs...)
	errs = append(errs, unavailErrs...)
	if surge == 0 && unavail == 0 {
		errs = append(errs, field.Invalid(surgePath, maxSurge.String(), InvalidMaxSurgeMaxUnavailable))
	}

	if c.CanaryService != "" && c.CanaryService == c.StableService {
		errs = append(errs, field.Invalid(fldPath.Child("stableService"), c.StableService, DuplicatedServicesCanaryMessage))
	}
	if needsCanaryAndStableServices(c) {
		if c.StableService == "" {
			errs = append(errs, field.Invalid(fldPath.Child("stableService"), c.StableService, InvalidTrafficRoutingMessage))
		}
		if c.CanaryService == "" {
			errs = append(errs, field.Invalid(fldPath.Child("canaryService"), c.CanaryService, InvalidTrafficRoutingMessage))
		}
	}
	if pp := c.PingPong; pp != nil {
		pingPath := fldPath.Child("pingPong", "pingService")
		if pp.PingService == "" {
			errs = append(errs, field.Invalid(pingPath, pp.PingService, InvalidPingPongProvidedMessage))
		}
		if pp.PongService == "" {
			errs = append(errs, field.Invalid(fldPath.Child("pingPong", "pongService"), pp.PongService, InvalidPingPongProvidedMessage))
		}
		if pp.PingService != "" && pp.PingService == pp.PongService {
			errs = append(errs, field.Invalid(pingPath, pp.PingService, DuplicatedPingPongServicesMessage))
		}
	}

	errs = append(errs, nonNegative(c.ScaleDownDelaySeconds, fldPath.Child("scaleDownDelaySeconds"))...)
	errs = append(errs, nonNegative(c.AbortScaleDownDelaySeconds, fldPath.Child("abortScaleDownDelaySeconds"))...)
	errs = append(errs, nonNegative(c.ScaleDownDelayRevisionLimit, fldPath.Child("scaleDownDelayRevisionLimit"))...)
	errs = append(errs, nonNegative(c.MinPodsPerReplicaSet, fldPath.Child("minPodsPerReplicaSet"))...)
	if tr == nil {
		if c.ScaleDownDelaySeconds != nil {
			errs = append(errs, field.Invalid(fldPath.Child("scaleDownDelaySeconds"), *c.ScaleDownDelaySeconds, InvalidCanaryScaleDownDelay))
		}
		if c.DynamicStableScale {
			errs = append(errs, field.Invalid(fldPath.Child("dynamicStableScale"), true, InvalidCanaryDynamicStableScale))
		}
	} else {
		if c.ScaleDownDelaySeconds != nil && c.DynamicStableScale {
			errs = append(errs, field.Invalid(fldPath.Child("dynamicStableScale"), true, InvalidDynamicStableScaleWithDelay))
		}
		if w := tr.MaxTrafficWeight; w != nil {
			wPath := fldPath.Child("trafficRouting", "maxTrafficWeight")
			if tr.Nginx == nil && len(tr.Plugins) == 0 {
				errs = append(errs, field.Invalid(wPath, *w, InvalidMaxTrafficWeightRouter))
			} else if *w < 1 {
				errs = append(errs, field.Invalid(wPath, *w, "must be greater than 0"))
			}
		}
	}

	maxWeight := v1alpha1.DefaultMaxTrafficWeight
	if tr != nil && tr.MaxTrafficWeight != nil && *tr.MaxTrafficWeight > 0 {
		maxWeight = *tr.MaxTrafficWeight
	}
	for i := range c.Steps {
		errs = append(errs, validateStep(c, &c.Steps[i], maxWeight, fldPath, fldPath.Child("steps").Index(i))...)
	}

	if a := c.Analysis; a != nil {
		p := fldPath.Child("analysis")
		errs = append(errs, validateRolloutAnalysis(&a.RolloutAnalysis, p)...)
		errs = append(errs, nonNegative(a.StartingStep, p.Child("startingStep"))...)
	}
	errs = append(errs, validateAntiAffinity(c.AntiAffinity, fldPath.Child("antiAffinity"))...)
	return errs
}

// needsCanaryAndStableServices reports whether the traffic router works by pointing the
// canary and stable Services at the two versions, so both must be named.
func needsCanaryAndStableServices(c *v1alpha1.CanaryStrategy) bool {
	tr := c.TrafficRouting
	if tr == nil {
		return false
	}
	return (tr.ALB != nil && c.PingPong == nil) ||
		(tr.Istio != nil && tr.Istio.DestinationRule == nil) ||
		tr.SMI != nil || tr.Apisix != nil || tr.Ambassador != nil ||
		tr.Nginx != nil || tr.AppMesh != nil || tr.Traefik != nil
}

func validateStep(c *v1alpha1.CanaryStrategy, step *v1alpha1.CanaryStep, maxWeight int32, canaryPath, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	kinds := []named{
		{"setWeight", step.SetWeight != nil},
		{"pause", step.Pause != nil},
		{"experiment", step.Experiment != nil},
		{"analysis", step.Analysis != nil},
		{"setCanaryScale", step.SetCanaryScale != nil},
		{"setHeaderRoute", step.SetHeaderRoute != nil},
		{"setMirrorRoute", step.SetMirrorRoute != nil},
		{"plugin", step.Plugin != nil},
	}
	set := 0
	for _, k := range kinds {
		if k.set {
			set++
		}
	}
	if set != 1 {
		// The upstream message names the common kinds only; the bad value lists what the
		// step actually has, which is what the user needs to see.
		errs = append(errs, field.Invalid(p, setNames(kinds...), InvalidStepMessage))
	}
	tr := c.TrafficRouting

	if w := step.SetWeight; w != nil && (*w < 0 || *w > maxWeight) {
		errs = append(errs, field.Invalid(p.Child("setWeight"), *w, fmt.Sprintf(InvalidSetWeightMessage, maxWeight)))
	}

	if step.Pause != nil && step.Pause.Duration != nil {
		if _, err := ParsePauseDuration(*step.Pause.Duration); err != nil {
			msg := err.Error()
			if errors.Is(err, ErrNegativeDuration) {
				msg = InvalidDurationMessage
			}
			errs = append(errs, field.Invalid(p.Child("pause", "duration"), step.Pause.Duration.String(), msg))
		}
	}

	if sc := step.SetCanaryScale; sc != nil {
		if tr == nil {
			errs = append(errs, field.Required(canaryPath.Child("trafficRouting"), InvalidSetCanaryScaleTrafficPolicy))
		}
		scPath := p.Child("setCanaryScale")
		if sc.Weight != nil && (*sc.Weight < 0 || *sc.Weight > maxWeight) {
			errs = append(errs, field.Invalid(scPath.Child("weight"), *sc.Weight, fmt.Sprintf("must be between 0 and %d", maxWeight)))
		}
		errs = append(errs, nonNegative(sc.Replicas, scPath.Child("replicas"))...)
	}

	if hr := step.SetHeaderRoute; hr != nil {
		hrPath := p.Child("setHeaderRoute")
		if tr == nil || (tr.Istio == nil && tr.ALB == nil && tr.Apisix == nil && len(tr.Plugins) == 0) {
			errs = append(errs, field.Invalid(hrPath, hr.Name, InvalidSetHeaderRouteTrafficPolicy))
		} else {
			errs = append(errs, validateManagedRoute(tr, hr.Name, canaryPath, hrPath)...)
		}
	}
	if mr := step.SetMirrorRoute; mr != nil {
		mrPath := p.Child("setMirrorRoute")
		if tr == nil || (tr.Istio == nil && len(tr.Plugins) == 0) {
			errs = append(errs, field.Invalid(mrPath, mr.Name, InvalidSetMirrorRouteTrafficPolicy))
		} else {
			errs = append(errs, validateManagedRoute(tr, mr.Name, canaryPath, mrPath)...)
		}
		if pc := mr.Percentage; pc != nil && (*pc < 0 || *pc > 100) {
			errs = append(errs, field.Invalid(mrPath.Child("percentage"), *pc, "must be between 0 and 100"))
		}
	}

	if step.Analysis != nil {
		errs = append(errs, validateRolloutAnalysis(step.Analysis, p.Child("analysis"))...)
	}
	if ex := step.Experiment; ex != nil {
		errs = append(errs, validateExperimentStep(ex, tr, p.Child("experiment"))...)
	}
	if pl := step.Plugin; pl != nil && pl.Name == "" {
		errs = append(errs, field.Required(p.Child("plugin", "name"), missingField(p.Child("plugin", "name"))))
	}
	return errs
}

func validateManagedRoute(tr *v1alpha1.RolloutTrafficRouting, name string, canaryPath, stepPath *field.Path) field.ErrorList {
	if tr.ManagedRoutes == nil {
		p := canaryPath.Child("trafficRouting", "managedRoutes")
		return field.ErrorList{field.Required(p, missingField(p))}
	}
	for _, r := range tr.ManagedRoutes {
		if r.Name == name {
			return nil
		}
	}
	return field.ErrorList{field.Invalid(stepPath, name, InvalidStepRouteNotInManagedRoutes)}
}

func validateExperimentStep(ex *v1alpha1.RolloutExperimentStep, tr *v1alpha1.RolloutTrafficRouting, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	tmplsPath := p.Child("templates")
	if len(ex.Templates) == 0 {
		errs = append(errs, field.Required(tmplsPath, missingField(tmplsPath)))
	}
	names := map[string]bool{}
	for i, t := range ex.Templates {
		tp := tmplsPath.Index(i)
		errs = append(errs, uniqueName(t.Name, tp.Child("name"), names, missingField(tp.Child("name")))...)
		switch t.SpecRef {
		case v1alpha1.CanarySpecRef, v1alpha1.StableSpecRef:
		default:
			errs = append(errs, field.NotSupported(tp.Child("specRef"), t.SpecRef, []v1alpha1.ReplicaSetSpecRef{v1alpha1.CanarySpecRef, v1alpha1.StableSpecRef}))
		}
		errs = append(errs, nonNegative(t.Replicas, tp.Child("replicas"))...)
		if t.Weight != nil {
			if tr == nil {
				errs = append(errs, field.Invalid(tp.Child("weight"), *t.Weight, InvalidExperimentWeightNoRouting))
			} else if *t.Weight < 0 || *t.Weight > 100 {
				errs = append(errs, field.Invalid(tp.Child("weight"), *t.Weight, "must be between 0 and 100"))
			}
		}
	}
	if ex.Duration != "" {
		if d, err := time.ParseDuration(string(ex.Duration)); err != nil {
			errs = append(errs, field.Invalid(p.Child("duration"), string(ex.Duration), DurationUnitMessage))
		} else if d < 0 {
			errs = append(errs, field.Invalid(p.Child("duration"), string(ex.Duration), InvalidDurationMessage))
		}
	}
	for i, a := range ex.Analyses {
		ap := p.Child("analyses").Index(i)
		if a.Name == "" {
			errs = append(errs, field.Required(ap.Child("name"), missingField(ap.Child("name"))))
		}
		if a.TemplateName == "" {
			errs = append(errs, field.Required(ap.Child("templateName"), missingField(ap.Child("templateName"))))
		}
		errs = append(errs, validateRolloutArgs(a.Args, ap.Child("args"))...)
	}
	errs = append(errs, nonNegative(ex.ScaleDownDelaySeconds, p.Child("scaleDownDelaySeconds"))...)
	return errs
}
