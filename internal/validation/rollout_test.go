package validation

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// canaryRollout is the getting-started canary from the upstream docs: valid as is.
func canaryRollout() *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "rollouts-demo", Namespace: "default"},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](5),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "rollouts-demo"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "rollouts-demo"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "rollouts-demo",
					Image: "argoproj/rollouts-demo:blue",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				}}},
			},
			RevisionHistoryLimit: ptr.To[int32](2),
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				Steps: []v1alpha1.CanaryStep{
					{SetWeight: ptr.To[int32](20)},
					{Pause: &v1alpha1.RolloutPause{}},
					{SetWeight: ptr.To[int32](40)},
					{Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intstr.FromInt32(10))}},
					{SetWeight: ptr.To[int32](60)},
					{Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intstr.FromString("10s"))}},
					{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "success-rate"}}}},
				},
			}},
		},
	}
}

func blueGreenRollout() *v1alpha1.Rollout {
	ro := canaryRollout()
	ro.Spec.Strategy = v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
		ActiveService:        "rollout-bluegreen-active",
		PreviewService:       "rollout-bluegreen-preview",
		AutoPromotionEnabled: ptr.To(false),
	}}
	return ro
}

// got renders errors as "path: detail", the two things a user needs to fix them; an
// error without detail (Duplicate) shows its type instead.
func got(errs field.ErrorList) []string {
	out := []string{}
	for _, e := range errs {
		detail := e.Detail
		if detail == "" {
			detail = e.Type.String()
		}
		out = append(out, e.Field+": "+detail)
	}
	return out
}

type rolloutCase struct {
	name   string
	base   func() *v1alpha1.Rollout
	mutate func(*v1alpha1.Rollout)
	want   []string
}

func runRolloutCases(t *testing.T, cases []rolloutCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ro := c.base()
			if c.mutate != nil {
				c.mutate(ro)
			}
			g := got(ValidateRollout(ro))
			want := c.want
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(g, want) {
				t.Errorf("ValidateRollout errors\n got:  %q\n want: %q", g, want)
			}
		})
	}
}

