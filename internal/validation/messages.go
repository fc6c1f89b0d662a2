// Package validation checks Rollouts and analysis specs for mistakes the CRD schema cannot
// express, without touching the API server: it is pure, so the controller, the kubectl
// plugin (lint) and tests share it. Each problem is a field.Error carrying the path to fix;
// InvalidSpecMessage turns them into the InvalidSpec condition message.
//
// Messages that users and tools may match on are kept word for word from the upstream
// contract (compat.md §1.3), typos included.
package validation

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Messages of the upstream contract.
const (
	MissingFieldMessage                 = "Rollout has missing field '%s'"
	InvalidSetWeightMessage             = "SetWeight needs to be between 0 and %d"
	InvalidStepMessage                  = "Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause"
	InvalidDurationMessage              = "Duration needs to be greater than 0"
	InvalidMaxSurgeMaxUnavailable       = "MaxSurge and MaxUnavailable both can not be zero"
	InvalidStrategyMessage              = "Multiple Strategies can not be listed"
	DuplicatedServicesBlueGreenMessage  = "This rollout uses the same service for the active and preview services, but two different services are required."
	DuplicatedServicesCanaryMessage     = "This rollout uses the same service for the stable and canary services, but two different services are required."
	InvalidTrafficRoutingMessage        = "Canary service and Stable service must to be set to use Traffic Routing"
	InvalidAntiAffinityStrategyMessage  = "AntiAffinity must have exactly one strategy listed"
	InvalidAntiAffinityWeightMessage    = "AntiAffinity weight must be between 1-100"
	SelectAllMessage                    = "This rollout is selecting all pods by having an empty selector."
	SelectorNotMatchingLabelsMessage    = "`selector` does not match template `labels`"
	WorkloadRefWithTemplateMessage      = "template must be empty for workload reference rollout"
	ScaleDownLimitLargerThanRevisionMsg = "This rollout's revision history limit can not be smaller than the rollout's scale down limit"
	InvalidCanaryScaleDownDelay         = "Canary scaleDownDelaySeconds can only be used with traffic routing"
	InvalidCanaryDynamicStableScale     = "Canary dynamicStableScale can only be used with traffic routing"
	InvalidDynamicStableScaleWithDelay  = "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds"
	InvalidMaxTrafficWeightRouter       = "Canary maxTrafficWeight in traffic routing only support in Nginx and Plugins"
	InvalidSetCanaryScaleTrafficPolicy  = "SetCanaryScale requires TrafficRouting to be set"
	InvalidSetHeaderRouteTrafficPolicy  = "SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix"
	InvalidSetMirrorRouteTrafficPolicy  = "SetMirrorRoute requires TrafficRouting, supports Istio only"
	InvalidStepRouteNotInManagedRoutes  = "Steps define a route that does not exist in spec.strategy.canary.trafficRouting.managedRoutes"
	InvalidExperimentWeightNoRouting    = "Experiment template weight cannot be set unless TrafficRouting is enabled"
	InvalidPingPongProvidedMessage      = "Ping service and Pong service must to be set to use Ping-Pong feature"
	DuplicatedPingPongServicesMessage   = "This rollout uses the same service for the ping and pong services, but two different services are required."
	ProgressDeadlineNotAboveMinReadyMsg = "must be greater than minReadySeconds"
	NoMetricsMessage                    = "no metrics specified"
	NoProviderMessage                   = "no provider specified"
	MultipleProvidersMessage            = "multiple providers specified"
	IntervalRequiredMessage             = "interval must be specified when count > 1"
)

// Messages of our own, worded to say what to change.
const (
	NegativeMessage            = "must be greater than or equal to 0"
	IntOrPercentMessage        = `must be an integer or a percentage such as "25%"`
	PercentOver100Message      = "must not be greater than 100%"
	AnalysisNoTemplatesMessage = "an analysis needs at least one template (templateName) to create its AnalysisRun from"
	IntOrArgMessage            = "must be an integer or an {{args.NAME}} placeholder"
	DurationUnitMessage        = `must be a duration with a unit such as "30s", "5m" or "1h"`
)

// Messages for references the controller resolves against the cluster. The wording is the
// API server's NotFound text, which is what upstream's InvalidSpec messages carry.
const (
	ServiceNotFoundMessage                 = "services %q not found"
	AnalysisTemplateNotFoundMessage        = "analysistemplates.argoproj.io %q not found"
	ClusterAnalysisTemplateNotFoundMessage = "clusteranalysistemplates.argoproj.io %q not found"
	DeploymentNotFoundMessage              = "deployments.apps %q not found"
	ReplicaSetNotFoundMessage              = "replicasets.apps %q not found"
	PodTemplateNotFoundMessage             = "podtemplates %q not found"
)

// ReferenceNotFound reports that the object named at fldPath does not exist, e.g.
// ReferenceNotFound(path, ServiceNotFoundMessage, "web-preview").
func ReferenceNotFound(fldPath *field.Path, messageFormat, name string) *field.Error {
	return field.Invalid(fldPath, name, fmt.Sprintf(messageFormat, name))
}

// InvalidSpecMessage renders validation errors as one message for the InvalidSpec
// condition. The first error comes first, in the form upstream uses ("<path>: Invalid
// value: <v>: <what to fix>"), so existing alerts keep matching; the others follow so that
// a user can fix everything in one edit rather than one error per apply.
func InvalidSpecMessage(errs field.ErrorList) string {
	if len(errs) == 0 {
		return ""
	}
	msg := errs[0].Error()
	if len(errs) == 1 {
		return msg
	}
	rest := make([]string, 0, len(errs)-1)
	for _, e := range errs[1:] {
		rest = append(rest, e.Error())
	}
	return fmt.Sprintf("%s (and %d more: %s)", msg, len(rest), strings.Join(rest, "; "))
}

// InvalidObjectMessage is the full condition message upstream writes, e.g.
// `The Rollout "web" is invalid: spec.replicas: Invalid value: -1: ...`.
func InvalidObjectMessage(kind, name string, errs field.ErrorList) string {
	return fmt.Sprintf("The %s %q is invalid: %s", kind, name, InvalidSpecMessage(errs))
}
