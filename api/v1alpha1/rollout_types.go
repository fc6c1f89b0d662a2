package v1alpha1

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Rollout is a Deployment-like workload that moves traffic to a new version in steps
// (canary) or behind a preview Service (blue-green).
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=rollouts,shortName=ro,scope=Namespaced
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.HPAReplicas,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Desired",type="integer",JSONPath=".spec.replicas",description="Number of desired pods"
// +kubebuilder:printcolumn:name="Current",type="integer",JSONPath=".status.replicas",description="Total number of non-terminated pods targeted by this rollout"
// +kubebuilder:printcolumn:name="Up-to-date",type="integer",JSONPath=".status.updatedReplicas",description="Total number of non-terminated pods targeted by this rollout that have the desired template spec"
// +kubebuilder:printcolumn:name="Available",type="integer",JSONPath=".status.availableReplicas",description="Total number of available pods (ready for at least minReadySeconds) targeted by this rollout"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="Time since resource was created"
type Rollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RolloutSpec   `json:"spec"`
	Status RolloutStatus `json:"status,omitempty"`
}

// RolloutList is a list of Rollouts.
//
// +kubebuilder:object:root=true
type RolloutList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Rollout `json:"items"`
}

// RolloutSpec is the desired state of a Rollout.
type RolloutSpec struct {
	// Replicas is the number of desired pods. Defaults to 1.
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// Selector selects the pods of this rollout; it must match the template's labels.
	// Immutable once set.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="Rollout selector is immutable"
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Template describes the pods that will be created.
	// +optional
	Template corev1.PodTemplateSpec `json:"template"`
	// WorkloadRef takes the template (and selector) from another object instead.
	// +optional
	WorkloadRef *ObjectRef `json:"workloadRef,omitempty"`
	// MinReadySeconds is how long a new pod must be ready before it counts as available.
	// +optional
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// RollbackWindow makes a rollback to one of the last N revisions skip the steps.
	// +optional
	RollbackWindow *RollbackWindowSpec `json:"rollbackWindow,omitempty"`
	// Strategy says how a new version replaces the old one.
	Strategy RolloutStrategy `json:"strategy"`
	// RevisionHistoryLimit is how many old ReplicaSets to keep. Defaults to 10.
	// +optional
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// Paused pauses the rollout at its current step.
	// +optional
	Paused bool `json:"paused,omitempty"`
	// ProgressDeadlineSeconds is how long an update may make no progress before it is
	// reported as failed. Defaults to 600.
	// +optional
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
	// ProgressDeadlineAbort aborts the update when the progress deadline is exceeded.
	// +optional
	ProgressDeadlineAbort bool `json:"progressDeadlineAbort,omitempty"`
	// RestartAt asks for every pod created before this time to be restarted.
	// +optional
	RestartAt *metav1.Time `json:"restartAt,omitempty"`
	// Analysis holds history limits for AnalysisRuns and Experiments.
	// +optional
	Analysis *AnalysisRunStrategy `json:"analysis,omitempty"`
}

// ObjectRef points at the workload a Rollout takes its template from.
type ObjectRef struct {
	// APIVersion of the referent.
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind of the referent: Deployment, ReplicaSet or PodTemplate.
	Kind string `json:"kind,omitempty"`
	// Name of the referent.
	Name string `json:"name,omitempty"`
	// ScaleDown says when to scale the referenced Deployment down: never, onsuccess or
	// progressively.
	// +optional
	ScaleDown string `json:"scaleDown,omitempty"`
}

// Values of ObjectRef.ScaleDown.
const (
	ScaleDownNever         = "never"
	ScaleDownOnSuccess     = "onsuccess"
	ScaleDownProgressively = "progressively"
)

// RollbackWindowSpec is the number of recent revisions a rollback to is fast-tracked.
type RollbackWindowSpec struct {
	Revisions int32 `json:"revisions,omitempty"`
}

// AnalysisRunStrategy configures garbage collection of AnalysisRuns and Experiments.
type AnalysisRunStrategy struct {
	// SuccessfulRunHistoryLimit is how many successful runs to keep. Defaults to 5.
	SuccessfulRunHistoryLimit *int32 `json:"successfulRunHistoryLimit,omitempty"`
	// UnsuccessfulRunHistoryLimit is how many unsuccessful runs to keep. Defaults to 5.
	UnsuccessfulRunHistoryLimit *int32 `json:"unsuccessfulRunHistoryLimit,omitempty"`
}

