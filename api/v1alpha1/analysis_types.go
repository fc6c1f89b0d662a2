package v1alpha1

import (
	"encoding/json"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// AnalysisTemplate holds the metrics an AnalysisRun is made from, in one namespace.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=analysistemplates,shortName=at,scope=Namespaced
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="Time since resource was created"
type AnalysisTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AnalysisTemplateSpec `json:"spec"`
}

// AnalysisTemplateList is a list of AnalysisTemplates.
//
// +kubebuilder:object:root=true
type AnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AnalysisTemplate `json:"items"`
}

// ClusterAnalysisTemplate is an AnalysisTemplate usable from every namespace.
//
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=clusteranalysistemplates,shortName=cat,scope=Cluster
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="Time since resource was created"
type ClusterAnalysisTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AnalysisTemplateSpec `json:"spec"`
}

// ClusterAnalysisTemplateList is a list of ClusterAnalysisTemplates.
//
// +kubebuilder:object:root=true
type ClusterAnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterAnalysisTemplate `json:"items"`
}

// AnalysisTemplateSpec is the content of an AnalysisTemplate.
type AnalysisTemplateSpec struct {
	// Metrics to measure.
	// +optional
	Metrics []Metric `json:"metrics,omitempty"`
	// Args the metrics refer to as {{args.NAME}}.
	// +optional
	Args []Argument `json:"args,omitempty"`
	// DryRun metrics are measured but do not decide the run's phase.
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty"`
	// MeasurementRetention keeps more or fewer measurements per metric.
	// +optional
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// Templates are other templates merged into this one.
	// +optional
	Templates []AnalysisTemplateRef `json:"templates,omitempty"`
}

// AnalysisRun measures metrics and reaches a verdict.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=analysisruns,shortName=ar,scope=Namespaced
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.phase",description="AnalysisRun status"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="Time since resource was created"
type AnalysisRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AnalysisRunSpec `json:"spec"`
	// +optional
	Status AnalysisRunStatus `json:"status,omitempty"`
}

// AnalysisRunList is a list of AnalysisRuns.
//
// +kubebuilder:object:root=true
type AnalysisRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AnalysisRun `json:"items"`
}

// AnalysisRunSpec is the content of an AnalysisRun.
type AnalysisRunSpec struct {
	Metrics []Metric `json:"metrics"`
	// +optional
	Args []Argument `json:"args,omitempty"`
	// Terminate stops the run; it ends with the phases measured so far.
	// +optional
	Terminate bool `json:"terminate,omitempty"`
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty"`
	// +optional
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// TTLStrategy deletes the run some time after it completes.
	// +optional
	TTLStrategy *TTLStrategy `json:"ttlStrategy,omitempty"`
}

// TTLStrategy says when a completed AnalysisRun is deleted.
type TTLStrategy struct {
	// +optional
	SecondsAfterCompletion *int32 `json:"secondsAfterCompletion,omitempty"`
	// +optional
	SecondsAfterFailure *int32 `json:"secondsAfterFailure,omitempty"`
	// +optional
	SecondsAfterSuccess *int32 `json:"secondsAfterSuccess,omitempty"`
}

// Argument is a named value substituted into metrics.
type Argument struct {
	Name string `json:"name"`
	// +optional
	Value *string `json:"value,omitempty"`
	// +optional
	ValueFrom *ValueFrom `json:"valueFrom,omitempty"`
}

// ValueFrom takes an argument's value from a Secret or a field of the run.
type ValueFrom struct {
	// +optional
	SecretKeyRef *SecretKeyRef `json:"secretKeyRef,omitempty"`
	// +optional
	FieldRef *FieldRef `json:"fieldRef,omitempty"`
}

// SecretKeyRef is a key of a Secret in the run's namespace.
type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// DryRun names metrics (or "*") that are measured without deciding the phase.
type DryRun struct {
	MetricName string `json:"metricName"`
}

// MeasurementRetention sets how many measurements of a metric are kept.
type MeasurementRetention struct {
	MetricName string `json:"metricName"`
	Limit      int32  `json:"limit"`
}

// DurationString is a duration such as "30s" or "5m".
type DurationString string

