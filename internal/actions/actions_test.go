package actions

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/scheme"
)

var key = types.NamespacedName{Namespace: "shop", Name: "web"}

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newClient serves objs with the status subresource enabled, as the real CRD does, so
// that a status write through the main resource would be lost and fail the test.
func newClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	return fake.NewClientBuilder().WithScheme(newScheme(t)).
		WithStatusSubresource(&v1alpha1.Rollout{}, &v1alpha1.Experiment{}).
		WithObjects(objs...).Build()
}

func canaryRollout(steps ...v1alpha1.CanaryStep) *v1alpha1.Rollout {
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, UID: "web-uid"},
		Spec: v1alpha1.RolloutSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1"}},
					Containers:     []corev1.Container{{Name: "app", Image: "app:v1"}, {Name: "proxy", Image: "envoy:1"}},
				},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: steps}},
		},
		Status: v1alpha1.RolloutStatus{StableRS: "aaa", CurrentPodHash: "bbb"},
	}
	return ro
}

func weight(w int32) v1alpha1.CanaryStep { return v1alpha1.CanaryStep{SetWeight: &w} }

var pauseStep = v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}}

func read(t *testing.T, c client.Client) *v1alpha1.Rollout {
	t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := c.Get(context.Background(), key, ro); err != nil {
		t.Fatal(err)
	}
	return ro
}

func TestPromoteClearsPauseConditions(t *testing.T) {
	ro := canaryRollout(weight(20), pauseStep, weight(50))
	ro.Status.CurrentStepIndex = ptr.To[int32](1)
	ro.Status.ControllerPause = true
	ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: metav1.Now()}}
	c := newClient(t, ro)
	if _, err := Promote(context.Background(), c, key, false); err != nil {
		t.Fatal(err)
	}
	got := read(t, c)
	if len(got.Status.PauseConditions) != 0 {
		t.Errorf("pauseConditions = %v, want none", got.Status.PauseConditions)
	}
	// Clearing the pause is the resume; moving the step too would skip the next one.
	if *got.Status.CurrentStepIndex != 1 {
		t.Errorf("currentStepIndex = %d, want 1", *got.Status.CurrentStepIndex)
	}
	if !got.Status.ControllerPause {
		t.Error("controllerPause changed; the controller owns it")
	}
}

func TestPromoteWithoutPauseSkipsCurrentStep(t *testing.T) {
	ro := canaryRollout(weight(20), v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{}}, weight(50))
	ro.Status.CurrentStepIndex = ptr.To[int32](1)
	c := newClient(t, ro)
	if _, err := Promote(context.Background(), c, key, false); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got.Status.CurrentStepIndex == nil || *got.Status.CurrentStepIndex != 2 {
		t.Errorf("currentStepIndex = %v, want 2", got.Status.CurrentStepIndex)
	}
}

func TestPromoteAtLastStepKeepsIndex(t *testing.T) {
	ro := canaryRollout(weight(20), pauseStep)
	ro.Status.CurrentStepIndex = ptr.To[int32](2)
	c := newClient(t, ro)
	if _, err := Promote(context.Background(), c, key, false); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); *got.Status.CurrentStepIndex != 2 {
		t.Errorf("currentStepIndex = %d, want 2 (past the last step)", *got.Status.CurrentStepIndex)
	}
}

func TestPromoteInconclusiveMovesOn(t *testing.T) {
	ro := canaryRollout(weight(20), v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{}}, pauseStep)
	ro.Status.CurrentStepIndex = ptr.To[int32](1)
	ro.Status.ControllerPause = true
	ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonInconclusiveAnalysis, StartTime: metav1.Now()}}
	ro.Status.Canary.CurrentStepAnalysisRunStatus = &v1alpha1.RolloutAnalysisRunStatus{Name: "web-bbb-2-1", Status: v1alpha1.AnalysisPhaseInconclusive}
	c := newClient(t, ro)
	if _, err := Promote(context.Background(), c, key, false); err != nil {
		t.Fatal(err)
	}
	got := read(t, c)
	if len(got.Status.PauseConditions) != 0 || got.Status.ControllerPause || *got.Status.CurrentStepIndex != 2 {
		t.Errorf("status = pause %v controllerPause %v step %d, want none/false/2",
			got.Status.PauseConditions, got.Status.ControllerPause, *got.Status.CurrentStepIndex)
	}
}

func TestPromoteUnpausesSpec(t *testing.T) {
	ro := canaryRollout(weight(20), pauseStep)
	ro.Spec.Paused = true
	ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: metav1.Now()}}
	c := newClient(t, ro)
	if _, err := Promote(context.Background(), c, key, false); err != nil {
		t.Fatal(err)
	}
	got := read(t, c)
	if got.Spec.Paused || len(got.Status.PauseConditions) != 0 {
		t.Errorf("paused = %v, pauseConditions = %v; want unpaused and cleared", got.Spec.Paused, got.Status.PauseConditions)
	}
}

