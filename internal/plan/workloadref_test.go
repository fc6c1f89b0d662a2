package plan_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/hash"
	"github.com/tern-rollouts/tern/internal/snapshot"
)

// refCanary is the seed canary with its template and selector moved into a Deployment
// of 5 replicas that spec.workloadRef names.
func refCanary(t *testing.T, scaleDown string) *world {
	t.Helper()
	w := seedCanary(t)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptrTo(int32(5)),
			Selector: w.ro.Spec.Selector.DeepCopy(),
			Template: *w.ro.Spec.Template.DeepCopy(),
		},
	}
	w.ro.Spec.Template = corev1.PodTemplateSpec{}
	w.ro.Spec.Selector = nil
	w.ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", ScaleDown: scaleDown}
	w.SetWorkload(&snapshot.Workload{Found: true, Template: d.Spec.Template, Selector: d.Spec.Selector, Generation: 1, Deployment: d})
	return w
}

func (w *world) deploymentReplicas() int32 { return *w.Workload().Deployment.Spec.Replicas }

// setWorkloadImage changes the referenced Deployment's template, as `kubectl set image
// deployment/web` would.
func (w *world) setWorkloadImage(image string) {
	wl := w.Workload()
	d := wl.Deployment
	d.Spec.Template.Spec.Containers[0].Image = image
	d.Generation++
	wl.Template, wl.Generation = d.Spec.Template, d.Generation
}

func (w *world) workloadHash() string {
	return hash.PodTemplate(&w.Workload().Template, w.ro.Status.CollisionCount)
}

// The template comes from the Deployment and hashes exactly as the same template inline
// would; scaleDown onsuccess takes the Deployment to zero once the rollout is Healthy;
// a change of the Deployment's template is an update that goes through the steps.
func TestWorkloadRefDeploymentOnSuccess(t *testing.T) {
	w := refCanary(t, v1alpha1.ScaleDownOnSuccess)
	w.settleChecking(func() {
		if w.ro.Status.Phase != v1alpha1.RolloutPhaseHealthy && w.deploymentReplicas() != 5 {
			t.Fatalf("Deployment scaled to %d before the rollout was Healthy", w.deploymentReplicas())
		}
	})
	wantEqual(t, "same ReplicaSet as an inline template", w.Replicas(), map[string]int32{canaryBlue: 5})
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "Deployment scaled down", w.deploymentReplicas(), int32(0))
	wantEqual(t, "workload-generation", w.ro.Annotations[v1alpha1.WorkloadGenerationAnnotation], "1")
	wantEqual(t, "workloadObservedGeneration", w.ro.Status.WorkloadObservedGeneration, "1")
	wantEqual(t, "selector from the Deployment", w.ro.Status.Selector, "app=rollouts-demo")
	rs := w.ReplicaSet(canaryBlue)
	wantEqual(t, "RS selector", rs.Spec.Selector.MatchLabels, map[string]string{"app": canaryRO, hashKey: blueHash})

	w.setWorkloadImage("argoproj/rollouts-demo:yellow")
	w.settle()
	yellow := w.workloadHash()
	wantEqual(t, "20%", w.Replicas(), map[string]int32{canaryBlue: 4, w.rsOf(yellow): 1})
	wantEqual(t, "paused", w.ro.Status.Message, "CanaryPauseStep")
	wantEqual(t, "workload-generation", w.ro.Annotations[v1alpha1.WorkloadGenerationAnnotation], "2")
	wantEqual(t, "workloadObservedGeneration", w.ro.Status.WorkloadObservedGeneration, "2")
	wantEqual(t, "Deployment stays down", w.deploymentReplicas(), int32(0))
}