// Metric is one measurement, repeated, with the conditions that judge it.
type Metric struct {
	Name string `json:"name"`
	// Interval between measurements; without it the metric is measured once.
	// +optional
	Interval DurationString `json:"interval,omitempty"`
	// InitialDelay before the first measurement.
	// +optional
	InitialDelay DurationString `json:"initialDelay,omitempty"`
	// Count is how many measurements to take.
	// +optional
	Count *intstr.IntOrString `json:"count,omitempty"`
	// +optional
	SuccessCondition string `json:"successCondition,omitempty"`
	// +optional
	FailureCondition string `json:"failureCondition,omitempty"`
	// +optional
	FailureLimit *intstr.IntOrString `json:"failureLimit,omitempty"`
	// +optional
	InconclusiveLimit *intstr.IntOrString `json:"inconclusiveLimit,omitempty"`
	// +optional
	ConsecutiveErrorLimit *intstr.IntOrString `json:"consecutiveErrorLimit,omitempty"`
	// +optional
	ConsecutiveSuccessLimit *intstr.IntOrString `json:"consecutiveSuccessLimit,omitempty"`
	Provider                MetricProvider      `json:"provider"`
}

// MetricProvider holds exactly one metric source.
type MetricProvider struct {
	// +optional
	Prometheus *PrometheusMetric `json:"prometheus,omitempty"`
	// +optional
	Kayenta *KayentaMetric `json:"kayenta,omitempty"`
	// +optional
	Web *WebMetric `json:"web,omitempty"`
	// +optional
	Datadog *DatadogMetric `json:"datadog,omitempty"`
	// +optional
	Wavefront *WavefrontMetric `json:"wavefront,omitempty"`
	// +optional
	NewRelic *NewRelicMetric `json:"newRelic,omitempty"`
	// +optional
	Job *JobMetric `json:"job,omitempty"`
	// +optional
	CloudWatch *CloudWatchMetric `json:"cloudWatch,omitempty"`
	// +optional
	Graphite *GraphiteMetric `json:"graphite,omitempty"`
	// +optional
	Influxdb *InfluxdbMetric `json:"influxdb,omitempty"`
	// +optional
	SkyWalking *SkyWalkingMetric `json:"skywalking,omitempty"`
	// Plugin holds the raw configuration of metric plugins by name.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Plugin map[string]json.RawMessage `json:"plugin,omitempty"`
}

// PrometheusMetric queries a Prometheus server.
type PrometheusMetric struct {
	// +optional
	Address string `json:"address,omitempty"`
	// +optional
	Query string `json:"query,omitempty"`
	// +optional
	Authentication Authentication `json:"authentication,omitempty"`
	// Timeout of the query in seconds. Defaults to 30.
	// +optional
	Timeout *int64 `json:"timeout,omitempty"`
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// +optional
	Headers []WebMetricHeader `json:"headers,omitempty"`
	// +optional
	RangeQuery *PrometheusRangeQueryArgs `json:"rangeQuery,omitempty"`
}

// PrometheusRangeQueryArgs turns the query into a range query.
type PrometheusRangeQueryArgs struct {
	// +optional
	Start string `json:"start,omitempty"`
	// +optional
	End string `json:"end,omitempty"`
	// +optional
	Step string `json:"step,omitempty"`
}

// Authentication holds one way to authenticate to a metric source.
type Authentication struct {
	// +optional
	Sigv4 Sigv4Config `json:"sigv4,omitempty"`
	// +optional
	OAuth2 OAuth2Config `json:"oauth2,omitempty"`
	// +optional
	BasicAuth BasicAuth `json:"basicAuth,omitempty"`
}

// Sigv4Config signs requests for AWS managed Prometheus.
type Sigv4Config struct {
	// +optional
	Region string `json:"region,omitempty"`
	// +optional
	Profile string `json:"profile,omitempty"`
	// +optional
	RoleARN string `json:"roleArn,omitempty"`
}

// OAuth2Config gets a token by client credentials.
type OAuth2Config struct {
	// +optional
	TokenURL string `json:"tokenUrl,omitempty"`
	// +optional
	ClientID string `json:"clientId,omitempty"`
	// +optional
	ClientSecret string `json:"clientSecret,omitempty"`
	// +optional
	Scopes []string `json:"scopes,omitempty"`
}

// BasicAuth is a user name and password.
type BasicAuth struct {
	// +optional
	Username string `json:"username,omitempty"`
	// +optional
	Password string `json:"password,omitempty"`
}

// WebMetricHeader is one HTTP header.
type WebMetricHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// WebMetricMethod is an HTTP method.
type WebMetricMethod string

