package simulate

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/hash"
	"github.com/tern-rollouts/tern/internal/plan"
	"github.com/tern-rollouts/tern/internal/traffic"
)

// web is a canary of 2 replicas: setWeight 50, then a 10 s pause.
func web() *v1alpha1.Rollout {
	replicas, weight, pause := int32(2), int32(50), intstr.FromString("10s")
	labels := map[string]string{"app": "web"}
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: v1alpha1.RolloutSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				Steps: []v1alpha1.CanaryStep{{SetWeight: &weight}, {Pause: &v1alpha1.RolloutPause{Duration: &pause}}},
			}},
		},
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The timeline holds each step with its time, writes, events and where the rollout
// stood, as `kubectl tern plan` would print it.
func TestTimeline(t *testing.T) {
	s := New(web())
	must(t, s.Settle())
	if got := s.Rollout().Status.Phase; got != v1alpha1.RolloutPhaseHealthy {
		t.Fatalf("initial deploy: phase %s", got)
	}
	first := s.Timeline()[0]
	if !first.At.Equal(Epoch) || len(first.Actions) == 0 {
		t.Fatalf("first entry %+v: want the initial writes at Epoch", first)
	}
	created := false
	for _, a := range first.Actions {
		if _, ok := a.(plan.Event); ok {
			t.Fatal("an event among the writes")
		}
		_, ok := a.(plan.CreateReplicaSet)
		created = created || ok
	}
	if !created {
		t.Fatalf("first writes %+v: no ReplicaSet created", first.Actions)
	}
	if len(first.Events) == 0 || first.Events[0].Reason != v1alpha1.EventReasonRolloutUpdated {
		t.Fatalf("first events %+v", first.Events)
	}

	s.SetImage("web:2")
	must(t, s.Settle())
	last := s.Timeline()[len(s.Timeline())-1]
	if last.Phase != v1alpha1.RolloutPhasePaused || last.StepIndex == nil || *last.StepIndex != 1 || last.RequeueAfter != 10*time.Second {
		t.Fatalf("after the update: %+v, want paused at step 1 for 10s", last)
	}
	n := len(s.Timeline())
	must(t, s.Advance(10*time.Second))
	done := s.Timeline()[len(s.Timeline())-1]
	if done.Phase != v1alpha1.RolloutPhaseHealthy || !done.At.Equal(Epoch.Add(10*time.Second)) {
		t.Fatalf("after the pause: %+v", done)
	}
	for _, e := range s.Timeline()[n:] {
		if !e.At.Equal(s.Now()) {
			t.Fatalf("entry at %v after the clock moved to %v", e.At, s.Now())
		}
	}
	green := "web-" + hash.PodTemplate(&s.Rollout().Spec.Template, nil)
	if got := s.Replicas(); got[green] != 2 || len(got) != 2 {
		t.Fatalf("replicas %v", got)
	}
}

// Pods of an image marked never ready run but are never available; the rollout waits.
func TestNeverReady(t *testing.T) {
	s := New(web())
	must(t, s.Settle())
	s.NeverReady("web:2")
	s.SetImage("web:2")
	must(t, s.Settle())
	bad := s.ReplicaSet("web-" + hash.PodTemplate(&s.Rollout().Spec.Template, nil))
	if bad == nil || bad.Status.Replicas != 1 || bad.Status.AvailableReplicas != 0 {
		t.Fatalf("never-ready ReplicaSet %+v", bad)
	}
	if s.Rollout().Status.Phase != v1alpha1.RolloutPhaseProgressing {
		t.Fatalf("phase %s", s.Rollout().Status.Phase)
	}
}

// What a cluster would refuse, and the planner's invariants, come back as errors.
func TestErrors(t *testing.T) {
	s := New(web())
	s.AddService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}})
	must(t, s.Settle())
	for name, a := range map[string]plan.Action{
		"no available pods":  plan.SetTraffic{Desired: traffic.Desired{Services: []traffic.Selection{{Service: "web", Hash: "nope"}}}},
		"event of no switch": plan.Event{Reason: v1alpha1.EventReasonSwitchService, Message: "Switched"},
		"eviction, no pods":  plan.EvictPod{Name: "p"},
		"not the Deployment": plan.ScaleDeployment{Name: "web"},
	} {
		if err := s.apply(a); err == nil {
			t.Errorf("%s: %T applied without an error", name, a)
		}
	}
	if _, err := s.CurrentRun(StepRun); err == nil || !strings.Contains(err.Error(), "no Step run") {
		t.Errorf("CurrentRun with none recorded: %v", err)
	}
	if err := s.Run(3, func() bool { return false }); err == nil {
		t.Error("Run never done did not fail")
	}
}

// ModelPods keeps single pods: a new pod is ready one step after it was made, and a
// disruption budget refuses evictions beyond it.
func TestPods(t *testing.T) {
	s := New(web())
	s.ModelPods()
	_, err := s.Step()
	must(t, err)
	if len(s.Pods()) != 2 || s.Unavailable() != 2 {
		t.Fatalf("after the first step: %d pods, %d unavailable", len(s.Pods()), s.Unavailable())
	}
	must(t, s.Settle())
	if s.Unavailable() != 0 {
		t.Fatalf("%d unavailable once settled", s.Unavailable())
	}
	s.SetDisruptionBudget(0)
	p := s.Pods()[0]
	must(t, s.apply(plan.EvictPod{Name: p.Name, UID: string(p.UID)}))
	if s.RefusedEvictions() != 1 || len(s.Evicted()) != 0 {
		t.Fatalf("budget 0: refused %d, evicted %v", s.RefusedEvictions(), s.Evicted())
	}
	s.SetDisruptionBudget(-1)
	must(t, s.apply(plan.EvictPod{Name: p.Name, UID: string(p.UID)}))
	if got := s.Evicted(); len(got) != 1 || got[0] != p.Name {
		t.Fatalf("no budget: evicted %v", got)
	}
}