// progressively hands the Deployment's pods over as the rollout's become available, and
// never scales the Deployment up; never leaves it alone.
func TestWorkloadRefScaleDownProgressively(t *testing.T) {
	w := withPods(refCanary(t, v1alpha1.ScaleDownProgressively))
	last := w.deploymentReplicas()
	w.settleChecking(func() {
		got := w.deploymentReplicas()
		if got > last {
			t.Fatalf("Deployment scaled up from %d to %d", last, got)
		}
		if avail := w.availablePods(); got < 5-avail {
			t.Fatalf("Deployment at %d with only %d rollout pods available", got, avail)
		}
		last = got
	})
	wantEqual(t, "Deployment at zero", w.deploymentReplicas(), int32(0))

	w = refCanary(t, v1alpha1.ScaleDownNever)
	w.settle()
	wantEqual(t, "never", w.deploymentReplicas(), int32(5))
	wantEqual(t, "healthy", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
}

// A missing referenced object is InvalidSpec with a message naming it, and the rollout
// goes ahead as soon as the object exists.
func TestWorkloadRefMissingThenCreated(t *testing.T) {
	w := refCanary(t, "")
	wl := w.Workload()
	w.SetWorkload(&snapshot.Workload{})
	w.settle()
	c := w.condition(v1alpha1.InvalidSpec)
	if c == nil || !strings.Contains(c.Message, `spec.workloadRef.name: Invalid value: "web": deployments.apps "web" not found`) {
		t.Fatalf("InvalidSpec = %+v", c)
	}
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseDegraded)
	wantEqual(t, "nothing created", len(w.ReplicaSets()), 0)

	w.SetWorkload(wl)
	w.settle()
	wantEqual(t, "InvalidSpec cleared", w.condition(v1alpha1.InvalidSpec) == nil, true)
	wantEqual(t, "phase", w.ro.Status.Phase, v1alpha1.RolloutPhaseHealthy)
	wantEqual(t, "deployed", w.Replicas(), map[string]int32{canaryBlue: 5})
}

// A PodTemplate lends a template but no selector; a ReplicaSet lends both.
func TestWorkloadRefPodTemplateAndReplicaSet(t *testing.T) {
	w := refCanary(t, "")
	tmpl := w.Workload().Template
	w.ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "v1", Kind: "PodTemplate", Name: "web"}
	w.SetWorkload(&snapshot.Workload{Found: true, Template: tmpl, Generation: 1})
	w.settle()
	if c := w.condition(v1alpha1.InvalidSpec); c == nil || !strings.Contains(c.Message, "Rollout has missing field '.spec.selector'") {
		t.Fatalf("InvalidSpec = %+v", c)
	}
	w.ro.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": canaryRO}}
	w.settle()
	wantEqual(t, "deployed from the PodTemplate", w.Replicas(), map[string]int32{canaryBlue: 5})

	w = refCanary(t, v1alpha1.ScaleDownOnSuccess)
	sel := w.Workload().Selector
	w.ro.Spec.WorkloadRef.Kind = "ReplicaSet"
	w.SetWorkload(&snapshot.Workload{Found: true, Template: tmpl, Selector: sel, Generation: 3})
	w.settle()
	wantEqual(t, "deployed from the ReplicaSet", w.Replicas(), map[string]int32{canaryBlue: 5})
	wantEqual(t, "generation", w.ro.Status.WorkloadObservedGeneration, "3")
}

// Both a template and a workloadRef, or a referenced template the selector does not
// match, are InvalidSpec; nothing is touched.
func TestWorkloadRefInvalid(t *testing.T) {
	w := refCanary(t, "")
	w.ro.Spec.Template = *w.Workload().Template.DeepCopy()
	w.settle()
	if c := w.condition(v1alpha1.InvalidSpec); c == nil || !strings.Contains(c.Message, "template must be empty for workload reference rollout") {
		t.Fatalf("InvalidSpec = %+v", c)
	}

	w = refCanary(t, v1alpha1.ScaleDownOnSuccess)
	w.ro.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
	w.settle()
	if c := w.condition(v1alpha1.InvalidSpec); c == nil || !strings.Contains(c.Message, "spec.workloadRef.template.metadata.labels") {
		t.Fatalf("InvalidSpec = %+v", c)
	}
	wantEqual(t, "nothing created", len(w.ReplicaSets()), 0)
	wantEqual(t, "Deployment untouched", w.deploymentReplicas(), int32(5))
}