// RolloutStrategy holds exactly one of the strategies.
type RolloutStrategy struct {
	// +optional
	BlueGreen *BlueGreenStrategy `json:"blueGreen,omitempty"`
	// +optional
	Canary *CanaryStrategy `json:"canary,omitempty"`
}

// BlueGreenStrategy runs the new version beside the old one behind a preview Service
// and switches the active Service to it when promoted.
type BlueGreenStrategy struct {
	// ActiveService is the Service that is switched to the new version on promotion.
	ActiveService string `json:"activeService"`
	// PreviewService is switched to the new version as soon as it exists.
	// +optional
	PreviewService string `json:"previewService,omitempty"`
	// PreviewReplicaCount is the number of replicas the new version runs with before promotion.
	// +optional
	PreviewReplicaCount *int32 `json:"previewReplicaCount,omitempty"`
	// AutoPromotionEnabled promotes as soon as the new version is ready. Defaults to true.
	// +optional
	AutoPromotionEnabled *bool `json:"autoPromotionEnabled,omitempty"`
	// AutoPromotionSeconds promotes that many seconds after the rollout paused.
	// +optional
	AutoPromotionSeconds int32 `json:"autoPromotionSeconds,omitempty"`
	// MaxUnavailable is used when restarting pods. Defaults to 25%.
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// ScaleDownDelaySeconds keeps the old version up that long after the switch. Defaults to 30.
	// +optional
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// ScaleDownDelayRevisionLimit is how many old versions may wait out their delay at once.
	// +optional
	ScaleDownDelayRevisionLimit *int32 `json:"scaleDownDelayRevisionLimit,omitempty"`
	// AbortScaleDownDelaySeconds is how long the preview version stays up after an abort.
	// Defaults to 30; 0 keeps it up.
	// +optional
	AbortScaleDownDelaySeconds *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
	// PrePromotionAnalysis must succeed before the active Service is switched.
	// +optional
	PrePromotionAnalysis *RolloutAnalysis `json:"prePromotionAnalysis,omitempty"`
	// PostPromotionAnalysis runs after the switch; failure switches back.
	// +optional
	PostPromotionAnalysis *RolloutAnalysis `json:"postPromotionAnalysis,omitempty"`
	// AntiAffinity keeps new pods off the nodes of the stable pods.
	// +optional
	AntiAffinity *AntiAffinity `json:"antiAffinity,omitempty"`
	// PreviewMetadata is added to pods while they are the preview version.
	// +optional
	PreviewMetadata *PodTemplateMetadata `json:"previewMetadata,omitempty"`
	// ActiveMetadata is added to pods while they are the active version.
	// +optional
	ActiveMetadata *PodTemplateMetadata `json:"activeMetadata,omitempty"`
}