func TestPromoteFull(t *testing.T) {
	ro := canaryRollout(weight(20), pauseStep)
	ro.Spec.Paused = true
	c := newClient(t, ro)
	if _, err := Promote(context.Background(), c, key, true); err != nil {
		t.Fatal(err)
	}
	got := read(t, c)
	if !got.Status.PromoteFull || got.Spec.Paused {
		t.Errorf("promoteFull = %v, paused = %v; want true, false", got.Status.PromoteFull, got.Spec.Paused)
	}
}

func TestPromoteFullWhenAlreadyPromoted(t *testing.T) {
	ro := canaryRollout(weight(20))
	ro.Status.CurrentPodHash = ro.Status.StableRS
	c := newClient(t, ro)
	if _, err := Promote(context.Background(), c, key, true); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got.Status.PromoteFull {
		t.Error("promoteFull set on a rollout with nothing to promote")
	}
}

func TestPromoteBlueGreen(t *testing.T) {
	ro := canaryRollout()
	ro.Spec.Strategy = v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "web"}}
	ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonBlueGreenPause, StartTime: metav1.Now()}}
	c := newClient(t, ro)
	if _, err := Promote(context.Background(), c, key, false); err != nil {
		t.Fatal(err)
	}
	got := read(t, c)
	if len(got.Status.PauseConditions) != 0 || got.Status.CurrentStepIndex != nil {
		t.Errorf("status = %+v, want pause conditions cleared and no step index", got.Status)
	}
}