func TestValidateRolloutSpec(t *testing.T) {
	runRolloutCases(t, []rolloutCase{
		{name: "getting-started canary is valid", base: canaryRollout},
		{name: "blue-green is valid", base: blueGreenRollout},
		{
			name: "replicas nil defaults to 1 and is valid", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.Replicas = nil },
		},
		{
			name: "replicas 0 is valid", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.Replicas = ptr.To[int32](0) },
		},
		{
			name: "negative replicas", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.Replicas = ptr.To[int32](-1) },
			want:   []string{"spec.replicas: must be greater than or equal to 0"},
		},
		{
			name: "negative revisionHistoryLimit", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.RevisionHistoryLimit = ptr.To[int32](-3) },
			want:   []string{"spec.revisionHistoryLimit: must be greater than or equal to 0"},
		},
		{
			name: "negative minReadySeconds", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.MinReadySeconds = -1 },
			want:   []string{"spec.minReadySeconds: must be greater than or equal to 0"},
		},
		{
			name: "progressDeadlineSeconds equal to minReadySeconds", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				ro.Spec.MinReadySeconds = 30
				ro.Spec.ProgressDeadlineSeconds = ptr.To[int32](30)
			},
			want: []string{"spec.progressDeadlineSeconds: must be greater than minReadySeconds"},
		},
		{
			name: "default progressDeadlineSeconds (600) below minReadySeconds", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.MinReadySeconds = 900 },
			want:   []string{"spec.progressDeadlineSeconds: must be greater than minReadySeconds"},
		},
		{
			name: "progressDeadlineSeconds above minReadySeconds", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				ro.Spec.MinReadySeconds = 30
				ro.Spec.ProgressDeadlineSeconds = ptr.To[int32](31)
			},
		},
		{
			name: "negative progressDeadlineSeconds", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.ProgressDeadlineSeconds = ptr.To[int32](-5) },
			want:   []string{"spec.progressDeadlineSeconds: must be greater than or equal to 0"},
		},
		{
			name: "missing selector", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.Selector = nil },
			want:   []string{"spec.selector: Rollout has missing field '.spec.selector'"},
		},
		{
			name: "empty selector selects every pod", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.Selector = &metav1.LabelSelector{} },
			want:   []string{"spec.selector: This rollout is selecting all pods by having an empty selector."},
		},
		{
			name: "selector does not match template labels", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.Selector.MatchLabels = map[string]string{"app": "other"} },
			want:   []string{"spec.template.metadata.labels: `selector` does not match template `labels`"},
		},
		{
			name: "selector by expression matching the labels", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				ro.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"rollouts-demo", "x"}},
				}}
			},
		},
		{
			name: "malformed selector operator", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				ro.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Like"}}
			},
			want: []string{`spec.selector.matchExpressions[0].operator: not a valid selector operator`},
		},
		{
			name: "neither template nor workloadRef", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.Template.Spec.Containers = nil },
			want:   []string{"spec.template.spec.containers: Rollout has missing field 'spec.template.spec.containers'"},
		},
		{
			name: "workloadRef without template or selector", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				ro.Spec.Template = corev1.PodTemplateSpec{}
				ro.Spec.Selector = nil
				ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "demo", ScaleDown: "progressively"}
			},
		},
		{
			name: "template and workloadRef both set", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "demo"}
			},
			want: []string{"spec.template: template must be empty for workload reference rollout"},
		},
		{
			name: "workloadRef of an unsupported kind, no name, bad scaleDown", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				ro.Spec.Template = corev1.PodTemplateSpec{}
				ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{Kind: "StatefulSet", ScaleDown: "sometimes"}
			},
			want: []string{
				`spec.workloadRef.kind: supported values: "Deployment", "ReplicaSet", "PodTemplate"`,
				"spec.workloadRef.name: Rollout has missing field 'spec.workloadRef.name'",
				`spec.workloadRef.scaleDown: supported values: "never", "onsuccess", "progressively"`,
			},
		},
		{
			name: "container without name or image, duplicate init container", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				ro.Spec.Template.Spec.Containers = append(ro.Spec.Template.Spec.Containers, corev1.Container{})
				ro.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "rollouts-demo", Image: "busybox"}}
			},
			want: []string{
				"spec.template.spec.containers[1].name: every container needs a name",
				"spec.template.spec.containers[1].image: every container needs an image",
				"spec.template.spec.initContainers[0].name: Duplicate value",
			},
		},
		{
			name: "container name that is not a DNS label", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.Template.Spec.Containers[0].Name = "Web_1" },
			want: []string{
				"spec.template.spec.containers[0].name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
			},
		},
		{
			name: "restartPolicy Never cannot run in a ReplicaSet", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			want:   []string{`spec.template.spec.restartPolicy: supported values: "Always"`},
		},
		{
			name: "activeDeadlineSeconds cannot run in a ReplicaSet", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](10) },
			want:   []string{"spec.template.spec.activeDeadlineSeconds: activeDeadlineSeconds in ReplicaSet is not Supported"},
		},
		{
			name: "no strategy", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) { ro.Spec.Strategy = v1alpha1.RolloutStrategy{} },
			want:   []string{"spec.strategy: Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'"},
		},
		{
			name: "two strategies", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				ro.Spec.Strategy.BlueGreen = &v1alpha1.BlueGreenStrategy{ActiveService: "a"}
			},
			want: []string{"spec.strategy: Multiple Strategies can not be listed"},
		},
		{
			name: "negative rollback window and history limits", base: canaryRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				ro.Spec.RollbackWindow = &v1alpha1.RollbackWindowSpec{Revisions: -1}
				ro.Spec.Analysis = &v1alpha1.AnalysisRunStrategy{SuccessfulRunHistoryLimit: ptr.To[int32](-1), UnsuccessfulRunHistoryLimit: ptr.To[int32](2)}
			},
			want: []string{
				"spec.rollbackWindow.revisions: must be greater than or equal to 0",
				"spec.analysis.successfulRunHistoryLimit: must be greater than or equal to 0",
			},
		},
	})
}