// AntiAffinity selects the kind of pod anti-affinity injected against the stable pods.
type AntiAffinity struct {
	// +optional
	PreferredDuringSchedulingIgnoredDuringExecution *PreferredDuringSchedulingIgnoredDuringExecution `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
	// +optional
	RequiredDuringSchedulingIgnoredDuringExecution *RequiredDuringSchedulingIgnoredDuringExecution `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// PreferredDuringSchedulingIgnoredDuringExecution asks for soft anti-affinity.
type PreferredDuringSchedulingIgnoredDuringExecution struct {
	// Weight of the preference, 1-100.
	Weight int32 `json:"weight"`
}

// RequiredDuringSchedulingIgnoredDuringExecution asks for hard anti-affinity.
type RequiredDuringSchedulingIgnoredDuringExecution struct{}

// PodTemplateMetadata is extra metadata put on pods while they play a role.
type PodTemplateMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// CanaryStrategy shifts weight to the new version step by step.
type CanaryStrategy struct {
	// CanaryService is switched to the new version.
	// +optional
	CanaryService string `json:"canaryService,omitempty"`
	// StableService is switched to the stable version.
	// +optional
	StableService string `json:"stableService,omitempty"`
	// Steps of the update; none means a rolling update straight to 100%.
	// +optional
	Steps []CanaryStep `json:"steps,omitempty"`
	// TrafficRouting shifts traffic through a mesh or ingress instead of replica counts.
	// +optional
	TrafficRouting *RolloutTrafficRouting `json:"trafficRouting,omitempty"`
	// MaxUnavailable is how many pods may be unavailable during the update. Defaults to 25%.
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// MaxSurge is how many pods may be created over the desired count. Defaults to 25%.
	// +optional
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`
	// Analysis runs in the background across steps.
	// +optional
	Analysis *RolloutAnalysisBackground `json:"analysis,omitempty"`
	// AntiAffinity keeps new pods off the nodes of the stable pods.
	// +optional
	AntiAffinity *AntiAffinity `json:"antiAffinity,omitempty"`
	// CanaryMetadata is added to canary pods.
	// +optional
	CanaryMetadata *PodTemplateMetadata `json:"canaryMetadata,omitempty"`
	// StableMetadata is added to stable pods.
	// +optional
	StableMetadata *PodTemplateMetadata `json:"stableMetadata,omitempty"`
	// ScaleDownDelaySeconds keeps the old version up after promotion (traffic routing only).
	// +optional
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// ScaleDownDelayRevisionLimit is how many old versions may wait out their delay at once.
	// +optional
	ScaleDownDelayRevisionLimit *int32 `json:"scaleDownDelayRevisionLimit,omitempty"`
	// AbortScaleDownDelaySeconds is how long the canary stays up after an abort (traffic
	// routing only).
	// +optional
	AbortScaleDownDelaySeconds *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
	// DynamicStableScale scales the stable version down as the canary takes traffic.
	// +optional
	DynamicStableScale bool `json:"dynamicStableScale,omitempty"`
	// PingPong alternates two Services between the stable and canary roles.
	// +optional
	PingPong *PingPongSpec `json:"pingPong,omitempty"`
	// MinPodsPerReplicaSet is the least number of pods a canary or stable version runs.
	// +optional
	MinPodsPerReplicaSet *int32 `json:"minPodsPerReplicaSet,omitempty"`
	// ReplicaProgressThreshold is the share of new pods that must be available to promote.
	// +optional
	ReplicaProgressThreshold *ReplicaProgressThreshold `json:"replicaProgressThreshold,omitempty"`
}

// ReplicaProgressThreshold is a threshold given in pods or percent.
type ReplicaProgressThreshold struct {
	// Type is Percent or Pods.
	// +kubebuilder:validation:Enum=Percent;Pods
	Type ProgressType `json:"type"`
	// Value of the threshold.
	Value int32 `json:"value"`
}

// ProgressType is the unit of a ReplicaProgressThreshold.
type ProgressType string

// Units of a ReplicaProgressThreshold.
const (
	ProgressTypePercent ProgressType = "Percent"
	ProgressTypePods    ProgressType = "Pods"
)

// PingPongSpec names the two Services that take turns.
type PingPongSpec struct {
	PingService string `json:"pingService"`
	PongService string `json:"pongService"`
}

// RolloutAnalysisBackground is analysis that runs across steps from StartingStep on.
type RolloutAnalysisBackground struct {
	RolloutAnalysis `json:",inline"`
	// StartingStep is the index of the step from which the analysis runs.
	// +optional
	StartingStep *int32 `json:"startingStep,omitempty"`
}

// RolloutAnalysis names the templates an AnalysisRun is made from and its arguments.
type RolloutAnalysis struct {
	// +optional
	Templates []AnalysisTemplateRef `json:"templates,omitempty"`
	// +optional
	Args []AnalysisRunArgument `json:"args,omitempty"`
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty"`
	// +optional
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// +optional
	AnalysisRunMetadata AnalysisRunMetadata `json:"analysisRunMetadata,omitempty"`
}

// AnalysisTemplateRef names an AnalysisTemplate or, with ClusterScope, a ClusterAnalysisTemplate.
type AnalysisTemplateRef struct {
	TemplateName string `json:"templateName,omitempty"`
	// +optional
	ClusterScope bool `json:"clusterScope,omitempty"`
}

// AnalysisRunArgument is an argument given by a rollout to its AnalysisRuns.
type AnalysisRunArgument struct {
	Name string `json:"name"`
	// +optional
	Value string `json:"value,omitempty"`
	// +optional
	ValueFrom *ArgumentValueFrom `json:"valueFrom,omitempty"`
}

// ArgumentValueFrom takes an argument's value from the rollout.
type ArgumentValueFrom struct {
	// PodTemplateHashValue is Stable or Latest.
	// +optional
	PodTemplateHashValue *ValueFromPodTemplateHash `json:"podTemplateHashValue,omitempty"`
	// +optional
	FieldRef *FieldRef `json:"fieldRef,omitempty"`
}

// ValueFromPodTemplateHash chooses whose pod-template-hash an argument takes.
type ValueFromPodTemplateHash string

// Values of ValueFromPodTemplateHash.
const (
	Stable ValueFromPodTemplateHash = "Stable"
	Latest ValueFromPodTemplateHash = "Latest"
)

// FieldRef is a path into the rollout object.
type FieldRef struct {
	FieldPath string `json:"fieldPath"`
}

// AnalysisRunMetadata is metadata put on the AnalysisRuns a rollout creates.
type AnalysisRunMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// CanaryStep is one step of a canary update; exactly one field is set.
type CanaryStep struct {
	// SetWeight sets the share of traffic (or pods) of the canary, 0-100.
	// +optional
	SetWeight *int32 `json:"setWeight,omitempty"`
	// Pause stops the update for a duration, or until promoted.
	// +optional
	Pause *RolloutPause `json:"pause,omitempty"`
	// Experiment runs an Experiment.
	// +optional
	Experiment *RolloutExperimentStep `json:"experiment,omitempty"`
	// Analysis runs an AnalysisRun that must succeed.
	// +optional
	Analysis *RolloutAnalysis `json:"analysis,omitempty"`
	// SetCanaryScale sets the canary's scale apart from its weight.
	// +optional
	SetCanaryScale *SetCanaryScale `json:"setCanaryScale,omitempty"`
	// SetHeaderRoute routes matching requests to the canary.
	// +optional
	SetHeaderRoute *SetHeaderRoute `json:"setHeaderRoute,omitempty"`
	// SetMirrorRoute mirrors matching requests to the canary.
	// +optional
	SetMirrorRoute *SetMirrorRoute `json:"setMirrorRoute,omitempty"`
	// Plugin runs a step plugin.
	// +optional
	Plugin *PluginStep `json:"plugin,omitempty"`
}

// RolloutPause pauses a canary; without a duration it waits for a promote.
type RolloutPause struct {
	// Duration is an integer of seconds or a string such as "30s" or "1h".
	// +optional
	Duration *intstr.IntOrString `json:"duration,omitempty"`
}

// SetCanaryScale sets the canary's replica count apart from the traffic weight.
type SetCanaryScale struct {
	// +optional
	Weight *int32 `json:"weight,omitempty"`
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// +optional
	MatchTrafficWeight bool `json:"matchTrafficWeight,omitempty"`
}

// SetHeaderRoute adds or removes a header-based route to the canary.
type SetHeaderRoute struct {
	Name string `json:"name,omitempty"`
	// +optional
	Match []HeaderRoutingMatch `json:"match,omitempty"`
}

// HeaderRoutingMatch matches one header.
type HeaderRoutingMatch struct {
	HeaderName  string       `json:"headerName"`
	HeaderValue *StringMatch `json:"headerValue,omitempty"`
}

// StringMatch matches a string exactly, by prefix or by regular expression.
type StringMatch struct {
	// +optional
	Exact string `json:"exact,omitempty"`
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// +optional
	Regex string `json:"regex,omitempty"`
}

// SetMirrorRoute adds or removes a mirror route to the canary.
type SetMirrorRoute struct {
	Name string `json:"name"`
	// +optional
	Match []RouteMatch `json:"match,omitempty"`
	// +optional
	Percentage *int32 `json:"percentage,omitempty"`
}

// RouteMatch matches requests by method, path and headers.
type RouteMatch struct {
	// +optional
	Method *StringMatch `json:"method,omitempty"`
	// +optional
	Path *StringMatch `json:"path,omitempty"`
	// +optional
	Headers map[string]StringMatch `json:"headers,omitempty"`
}

// PluginStep runs a step plugin with its raw configuration.
type PluginStep struct {
	Name string `json:"name"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Config json.RawMessage `json:"config,omitempty"`
}

// RolloutExperimentStep runs an Experiment as a canary step.
type RolloutExperimentStep struct {
	Templates []RolloutExperimentTemplate `json:"templates"`
	// +optional
	Duration DurationString `json:"duration,omitempty"`
	// +optional
	Analyses []RolloutExperimentStepAnalysisTemplateRef `json:"analyses,omitempty"`
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty"`
	// +optional
	AnalysisRunMetadata AnalysisRunMetadata `json:"analysisRunMetadata,omitempty"`
	// +optional
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
}

// RolloutExperimentTemplate is a ReplicaSet of an experiment step copied from the canary
// or stable template.
type RolloutExperimentTemplate struct {
	Name    string            `json:"name"`
	SpecRef ReplicaSetSpecRef `json:"specRef"`
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// +optional
	Metadata PodTemplateMetadata `json:"metadata,omitempty"`
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// +optional
	Weight *int32 `json:"weight,omitempty"`
	// +optional
	Service *TemplateService `json:"service,omitempty"`
}

// ReplicaSetSpecRef is canary or stable.
type ReplicaSetSpecRef string

// Values of ReplicaSetSpecRef.
const (
	CanarySpecRef ReplicaSetSpecRef = "canary"
	StableSpecRef ReplicaSetSpecRef = "stable"
)

// TemplateService asks for a Service in front of an experiment template.
type TemplateService struct {
	// +optional
	Name string `json:"name,omitempty"`
}

// RolloutExperimentStepAnalysisTemplateRef is an analysis of an experiment step.
type RolloutExperimentStepAnalysisTemplateRef struct {
	Name         string `json:"name"`
	TemplateName string `json:"templateName"`
	// +optional
	ClusterScope bool `json:"clusterScope,omitempty"`
	// +optional
	Args []AnalysisRunArgument `json:"args,omitempty"`
	// +optional
	RequiredForCompletion bool `json:"requiredForCompletion,omitempty"`
}

// RolloutTrafficRouting configures a traffic router for a canary.
type RolloutTrafficRouting struct {
	// +optional
	Istio *IstioTrafficRouting `json:"istio,omitempty"`
	// +optional
	Nginx *NginxTrafficRouting `json:"nginx,omitempty"`
	// +optional
	ALB *ALBTrafficRouting `json:"alb,omitempty"`
	// +optional
	SMI *SMITrafficRouting `json:"smi,omitempty"`
	// +optional
	Ambassador *AmbassadorTrafficRouting `json:"ambassador,omitempty"`
	// +optional
	AppMesh *AppMeshTrafficRouting `json:"appMesh,omitempty"`
	// +optional
	Traefik *TraefikTrafficRouting `json:"traefik,omitempty"`
	// +optional
	Apisix *ApisixTrafficRouting `json:"apisix,omitempty"`
	// Plugins holds the raw configuration of traffic router plugins by name.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Plugins map[string]json.RawMessage `json:"plugins,omitempty"`
	// +optional
	ManagedRoutes []MangedRoutes `json:"managedRoutes,omitempty"`
	// MaxTrafficWeight is the total weight; defaults to 100.
	// +optional
	MaxTrafficWeight *int32 `json:"maxTrafficWeight,omitempty"`
}

// MangedRoutes names a route the controller manages (spelling kept from the contract).
type MangedRoutes struct {
	Name string `json:"name"`
}

// IstioTrafficRouting routes through Istio VirtualServices.
type IstioTrafficRouting struct {
	// +optional
	VirtualService *IstioVirtualService `json:"virtualService,omitempty"`
	// +optional
	VirtualServices []IstioVirtualService `json:"virtualServices,omitempty"`
	// +optional
	DestinationRule *IstioDestinationRule `json:"destinationRule,omitempty"`
}

// IstioVirtualService is a VirtualService and the routes in it to manage.
type IstioVirtualService struct {
	Name string `json:"name"`
	// +optional
	Routes []string `json:"routes,omitempty"`
	// +optional
	TLSRoutes []TLSRoute `json:"tlsRoutes,omitempty"`
	// +optional
	TCPRoutes []TCPRoute `json:"tcpRoutes,omitempty"`
}

// TLSRoute matches an Istio TLS route.
type TLSRoute struct {
	// +optional
	Port int64 `json:"port,omitempty"`
	// +optional
	SNIHosts []string `json:"sniHosts,omitempty"`
}

// TCPRoute matches an Istio TCP route.
type TCPRoute struct {
	// +optional
	Port int64 `json:"port,omitempty"`
}

// IstioDestinationRule names the subsets used for canary and stable.
type IstioDestinationRule struct {
	Name             string `json:"name"`
	CanarySubsetName string `json:"canarySubsetName"`
	StableSubsetName string `json:"stableSubsetName"`
	// +optional
	AdditionalSubsetNames []string `json:"additionalSubsetNames,omitempty"`
}

// NginxTrafficRouting routes through a canary Ingress for ingress-nginx.
type NginxTrafficRouting struct {
	// +optional
	AnnotationPrefix string `json:"annotationPrefix,omitempty"`
	// +optional
	StableIngress string `json:"stableIngress,omitempty"`
	// +optional
	StableIngresses []string `json:"stableIngresses,omitempty"`
	// +optional
	AdditionalIngressAnnotations map[string]string `json:"additionalIngressAnnotations,omitempty"`
	// +optional
	CanaryIngressAnnotations map[string]string `json:"canaryIngressAnnotations,omitempty"`
}

// ALBTrafficRouting routes through an AWS load balancer Ingress.
type ALBTrafficRouting struct {
	// +optional
	Ingress string `json:"ingress,omitempty"`
	// +optional
	Ingresses   []string `json:"ingresses,omitempty"`
	ServicePort int32    `json:"servicePort"`
	// +optional
	RootService string `json:"rootService,omitempty"`
	// +optional
	AnnotationPrefix string `json:"annotationPrefix,omitempty"`
	// +optional
	StickinessConfig *StickinessConfig `json:"stickinessConfig,omitempty"`
}

// StickinessConfig configures target-group stickiness.
type StickinessConfig struct {
	Enabled         bool  `json:"enabled"`
	DurationSeconds int64 `json:"durationSeconds"`
}

// SMITrafficRouting routes through an SMI TrafficSplit.
type SMITrafficRouting struct {
	// +optional
	RootService string `json:"rootService,omitempty"`
	// +optional
	TrafficSplitName string `json:"trafficSplitName,omitempty"`
}

// AmbassadorTrafficRouting routes through Ambassador Mappings.
type AmbassadorTrafficRouting struct {
	Mappings []string `json:"mappings"`
}

// AppMeshTrafficRouting routes through an App Mesh virtual service.
type AppMeshTrafficRouting struct {
	// +optional
	VirtualService *AppMeshVirtualService `json:"virtualService,omitempty"`
	// +optional
	VirtualNodeGroup *AppMeshVirtualNodeGroup `json:"virtualNodeGroup,omitempty"`
}

// AppMeshVirtualService names the App Mesh virtual service and its routes.
type AppMeshVirtualService struct {
	Name string `json:"name"`
	// +optional
	Routes []string `json:"routes,omitempty"`
}

// AppMeshVirtualNodeGroup names the canary and stable virtual nodes.
type AppMeshVirtualNodeGroup struct {
	CanaryVirtualNodeRef *AppMeshVirtualNodeReference `json:"canaryVirtualNodeRef"`
	StableVirtualNodeRef *AppMeshVirtualNodeReference `json:"stableVirtualNodeRef"`
}

// AppMeshVirtualNodeReference names a virtual node.
type AppMeshVirtualNodeReference struct {
	Name string `json:"name"`
}

// TraefikTrafficRouting routes through a weighted TraefikService.
type TraefikTrafficRouting struct {
	WeightedTraefikServiceName string `json:"weightedTraefikServiceName"`
}

// ApisixTrafficRouting routes through an Apisix route.
type ApisixTrafficRouting struct {
	// +optional
	Route *ApisixRoute `json:"route,omitempty"`
}

// ApisixRoute names an Apisix route and its rules.
type ApisixRoute struct {
	Name string `json:"name"`
	// +optional
	Rules []string `json:"rules,omitempty"`
}

// RolloutStatus is the observed state of a Rollout.
type RolloutStatus struct {
	// Abort asks the controller to abort the current update.
	// +optional
	Abort bool `json:"abort,omitempty"`
	// PauseConditions are the reasons the controller paused; clearing them resumes.
	// +optional
	PauseConditions []PauseCondition `json:"pauseConditions,omitempty"`
	// ControllerPause is true when the controller paused the rollout.
	// +optional
	ControllerPause bool `json:"controllerPause,omitempty"`
	// AbortedAt is when the update was aborted.
	// +optional
	AbortedAt *metav1.Time `json:"abortedAt,omitempty"`
	// CurrentPodHash is the pod-template-hash of the desired template.
	// +optional
	CurrentPodHash string `json:"currentPodHash,omitempty"`
	// CurrentStepHash is the hash of the canary steps.
	// +optional
	CurrentStepHash string `json:"currentStepHash,omitempty"`
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// +optional
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`
	// CurrentStepIndex is the index of the current canary step.
	// +optional
	CurrentStepIndex *int32 `json:"currentStepIndex,omitempty"`
	// CollisionCount is bumped when a ReplicaSet name is taken by another template.
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// ObservedGeneration is the metadata.generation last acted on, as a string.
	// +optional
	ObservedGeneration string `json:"observedGeneration,omitempty"`
	// +optional
	Conditions []RolloutCondition `json:"conditions,omitempty"`
	// +optional
	Canary CanaryStatus `json:"canary,omitempty"`
	// +optional
	BlueGreen BlueGreenStatus `json:"blueGreen,omitempty"`
	// HPAReplicas is the replica count reported to the scale subresource.
	// +optional
	HPAReplicas int32 `json:"HPAReplicas,omitempty"`
	// Selector is the label selector of the pods, as a string, for the scale subresource.
	// +optional
	Selector string `json:"selector,omitempty"`
	// StableRS is the pod-template-hash of the stable ReplicaSet.
	// +optional
	StableRS string `json:"stableRS,omitempty"`
	// RestartedAt is when the last restart completed.
	// +optional
	RestartedAt *metav1.Time `json:"restartedAt,omitempty"`
	// PromoteFull asks to skip all remaining steps and analysis.
	// +optional
	PromoteFull bool `json:"promoteFull,omitempty"`
	// Phase is the rollout's phase.
	// +optional
	Phase RolloutPhase `json:"phase,omitempty"`
	// Message says more about the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// WorkloadObservedGeneration is the generation of the referenced workload last seen.
	// +optional
	WorkloadObservedGeneration string `json:"workloadObservedGeneration,omitempty"`
	// ALB is the status of the AWS load balancer.
	// +optional
	ALB *ALBStatus `json:"alb,omitempty"`
	// ALBs are the statuses of several AWS load balancers.
	// +optional
	ALBs []ALBStatus `json:"albs,omitempty"`
	// Duration records when the update started and finished.
	// +optional
	Duration *RolloutDuration `json:"duration,omitempty"`
}

// RolloutDuration records the timing of the last update.
type RolloutDuration struct {
	// +optional
	RolloutStartedAt *metav1.Time `json:"rolloutStartedAt,omitempty"`
	// +optional
	ManualPauseStartedAt *metav1.Time `json:"manualPauseStartedAt,omitempty"`
	// +optional
	TotalManualPauseDurationSeconds int64 `json:"totalManualPauseDurationSeconds,omitempty"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// +optional
	CompletionStatus CompletionStatus `json:"completionStatus,omitempty"`
}

// CompletionStatus says how the last update ended.
type CompletionStatus string

// Values of CompletionStatus.
const (
	CompletionPromoted       CompletionStatus = "Promoted"
	CompletionFastPromoted   CompletionStatus = "FastPromoted"
	CompletionAborted        CompletionStatus = "Aborted"
	CompletionSuperseded     CompletionStatus = "Superseded"
	CompletionRolledBack     CompletionStatus = "RolledBack"
	CompletionFastRolledBack CompletionStatus = "FastRolledBack"
)

// ALBStatus is the observed state of an AWS load balancer.
type ALBStatus struct {
	// +optional
	LoadBalancer AwsResourceRef `json:"loadBalancer,omitempty"`
	// +optional
	CanaryTargetGroup AwsResourceRef `json:"canaryTargetGroup,omitempty"`
	// +optional
	StableTargetGroup AwsResourceRef `json:"stableTargetGroup,omitempty"`
	// +optional
	Ingress string `json:"ingress,omitempty"`
}

// AwsResourceRef names an AWS resource.
type AwsResourceRef struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
	// +optional
	FullName string `json:"fullName,omitempty"`
}