// HTTP methods of a web metric.
const (
	WebMetricMethodGet  WebMetricMethod = "GET"
	WebMetricMethodPost WebMetricMethod = "POST"
	WebMetricMethodPut  WebMetricMethod = "PUT"
)

// WebMetric calls an HTTP endpoint and reads a value from its JSON answer.
type WebMetric struct {
	// +optional
	Method WebMetricMethod `json:"method,omitempty"`
	URL    string          `json:"url"`
	// +optional
	Headers []WebMetricHeader `json:"headers,omitempty"`
	// +optional
	Body string `json:"body,omitempty"`
	// +optional
	TimeoutSeconds int64 `json:"timeoutSeconds,omitempty"`
	// +optional
	JSONPath string `json:"jsonPath,omitempty"`
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	JSONBody json.RawMessage `json:"jsonBody,omitempty"`
	// +optional
	Authentication Authentication `json:"authentication,omitempty"`
}

// JobMetric runs a Kubernetes Job; exit 0 is success.
type JobMetric struct {
	// +optional
	Metadata metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec     batchv1.JobSpec   `json:"spec"`
}

// KayentaMetric asks Kayenta to judge a canary.
type KayentaMetric struct {
	Address                  string           `json:"address"`
	Application              string           `json:"application"`
	CanaryConfigName         string           `json:"canaryConfigName"`
	MetricsAccountName       string           `json:"metricsAccountName"`
	ConfigurationAccountName string           `json:"configurationAccountName"`
	StorageAccountName       string           `json:"storageAccountName"`
	Threshold                KayentaThreshold `json:"threshold"`
	Scopes                   []KayentaScope   `json:"scopes"`
	// +optional
	Lookback DurationString `json:"lookback,omitempty"`
}

// KayentaThreshold holds the pass and marginal scores.
type KayentaThreshold struct {
	Pass     int64 `json:"pass"`
	Marginal int64 `json:"marginal"`
}

// KayentaScope is a named pair of control and experiment scopes.
type KayentaScope struct {
	Name            string      `json:"name"`
	ControlScope    ScopeDetail `json:"controlScope"`
	ExperimentScope ScopeDetail `json:"experimentScope"`
}

// ScopeDetail is one Kayenta scope.
type ScopeDetail struct {
	Scope  string `json:"scope"`
	Region string `json:"region"`
	Step   int64  `json:"step"`
	Start  string `json:"start"`
	End    string `json:"end"`
}

// DatadogMetric queries Datadog.
type DatadogMetric struct {
	// +optional
	Interval DurationString `json:"interval,omitempty"`
	// +optional
	Query string `json:"query,omitempty"`
	// +optional
	Queries map[string]string `json:"queries,omitempty"`
	// +optional
	Formula string `json:"formula,omitempty"`
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// +optional
	Aggregator string `json:"aggregator,omitempty"`
	// +optional
	SecretRef SecretRef `json:"secretRef,omitempty"`
	// +optional
	RequestTimeout DurationString `json:"requestTimeout,omitempty"`
}

// SecretRef names a Secret, optionally in the run's namespace.
type SecretRef struct {
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Namespaced bool `json:"namespaced,omitempty"`
}

// WavefrontMetric queries Wavefront.
type WavefrontMetric struct {
	// +optional
	Address string `json:"address,omitempty"`
	// +optional
	Query string `json:"query,omitempty"`
}

// NewRelicMetric queries New Relic.
type NewRelicMetric struct {
	// +optional
	Profile string `json:"profile,omitempty"`
	Query   string `json:"query"`
	// +optional
	Timeout *int64 `json:"timeout,omitempty"`
}

// CloudWatchMetric queries AWS CloudWatch.
type CloudWatchMetric struct {
	// +optional
	Interval          DurationString              `json:"interval,omitempty"`
	MetricDataQueries []CloudWatchMetricDataQuery `json:"metricDataQueries"`
}

// CloudWatchMetricDataQuery is one CloudWatch query.
type CloudWatchMetricDataQuery struct {
	ID string `json:"id,omitempty"`
	// +optional
	Expression *string `json:"expression,omitempty"`
	// +optional
	Label *string `json:"label,omitempty"`
	// +optional
	MetricStat *CloudWatchMetricStat `json:"metricStat,omitempty"`
	// +optional
	Period *intstr.IntOrString `json:"period,omitempty"`
	// +optional
	ReturnData *bool `json:"returnData,omitempty"`
}

