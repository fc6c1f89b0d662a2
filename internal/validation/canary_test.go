package validation

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func canary(ro *v1alpha1.Rollout) *v1alpha1.CanaryStrategy { return ro.Spec.Strategy.Canary }

func steps(s ...v1alpha1.CanaryStep) func(*v1alpha1.Rollout) {
	return func(ro *v1alpha1.Rollout) { canary(ro).Steps = s }
}

func pause(d intstr.IntOrString) v1alpha1.CanaryStep {
	return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: &d}}
}

func nginxRouting(ro *v1alpha1.Rollout) {
	c := canary(ro)
	c.CanaryService, c.StableService = "demo-canary", "demo-stable"
	c.TrafficRouting = &v1alpha1.RolloutTrafficRouting{Nginx: &v1alpha1.NginxTrafficRouting{StableIngress: "demo"}}
}

func istioRouting(ro *v1alpha1.Rollout) {
	c := canary(ro)
	c.CanaryService, c.StableService = "demo-canary", "demo-stable"
	c.TrafficRouting = &v1alpha1.RolloutTrafficRouting{
		Istio:         &v1alpha1.IstioTrafficRouting{VirtualService: &v1alpha1.IstioVirtualService{Name: "vs"}},
		ManagedRoutes: []v1alpha1.MangedRoutes{{Name: "header"}, {Name: "mirror"}},
	}
}

func both(fs ...func(*v1alpha1.Rollout)) func(*v1alpha1.Rollout) {
	return func(ro *v1alpha1.Rollout) {
		for _, f := range fs {
			f(ro)
		}
	}
}