// RolloutPhase is the phase of a Rollout.
type RolloutPhase string

// Phases of a Rollout.
const (
	RolloutPhaseHealthy     RolloutPhase = "Healthy"
	RolloutPhaseDegraded    RolloutPhase = "Degraded"
	RolloutPhaseProgressing RolloutPhase = "Progressing"
	RolloutPhasePaused      RolloutPhase = "Paused"
)

// PauseReason is why the controller paused a rollout.
type PauseReason string

// Reasons of a PauseCondition.
const (
	PauseReasonInconclusiveAnalysis   PauseReason = "InconclusiveAnalysisRun"
	PauseReasonInconclusiveExperiment PauseReason = "InconclusiveExperiment"
	PauseReasonCanaryPauseStep        PauseReason = "CanaryPauseStep"
	PauseReasonBlueGreenPause         PauseReason = "BlueGreenPause"
)

// PauseCondition records one reason for a pause and when it began.
type PauseCondition struct {
	Reason    PauseReason `json:"reason"`
	StartTime metav1.Time `json:"startTime"`
}

// CanaryStatus is the canary part of the status.
type CanaryStatus struct {
	// +optional
	CurrentStepAnalysisRunStatus *RolloutAnalysisRunStatus `json:"currentStepAnalysisRunStatus,omitempty"`
	// +optional
	CurrentBackgroundAnalysisRunStatus *RolloutAnalysisRunStatus `json:"currentBackgroundAnalysisRunStatus,omitempty"`
	// +optional
	CurrentExperiment string `json:"currentExperiment,omitempty"`
	// +optional
	Weights *TrafficWeights `json:"weights,omitempty"`
	// +optional
	StablePingPong PingPongType `json:"stablePingPong,omitempty"`
	// +optional
	StepPluginStatuses []StepPluginStatus `json:"stepPluginStatuses,omitempty"`
}