// CloudWatchMetricStat is a CloudWatch metric and statistic.
type CloudWatchMetricStat struct {
	// +optional
	Metric CloudWatchMetricStatMetric `json:"metric,omitempty"`
	// +optional
	Period intstr.IntOrString `json:"period,omitempty"`
	// +optional
	Stat string `json:"stat,omitempty"`
	// +optional
	Unit string `json:"unit,omitempty"`
}

// CloudWatchMetricStatMetric names a CloudWatch metric.
type CloudWatchMetricStatMetric struct {
	// +optional
	Dimensions []CloudWatchMetricStatMetricDimension `json:"dimensions,omitempty"`
	// +optional
	MetricName string `json:"metricName,omitempty"`
	// +optional
	Namespace *string `json:"namespace,omitempty"`
}

// CloudWatchMetricStatMetricDimension is a dimension of a CloudWatch metric.
type CloudWatchMetricStatMetricDimension struct {
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Value string `json:"value,omitempty"`
}

// GraphiteMetric queries Graphite.
type GraphiteMetric struct {
	// +optional
	Address string `json:"address,omitempty"`
	// +optional
	Query string `json:"query,omitempty"`
}

// InfluxdbMetric queries InfluxDB.
type InfluxdbMetric struct {
	// +optional
	Profile string `json:"profile,omitempty"`
	// +optional
	Query string `json:"query,omitempty"`
}

// SkyWalkingMetric queries SkyWalking.
type SkyWalkingMetric struct {
	// +optional
	Address string `json:"address,omitempty"`
	// +optional
	Query string `json:"query,omitempty"`
	// +optional
	Interval DurationString `json:"interval,omitempty"`
}

// AnalysisPhase is the phase of a run, a metric or a measurement.
type AnalysisPhase string

// Phases of analysis.
const (
	AnalysisPhasePending      AnalysisPhase = "Pending"
	AnalysisPhaseRunning      AnalysisPhase = "Running"
	AnalysisPhaseSuccessful   AnalysisPhase = "Successful"
	AnalysisPhaseFailed       AnalysisPhase = "Failed"
	AnalysisPhaseError        AnalysisPhase = "Error"
	AnalysisPhaseInconclusive AnalysisPhase = "Inconclusive"
)

// Completed reports whether the phase is final.
func (p AnalysisPhase) Completed() bool {
	switch p {
	case AnalysisPhaseSuccessful, AnalysisPhaseFailed, AnalysisPhaseError, AnalysisPhaseInconclusive:
		return true
	}
	return false
}

// AnalysisRunStatus is the observed state of an AnalysisRun.
type AnalysisRunStatus struct {
	Phase AnalysisPhase `json:"phase"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	MetricResults []MetricResult `json:"metricResults,omitempty"`
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// +optional
	RunSummary RunSummary `json:"runSummary,omitempty"`
	// +optional
	DryRunSummary *RunSummary `json:"dryRunSummary,omitempty"`
}

// RunSummary counts metrics by phase.
type RunSummary struct {
	// +optional
	Count int32 `json:"count,omitempty"`
	// +optional
	Successful int32 `json:"successful,omitempty"`
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// +optional
	Inconclusive int32 `json:"inconclusive,omitempty"`
	// +optional
	Error int32 `json:"error,omitempty"`
}

// MetricResult is the state of one metric of a run.
type MetricResult struct {
	Name  string        `json:"name"`
	Phase AnalysisPhase `json:"phase"`
	// +optional
	Measurements []Measurement `json:"measurements,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	Count int32 `json:"count,omitempty"`
	// +optional
	Successful int32 `json:"successful,omitempty"`
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// +optional
	Inconclusive int32 `json:"inconclusive,omitempty"`
	// +optional
	Error int32 `json:"error,omitempty"`
	// +optional
	ConsecutiveError int32 `json:"consecutiveError,omitempty"`
	// +optional
	ConsecutiveSuccess int32 `json:"consecutiveSuccess,omitempty"`
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Measurement is one observation of a metric.
type Measurement struct {
	Phase AnalysisPhase `json:"phase"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// +optional
	Value string `json:"value,omitempty"`
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
	// +optional
	ResumeAt *metav1.Time `json:"resumeAt,omitempty"`
}