func TestValidateCanarySteps(t *testing.T) {
	runRolloutCases(t, []rolloutCase{
		{name: "no steps is a rolling update", base: canaryRollout, mutate: steps()},
		{
			name: "every step kind alone is valid with traffic routing", base: canaryRollout,
			mutate: both(istioRouting, steps(
				v1alpha1.CanaryStep{SetWeight: ptr.To[int32](0)},
				v1alpha1.CanaryStep{SetWeight: ptr.To[int32](100)},
				v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}},
				v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "t", ClusterScope: true}}}},
				v1alpha1.CanaryStep{Experiment: &v1alpha1.RolloutExperimentStep{
					Duration:  "5m",
					Templates: []v1alpha1.RolloutExperimentTemplate{{Name: "canary", SpecRef: v1alpha1.CanarySpecRef, Weight: ptr.To[int32](5)}},
					Analyses:  []v1alpha1.RolloutExperimentStepAnalysisTemplateRef{{Name: "a", TemplateName: "t"}},
				}},
				v1alpha1.CanaryStep{SetCanaryScale: &v1alpha1.SetCanaryScale{MatchTrafficWeight: true}},
				v1alpha1.CanaryStep{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "header"}},
				v1alpha1.CanaryStep{SetMirrorRoute: &v1alpha1.SetMirrorRoute{Name: "mirror", Percentage: ptr.To[int32](50)}},
				v1alpha1.CanaryStep{Plugin: &v1alpha1.PluginStep{Name: "argoproj-labs/step", Config: json.RawMessage(`{"a":1}`)}},
			)),
		},
		{
			name: "empty step", base: canaryRollout, mutate: steps(v1alpha1.CanaryStep{}),
			want: []string{"spec.strategy.canary.steps[0]: " + InvalidStepMessage},
		},
		{
			name: "step with two kinds", base: canaryRollout,
			mutate: steps(v1alpha1.CanaryStep{SetWeight: ptr.To[int32](10), Pause: &v1alpha1.RolloutPause{}}),
			want:   []string{"spec.strategy.canary.steps[0]: " + InvalidStepMessage},
		},
		{
			name: "setWeight above 100", base: canaryRollout,
			mutate: steps(v1alpha1.CanaryStep{SetWeight: ptr.To[int32](110)}),
			want:   []string{"spec.strategy.canary.steps[0].setWeight: SetWeight needs to be between 0 and 100"},
		},
		{
			name: "setWeight negative", base: canaryRollout,
			mutate: steps(v1alpha1.CanaryStep{SetWeight: ptr.To[int32](-1)}),
			want:   []string{"spec.strategy.canary.steps[0].setWeight: SetWeight needs to be between 0 and 100"},
		},
		{
			name: "setWeight within a larger maxTrafficWeight", base: canaryRollout,
			mutate: both(nginxRouting, func(ro *v1alpha1.Rollout) {
				canary(ro).TrafficRouting.MaxTrafficWeight = ptr.To[int32](1000)
			}, steps(v1alpha1.CanaryStep{SetWeight: ptr.To[int32](500)})),
		},
		{
			name: "setWeight above a custom maxTrafficWeight", base: canaryRollout,
			mutate: both(nginxRouting, func(ro *v1alpha1.Rollout) {
				canary(ro).TrafficRouting.MaxTrafficWeight = ptr.To[int32](1000)
			}, steps(v1alpha1.CanaryStep{SetWeight: ptr.To[int32](1001)})),
			want: []string{"spec.strategy.canary.steps[0].setWeight: SetWeight needs to be between 0 and 1000"},
		},
		{
			name: "pause durations in every accepted form", base: canaryRollout,
			mutate: steps(pause(intstr.FromInt32(30)), pause(intstr.FromString("30")), pause(intstr.FromString("1h30m")), pause(intstr.FromInt32(0))),
		},
		{
			name: "negative pause durations", base: canaryRollout,
			mutate: steps(pause(intstr.FromInt32(-1)), pause(intstr.FromString("-10s")), pause(intstr.FromString("-5"))),
			want: []string{
				"spec.strategy.canary.steps[0].pause.duration: Duration needs to be greater than 0",
				"spec.strategy.canary.steps[1].pause.duration: Duration needs to be greater than 0",
				"spec.strategy.canary.steps[2].pause.duration: Duration needs to be greater than 0",
			},
		},
		{
			name: "unparsable pause duration", base: canaryRollout,
			mutate: steps(pause(intstr.FromString("ten minutes"))),
			want:   []string{`spec.strategy.canary.steps[0].pause.duration: invalid duration "ten minutes": use a number of seconds (30) or a number with a unit (30s, 5m, 1h)`},
		},
		{
			name: "analysis step without templates", base: canaryRollout,
			mutate: steps(v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{}}),
			want:   []string{"spec.strategy.canary.steps[0].analysis.templates: " + AnalysisNoTemplatesMessage},
		},
		{
			name: "analysis step with an unnamed template", base: canaryRollout,
			mutate: steps(v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{}}}}),
			want:   []string{"spec.strategy.canary.steps[0].analysis.templates[0].templateName: Rollout has missing field 'spec.strategy.canary.steps[0].analysis.templates[0].templateName'"},
		},
		{
			name: "setCanaryScale without traffic routing", base: canaryRollout,
			mutate: steps(v1alpha1.CanaryStep{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: ptr.To[int32](1)}}),
			want:   []string{"spec.strategy.canary.trafficRouting: SetCanaryScale requires TrafficRouting to be set"},
		},
		{
			name: "setCanaryScale out of range", base: canaryRollout,
			mutate: both(nginxRouting, steps(v1alpha1.CanaryStep{SetCanaryScale: &v1alpha1.SetCanaryScale{Weight: ptr.To[int32](101), Replicas: ptr.To[int32](-1)}})),
			want: []string{
				"spec.strategy.canary.steps[0].setCanaryScale.weight: must be between 0 and 100",
				"spec.strategy.canary.steps[0].setCanaryScale.replicas: must be greater than or equal to 0",
			},
		},
		{
			name: "header and mirror routes without a router that supports them", base: canaryRollout,
			mutate: both(nginxRouting, steps(
				v1alpha1.CanaryStep{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "h"}},
				v1alpha1.CanaryStep{SetMirrorRoute: &v1alpha1.SetMirrorRoute{Name: "m"}},
			)),
			want: []string{
				"spec.strategy.canary.steps[0].setHeaderRoute: " + InvalidSetHeaderRouteTrafficPolicy,
				"spec.strategy.canary.steps[1].setMirrorRoute: " + InvalidSetMirrorRouteTrafficPolicy,
			},
		},
		{
			name: "header route not in managedRoutes", base: canaryRollout,
			mutate: both(istioRouting, steps(v1alpha1.CanaryStep{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "nope"}})),
			want:   []string{"spec.strategy.canary.steps[0].setHeaderRoute: " + InvalidStepRouteNotInManagedRoutes},
		},
		{
			name: "mirror route without managedRoutes", base: canaryRollout,
			mutate: both(istioRouting, func(ro *v1alpha1.Rollout) { canary(ro).TrafficRouting.ManagedRoutes = nil },
				steps(v1alpha1.CanaryStep{SetMirrorRoute: &v1alpha1.SetMirrorRoute{Name: "m", Percentage: ptr.To[int32](101)}})),
			want: []string{
				"spec.strategy.canary.trafficRouting.managedRoutes: Rollout has missing field 'spec.strategy.canary.trafficRouting.managedRoutes'",
				"spec.strategy.canary.steps[0].setMirrorRoute.percentage: must be between 0 and 100",
			},
		},
		{
			name: "experiment step mistakes", base: canaryRollout,
			mutate: steps(v1alpha1.CanaryStep{Experiment: &v1alpha1.RolloutExperimentStep{
				Duration: "30",
				Templates: []v1alpha1.RolloutExperimentTemplate{
					{Name: "a", SpecRef: "baseline", Weight: ptr.To[int32](10)},
					{Name: "a", SpecRef: v1alpha1.StableSpecRef, Replicas: ptr.To[int32](-1)},
				},
				Analyses: []v1alpha1.RolloutExperimentStepAnalysisTemplateRef{{}},
			}}),
			want: []string{
				`spec.strategy.canary.steps[0].experiment.templates[0].specRef: supported values: "canary", "stable"`,
				"spec.strategy.canary.steps[0].experiment.templates[0].weight: " + InvalidExperimentWeightNoRouting,
				"spec.strategy.canary.steps[0].experiment.templates[1].name: Duplicate value",
				"spec.strategy.canary.steps[0].experiment.templates[1].replicas: must be greater than or equal to 0",
				"spec.strategy.canary.steps[0].experiment.duration: " + DurationUnitMessage,
				"spec.strategy.canary.steps[0].experiment.analyses[0].name: Rollout has missing field 'spec.strategy.canary.steps[0].experiment.analyses[0].name'",
				"spec.strategy.canary.steps[0].experiment.analyses[0].templateName: Rollout has missing field 'spec.strategy.canary.steps[0].experiment.analyses[0].templateName'",
			},
		},
		{
			name: "experiment step without templates", base: canaryRollout,
			mutate: steps(v1alpha1.CanaryStep{Experiment: &v1alpha1.RolloutExperimentStep{}}),
			want:   []string{"spec.strategy.canary.steps[0].experiment.templates: Rollout has missing field 'spec.strategy.canary.steps[0].experiment.templates'"},
		},
		{
			name: "plugin step without a name", base: canaryRollout,
			mutate: steps(v1alpha1.CanaryStep{Plugin: &v1alpha1.PluginStep{}}),
			want:   []string{"spec.strategy.canary.steps[0].plugin.name: Rollout has missing field 'spec.strategy.canary.steps[0].plugin.name'"},
		},
	})
}