// PingPongType is ping or pong.
type PingPongType string

// StepPluginStatus is the status of one step plugin call.
type StepPluginStatus struct {
	Index int32  `json:"index"`
	Name  string `json:"name"`
	// +optional
	Operation string `json:"operation,omitempty"`
	// +optional
	Phase string `json:"phase,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// +optional
	UpdatedAt *metav1.Time `json:"updatedAt,omitempty"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// +optional
	Backoff DurationString `json:"backoff,omitempty"`
	// +optional
	Executions int32 `json:"executions,omitempty"`
	// +optional
	Disabled bool `json:"disabled,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Status json.RawMessage `json:"status,omitempty"`
}

// TrafficWeights are the weights last set through a traffic router.
type TrafficWeights struct {
	Canary WeightDestination `json:"canary"`
	Stable WeightDestination `json:"stable"`
	// +optional
	Additional []WeightDestination `json:"additional,omitempty"`
	// +optional
	Verified *bool `json:"verified,omitempty"`
}

// WeightDestination is the weight sent to one version.
type WeightDestination struct {
	Weight int32 `json:"weight"`
	// +optional
	ServiceName string `json:"serviceName,omitempty"`
	// +optional
	PodTemplateHash string `json:"podTemplateHash,omitempty"`
}

// RolloutAnalysisRunStatus is a short view of an AnalysisRun kept in the rollout's status.
type RolloutAnalysisRunStatus struct {
	Name   string        `json:"name"`
	Status AnalysisPhase `json:"status"`
	// +optional
	Message string `json:"message,omitempty"`
}

// BlueGreenStatus is the blue-green part of the status.
type BlueGreenStatus struct {
	// +optional
	PreviewSelector string `json:"previewSelector,omitempty"`
	// +optional
	ActiveSelector string `json:"activeSelector,omitempty"`
	// +optional
	ScaleUpPreviewCheckPoint bool `json:"scaleUpPreviewCheckPoint,omitempty"`
	// +optional
	PrePromotionAnalysisRunStatus *RolloutAnalysisRunStatus `json:"prePromotionAnalysisRunStatus,omitempty"`
	// +optional
	PostPromotionAnalysisRunStatus *RolloutAnalysisRunStatus `json:"postPromotionAnalysisRunStatus,omitempty"`
}

// RolloutConditionType is the type of a RolloutCondition.
type RolloutConditionType string

// Types of RolloutCondition.
const (
	InvalidSpec           RolloutConditionType = "InvalidSpec"
	RolloutAvailable      RolloutConditionType = "Available"
	RolloutProgressing    RolloutConditionType = "Progressing"
	RolloutReplicaFailure RolloutConditionType = "ReplicaFailure"
	RolloutPaused         RolloutConditionType = "Paused"
	RolloutCompleted      RolloutConditionType = "Completed"
	RolloutHealthy        RolloutConditionType = "Healthy"
)

// RolloutCondition is one condition of a rollout.
type RolloutCondition struct {
	Type   RolloutConditionType   `json:"type"`
	Status corev1.ConditionStatus `json:"status"`
	// LastUpdateTime is when the condition was last written.
	LastUpdateTime metav1.Time `json:"lastUpdateTime"`
	// LastTransitionTime is when the status last changed.
	LastTransitionTime metav1.Time `json:"lastTransitionTime"`
	Reason             string      `json:"reason"`
	Message            string      `json:"message"`
}