func TestValidateBlueGreen(t *testing.T) {
	bg := func(ro *v1alpha1.Rollout) *v1alpha1.BlueGreenStrategy { return ro.Spec.Strategy.BlueGreen }
	runRolloutCases(t, []rolloutCase{
		{
			name: "preview service is optional", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) { bg(ro).PreviewService = "" },
		},
		{
			name: "same active and preview service", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) { bg(ro).PreviewService = bg(ro).ActiveService },
			want:   []string{"spec.strategy.blueGreen.activeService: This rollout uses the same service for the active and preview services, but two different services are required."},
		},
		{
			name: "empty active service", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) { bg(ro).ActiveService = "" },
			want:   []string{"spec.strategy.blueGreen.activeService: Rollout has missing field 'spec.strategy.blueGreen.activeService'"},
		},
		{
			name: "negative counts and delays", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				bg(ro).PreviewReplicaCount = ptr.To[int32](-1)
				bg(ro).AutoPromotionSeconds = -2
				bg(ro).ScaleDownDelaySeconds = ptr.To[int32](-3)
				bg(ro).AbortScaleDownDelaySeconds = ptr.To[int32](-4)
			},
			want: []string{
				"spec.strategy.blueGreen.previewReplicaCount: must be greater than or equal to 0",
				"spec.strategy.blueGreen.autoPromotionSeconds: must be greater than or equal to 0",
				"spec.strategy.blueGreen.scaleDownDelaySeconds: must be greater than or equal to 0",
				"spec.strategy.blueGreen.abortScaleDownDelaySeconds: must be greater than or equal to 0",
			},
		},
		{
			name: "scale-down revision limit above the history limit", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) { bg(ro).ScaleDownDelayRevisionLimit = ptr.To[int32](3) },
			want:   []string{"spec.strategy.blueGreen.scaleDownDelayRevisionLimit: This rollout's revision history limit can not be smaller than the rollout's scale down limit"},
		},
		{
			name: "scale-down revision limit within the history limit", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) { bg(ro).ScaleDownDelayRevisionLimit = ptr.To[int32](2) },
		},
		{
			name: "maxUnavailable over 100%", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) { bg(ro).MaxUnavailable = ptr.To(intstr.FromString("150%")) },
			want:   []string{"spec.strategy.blueGreen.maxUnavailable: must not be greater than 100%"},
		},
		{
			name: "anti-affinity weight out of range", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				bg(ro).AntiAffinity = &v1alpha1.AntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: &v1alpha1.PreferredDuringSchedulingIgnoredDuringExecution{Weight: 101}}
			},
			want: []string{"spec.strategy.blueGreen.antiAffinity.preferredDuringSchedulingIgnoredDuringExecution.weight: AntiAffinity weight must be between 1-100"},
		},
		{
			name: "anti-affinity with both kinds", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				bg(ro).AntiAffinity = &v1alpha1.AntiAffinity{
					PreferredDuringSchedulingIgnoredDuringExecution: &v1alpha1.PreferredDuringSchedulingIgnoredDuringExecution{Weight: 50},
					RequiredDuringSchedulingIgnoredDuringExecution:  &v1alpha1.RequiredDuringSchedulingIgnoredDuringExecution{},
				}
			},
			want: []string{"spec.strategy.blueGreen.antiAffinity: AntiAffinity must have exactly one strategy listed"},
		},
		{
			name: "anti-affinity required alone is valid", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				bg(ro).AntiAffinity = &v1alpha1.AntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1alpha1.RequiredDuringSchedulingIgnoredDuringExecution{}}
			},
		},
		{
			name: "pre-promotion analysis without templates", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) { bg(ro).PrePromotionAnalysis = &v1alpha1.RolloutAnalysis{} },
			want:   []string{"spec.strategy.blueGreen.prePromotionAnalysis.templates: " + AnalysisNoTemplatesMessage},
		},
		{
			name: "post-promotion analysis with bad args", base: blueGreenRollout,
			mutate: func(ro *v1alpha1.Rollout) {
				hash := v1alpha1.ValueFromPodTemplateHash("Newest")
				bg(ro).PostPromotionAnalysis = &v1alpha1.RolloutAnalysis{
					Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "smoke"}},
					Args: []v1alpha1.AnalysisRunArgument{
						{Name: "svc", Value: "x"},
						{Name: "svc", Value: "y"},
						{Name: "hash", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: &hash}},
						{Name: "img", Value: "z", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{}}},
					},
				}
			},
			want: []string{
				"spec.strategy.blueGreen.postPromotionAnalysis.args[1].name: Duplicate value",
				`spec.strategy.blueGreen.postPromotionAnalysis.args[2].valueFrom.podTemplateHashValue: supported values: "Stable", "Latest"`,
				"spec.strategy.blueGreen.postPromotionAnalysis.args[3]: set value or valueFrom, not both",
				"spec.strategy.blueGreen.postPromotionAnalysis.args[3].valueFrom.fieldRef.fieldPath: Rollout has missing field 'spec.strategy.blueGreen.postPromotionAnalysis.args[3].valueFrom.fieldRef.fieldPath'",
			},
		},
	})
}

// TestErrorTypes checks that the field.Error types are the ones kubectl users know, since
// the rendered message starts with them ("Required value", "Invalid value: ...").
func TestErrorTypes(t *testing.T) {
	ro := canaryRollout()
	ro.Spec.Selector = nil
	ro.Spec.Replicas = ptr.To[int32](-1)
	errs := ValidateRollout(ro)
	if len(errs) != 2 {
		t.Fatalf("want 2 errors, got %v", errs)
	}
	if errs[0].Type != field.ErrorTypeInvalid || errs[0].BadValue != int64(-1) {
		t.Errorf("replicas error = %#v, want Invalid with value -1", errs[0])
	}
	if errs[1].Type != field.ErrorTypeRequired {
		t.Errorf("selector error type = %v, want Required", errs[1].Type)
	}
}