func TestValidateCanaryStrategy(t *testing.T) {
	runRolloutCases(t, []rolloutCase{
		{
			name: "maxSurge and maxUnavailable both zero", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				canary(ro).MaxSurge = ptr.To(intstr.FromInt32(0))
				canary(ro).MaxUnavailable = ptr.To(intstr.FromString("0%"))
			},
			want: []string{"spec.strategy.canary.maxSurge: MaxSurge and MaxUnavailable both can not be zero"},
		},
		{
			name: "maxSurge zero with default maxUnavailable", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { canary(ro).MaxSurge = ptr.To(intstr.FromInt32(0)) },
		},
		{
			name: "maxSurge over 100% is allowed, maxUnavailable is not", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				canary(ro).MaxSurge = ptr.To(intstr.FromString("200%"))
				canary(ro).MaxUnavailable = ptr.To(intstr.FromString("101%"))
			},
			want: []string{"spec.strategy.canary.maxUnavailable: must not be greater than 100%"},
		},
		{
			name: "percent strings that are not percentages", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				canary(ro).MaxSurge = ptr.To(intstr.FromString("25"))
				canary(ro).MaxUnavailable = ptr.To(intstr.FromString("a%"))
			},
			want: []string{
				`spec.strategy.canary.maxSurge: must be an integer or a percentage such as "25%"`,
				`spec.strategy.canary.maxUnavailable: must be an integer or a percentage such as "25%"`,
			},
		},
		{
			name: "negative maxSurge and signed percentage", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				canary(ro).MaxSurge = ptr.To(intstr.FromInt32(-1))
				canary(ro).MaxUnavailable = ptr.To(intstr.FromString("-5%"))
			},
			want: []string{
				"spec.strategy.canary.maxSurge: must be greater than or equal to 0",
				`spec.strategy.canary.maxUnavailable: must be an integer or a percentage such as "25%"`,
			},
		},
		{
			name: "same canary and stable service", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { canary(ro).CanaryService, canary(ro).StableService = "svc", "svc" },
			want:   []string{"spec.strategy.canary.stableService: This rollout uses the same service for the stable and canary services, but two different services are required."},
		},
		{
			name: "traffic routing without services", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				canary(ro).TrafficRouting = &v1alpha1.RolloutTrafficRouting{SMI: &v1alpha1.SMITrafficRouting{}}
			},
			want: []string{
				"spec.strategy.canary.stableService: Canary service and Stable service must to be set to use Traffic Routing",
				"spec.strategy.canary.canaryService: Canary service and Stable service must to be set to use Traffic Routing",
			},
		},
		{
			name: "istio subset routing needs no services", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				canary(ro).TrafficRouting = &v1alpha1.RolloutTrafficRouting{Istio: &v1alpha1.IstioTrafficRouting{
					DestinationRule: &v1alpha1.IstioDestinationRule{Name: "dr", CanarySubsetName: "c", StableSubsetName: "s"},
				}}
			},
		},
		{
			name: "plugin routing needs no services", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				canary(ro).TrafficRouting = &v1alpha1.RolloutTrafficRouting{Plugins: map[string]json.RawMessage{"argoproj-labs/gatewayAPI": json.RawMessage(`{}`)}}
			},
		},
		{
			name: "scaleDownDelaySeconds without traffic routing", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { canary(ro).ScaleDownDelaySeconds = ptr.To[int32](30) },
			want:   []string{"spec.strategy.canary.scaleDownDelaySeconds: Canary scaleDownDelaySeconds can only be used with traffic routing"},
		},
		{
			name: "scaleDownDelaySeconds with traffic routing", base: canaryRollout,
			mutate: both(nginxRouting, func(ro *v1alpha1.Rollout) { canary(ro).ScaleDownDelaySeconds = ptr.To[int32](30) }),
		},
		{
			name: "dynamicStableScale without traffic routing", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { canary(ro).DynamicStableScale = true },
			want:   []string{"spec.strategy.canary.dynamicStableScale: Canary dynamicStableScale can only be used with traffic routing"},
		},
		{
			name: "dynamicStableScale with scaleDownDelaySeconds", base: canaryRollout,
			mutate: both(nginxRouting, func(ro *v1alpha1.Rollout) {
				canary(ro).DynamicStableScale = true
				canary(ro).ScaleDownDelaySeconds = ptr.To[int32](30)
			}),
			want: []string{"spec.strategy.canary.dynamicStableScale: Canary dynamicStableScale cannot be used with scaleDownDelaySeconds"},
		},
		{
			name: "maxTrafficWeight with a router that ignores it", base: canaryRollout,
			mutate: both(istioRouting, func(ro *v1alpha1.Rollout) { canary(ro).TrafficRouting.MaxTrafficWeight = ptr.To[int32](1000) }),
			want:   []string{"spec.strategy.canary.trafficRouting.maxTrafficWeight: Canary maxTrafficWeight in traffic routing only support in Nginx and Plugins"},
		},
		{
			name: "maxTrafficWeight zero", base: canaryRollout,
			mutate: both(nginxRouting, func(ro *v1alpha1.Rollout) { canary(ro).TrafficRouting.MaxTrafficWeight = ptr.To[int32](0) }),
			want:   []string{"spec.strategy.canary.trafficRouting.maxTrafficWeight: must be greater than 0"},
		},
		{
			name: "ping-pong with a missing service", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				canary(ro).PingPong = &v1alpha1.PingPongSpec{PingService: "", PongService: "pong"}
			},
			want: []string{"spec.strategy.canary.pingPong.pingService: " + InvalidPingPongProvidedMessage},
		},
		{
			name: "ping-pong with the same service twice", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				canary(ro).PingPong = &v1alpha1.PingPongSpec{PingService: "p", PongService: "p"}
			},
			want: []string{"spec.strategy.canary.pingPong.pingService: " + DuplicatedPingPongServicesMessage},
		},
		{
			name: "background analysis without templates and negative starting step", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				canary(ro).Analysis = &v1alpha1.RolloutAnalysisBackground{StartingStep: ptr.To[int32](-1)}
			},
			want: []string{
				"spec.strategy.canary.analysis.templates: " + AnalysisNoTemplatesMessage,
				"spec.strategy.canary.analysis.startingStep: must be greater than or equal to 0",
			},
		},
		{
			name: "background analysis with a template", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				canary(ro).Analysis = &v1alpha1.RolloutAnalysisBackground{
					RolloutAnalysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "t"}}},
					StartingStep:    ptr.To[int32](2),
				}
			},
		},
		{
			name: "anti-affinity with neither kind", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { canary(ro).AntiAffinity = &v1alpha1.AntiAffinity{} },
			want:   []string{"spec.strategy.canary.antiAffinity: AntiAffinity must have exactly one strategy listed"},
		},
		{
			name: "negative delays and limits", base: canaryRollout,
			mutate: both(nginxRouting, func(ro *v1alpha1.Rollout) {
				canary(ro).ScaleDownDelaySeconds = ptr.To[int32](-1)
				canary(ro).AbortScaleDownDelaySeconds = ptr.To[int32](-1)
				canary(ro).ScaleDownDelayRevisionLimit = ptr.To[int32](-1)
				canary(ro).MinPodsPerReplicaSet = ptr.To[int32](-1)
			}),
			want: []string{
				"spec.strategy.canary.scaleDownDelaySeconds: must be greater than or equal to 0",
				"spec.strategy.canary.abortScaleDownDelaySeconds: must be greater than or equal to 0",
				"spec.strategy.canary.scaleDownDelayRevisionLimit: must be greater than or equal to 0",
				"spec.strategy.canary.minPodsPerReplicaSet: must be greater than or equal to 0",
			},
		},
	})
}

// TestStepErrorShowsWhatIsSet checks the bad value of a step error, which is how the user
// learns which kinds a step holds.
func TestStepErrorShowsWhatIsSet(t *testing.T) {
	cases := []struct {
		step v1alpha1.CanaryStep
		want string
	}{
		{v1alpha1.CanaryStep{}, "{}"},
		{v1alpha1.CanaryStep{SetWeight: ptr.To[int32](1), Pause: &v1alpha1.RolloutPause{}}, "setWeight, pause"},
		{v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "t"}}}, Plugin: &v1alpha1.PluginStep{Name: "p"}}, "analysis, plugin"},
	}
	for _, c := range cases {
		ro := canaryRollout()
		canary(ro).Steps = []v1alpha1.CanaryStep{c.step}
		errs := ValidateRollout(ro)
		if len(errs) != 1 || errs[0].BadValue != c.want {
			t.Errorf("step %+v: errors %v, want one with value %q", c.step, errs, c.want)
		}
	}
}