func TestNotFoundNamesNamespace(t *testing.T) {
	c := newClient(t)
	_, err := Promote(context.Background(), c, key, false)
	want := `rollouts.argoproj.io "web" not found in namespace "shop"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	if _, err := Abort(context.Background(), c, key); err == nil || err.Error() != want {
		t.Errorf("abort err = %v, want %s", err, want)
	}
}

func TestAbortAndRetry(t *testing.T) {
	c := newClient(t, canaryRollout(weight(20)))
	if _, err := Abort(context.Background(), c, key); err != nil {
		t.Fatal(err)
	}
	if !read(t, c).Status.Abort {
		t.Fatal("abort not set")
	}
	if _, err := Retry(context.Background(), c, key); err != nil {
		t.Fatal(err)
	}
	if read(t, c).Status.Abort {
		t.Fatal("abort not cleared")
	}
}

func TestPause(t *testing.T) {
	c := newClient(t, canaryRollout(weight(20)))
	if _, err := Pause(context.Background(), c, key); err != nil {
		t.Fatal(err)
	}
	if !read(t, c).Spec.Paused {
		t.Fatal("spec.paused not set")
	}
}

func TestRestart(t *testing.T) {
	c := newClient(t, canaryRollout(weight(20)))
	at := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)
	if _, err := Restart(context.Background(), c, key, at); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c).Spec.RestartAt; got == nil || !got.Time.Equal(at) {
		t.Fatalf("restartAt = %v, want %v", got, at)
	}
}

func images(ro *v1alpha1.Rollout) map[string]string {
	out := map[string]string{}
	for _, c := range append(ro.Spec.Template.Spec.InitContainers, ro.Spec.Template.Spec.Containers...) {
		out[c.Name] = c.Image
	}
	return out
}

func TestSetImageOneContainer(t *testing.T) {
	c := newClient(t, canaryRollout(weight(20)))
	if _, err := SetImage(context.Background(), c, key, "app", "app:v2"); err != nil {
		t.Fatal(err)
	}
	got := images(read(t, c))
	want := map[string]string{"init": "busybox:1", "app": "app:v2", "proxy": "envoy:1"}
	for name, image := range want {
		if got[name] != image {
			t.Errorf("container %s image = %s, want %s", name, got[name], image)
		}
	}
}

func TestSetImageAllContainers(t *testing.T) {
	c := newClient(t, canaryRollout(weight(20)))
	if _, err := SetImage(context.Background(), c, key, "*", "all:v9"); err != nil {
		t.Fatal(err)
	}
	for name, image := range images(read(t, c)) {
		if image != "all:v9" {
			t.Errorf("container %s image = %s, want all:v9", name, image)
		}
	}
}

func TestSetImageUnknownContainer(t *testing.T) {
	ro := canaryRollout(weight(20))
	c := newClient(t, ro)
	_, err := SetImage(context.Background(), c, key, "nope", "x:1")
	if err == nil || !strings.Contains(err.Error(), `unable to find container named "nope"`) {
		t.Fatalf("err = %v, want a missing-container error", err)
	}
	if got := images(read(t, c)); got["app"] != "app:v1" {
		t.Errorf("rollout changed despite the error: %v", got)
	}
}

func TestSetImageWorkloadRef(t *testing.T) {
	ro := canaryRollout(weight(20))
	ro.Spec.Template = corev1.PodTemplateSpec{}
	ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web-deploy"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: "web-deploy"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "app:v1"}},
		}}},
	}
	c := newClient(t, ro, deploy)
	obj, err := SetImage(context.Background(), c, key, "app", "app:v2")
	if err != nil {
		t.Fatal(err)
	}
	if obj.GetKind() != "Deployment" {
		t.Errorf("updated %s, want the Deployment", obj.GetKind())
	}
	got := &appsv1.Deployment{}
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: key.Namespace, Name: "web-deploy"}, got); err != nil {
		t.Fatal(err)
	}
	if img := got.Spec.Template.Spec.Containers[0].Image; img != "app:v2" {
		t.Errorf("deployment image = %s, want app:v2", img)
	}
}

func replicaSet(ro *v1alpha1.Rollout, rev, hash, image string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ro.Namespace, Name: ro.Name + "-" + hash,
			Labels:          map[string]string{"app": "web", v1alpha1.DefaultRolloutUniqueLabelKey: hash},
			Annotations:     map[string]string{v1alpha1.RevisionAnnotation: rev},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ro, v1alpha1.GroupVersion.WithKind("Rollout"))},
		},
		Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", v1alpha1.DefaultRolloutUniqueLabelKey: hash}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
		}},
	}
}

func TestUndo(t *testing.T) {
	ro := canaryRollout(weight(20))
	ro.Spec.Template.Spec = corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:v3"}}}
	c := newClient(t, ro, replicaSet(ro, "1", "h1", "app:v1"), replicaSet(ro, "2", "h2", "app:v2"), replicaSet(ro, "3", "h3", "app:v3"))

	res, err := Undo(context.Background(), c, key, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := read(t, c).Spec.Template
	if res.Revision != 2 || res.Skipped || got.Spec.Containers[0].Image != "app:v2" {
		t.Errorf("undo to previous: result %+v, image %s; want revision 2, app:v2", res, got.Spec.Containers[0].Image)
	}
	if _, ok := got.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]; ok {
		t.Error("the pod-template-hash label was copied into the rollout")
	}

	if res, err = Undo(context.Background(), c, key, 1); err != nil || read(t, c).Spec.Template.Spec.Containers[0].Image != "app:v1" {
		t.Errorf("undo --to-revision 1: %+v %v", res, err)
	}
	if res, err = Undo(context.Background(), c, key, 1); err != nil || !res.Skipped {
		t.Errorf("undo to the current template: %+v %v, want skipped", res, err)
	}
	if _, err = Undo(context.Background(), c, key, 7); err == nil || !strings.Contains(err.Error(), "unable to find revision 7") {
		t.Errorf("undo to a missing revision: %v", err)
	}
}

func TestRetryExperiment(t *testing.T) {
	exp := &v1alpha1.Experiment{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: "exp"},
		Status: v1alpha1.ExperimentStatus{Phase: v1alpha1.AnalysisPhaseFailed}}
	c := newClient(t, exp)
	k := types.NamespacedName{Namespace: key.Namespace, Name: "exp"}
	if _, err := RetryExperiment(context.Background(), c, k); err != nil {
		t.Fatal(err)
	}
	got := &v1alpha1.Experiment{}
	if err := c.Get(context.Background(), k, got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != "" {
		t.Errorf("status.phase = %s, want cleared", got.Status.Phase)
	}
}

func TestSkipSteps(t *testing.T) {
	ro := canaryRollout(weight(20), pauseStep, weight(50))
	ro.Status.CurrentStepIndex = ptr.To[int32](1)
	ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: metav1.Now()}}
	c := newClient(t, ro)
	if _, err := SkipSteps(context.Background(), c, key, false); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); *got.Status.CurrentStepIndex != 2 || len(got.Status.PauseConditions) != 1 {
		t.Errorf("skip current step: step %d, pauses %v; want 2 and the pause kept", *got.Status.CurrentStepIndex, got.Status.PauseConditions)
	}
	if _, err := SkipSteps(context.Background(), c, key, true); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); *got.Status.CurrentStepIndex != 3 {
		t.Errorf("skip all steps: step %d, want 3", *got.Status.CurrentStepIndex)
	}
	bg := canaryRollout()
	bg.Spec.Strategy = v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "web"}}
	if _, err := SkipSteps(context.Background(), newClient(t, bg), key, false); err == nil {
		t.Error("skipping steps of a blue-green rollout succeeded")
	}
}
