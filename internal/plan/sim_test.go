package plan_test

import (
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/plan"
	"github.com/tern-rollouts/tern/internal/plan/simulate"
)

// world is a simulate.Sim that fails its test where the Sim reports an error, with the
// few questions the tests ask of it.
type world struct {
	*simulate.Sim
	t *testing.T
	// ro is the simulated Rollout itself: the tests edit it as a user would.
	ro *v1alpha1.Rollout
}

var epoch = simulate.Epoch

const hashKey = v1alpha1.DefaultRolloutUniqueLabelKey

func newWorld(t *testing.T, ro *v1alpha1.Rollout, services ...string) *world {
	t.Helper()
	w := &world{Sim: simulate.New(ro), t: t, ro: ro}
	for _, s := range services {
		w.AddService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: s, Namespace: ro.Namespace},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": ro.Spec.Template.Labels["app"]}}})
	}
	// A world whose test sets no template has the success-rate template that
	// analysisSteps names.
	tmpl := successRateTemplate()
	tmpl.Args[0].Value = ptrTo("unset") // analysisSteps passes no argument
	w.SetAnalysisTemplate("success-rate", tmpl)
	return w
}

// loadRollout reads the Rollout of a fixture, with the defaults the API server applies.
func loadRollout(t *testing.T, file string) *v1alpha1.Rollout {
	t.Helper()
	data, err := os.ReadFile("../../test/fixtures/" + file)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---") {
		var ro v1alpha1.Rollout
		if err := yaml.Unmarshal([]byte(doc), &ro); err != nil {
			t.Fatal(err)
		}
		if ro.Kind != "Rollout" {
			continue
		}
		for i := range ro.Spec.Template.Spec.Containers {
			for j := range ro.Spec.Template.Spec.Containers[i].Ports {
				if ro.Spec.Template.Spec.Containers[i].Ports[j].Protocol == "" {
					ro.Spec.Template.Spec.Containers[i].Ports[j].Protocol = corev1.ProtocolTCP
				}
			}
		}
		return &ro
	}
	t.Fatalf("no Rollout in %s", file)
	return nil
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

// step plans once, applies the decision, and lets the pods settle.
func (w *world) step() plan.Decision {
	w.t.Helper()
	d, err := w.Step()
	w.must(err)
	return d
}

// settle steps until a decision has no actions, failing after too many steps.
func (w *world) settle() {
	w.t.Helper()
	w.must(w.Settle())
}

// advance moves the clock and settles.
func (w *world) advance(d time.Duration) {
	w.t.Helper()
	w.must(w.Advance(d))
}

// withPods has the world model single pods, for the tests that look at them.
func withPods(w *world) *world {
	w.ModelPods()
	return w
}

func (w *world) byHash(h string) *appsv1.ReplicaSet {
	for _, rs := range w.ReplicaSets() {
		if rs.Labels[hashKey] == h {
			return rs
		}
	}
	return nil
}

func (w *world) eventReasons() []string {
	var out []string
	for _, e := range w.Events() {
		out = append(out, e.Reason)
	}
	return out
}

func (w *world) condition(t v1alpha1.RolloutConditionType) *v1alpha1.RolloutCondition {
	for i := range w.ro.Status.Conditions {
		if w.ro.Status.Conditions[i].Type == t {
			return &w.ro.Status.Conditions[i]
		}
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }

func specReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

func findPause(list []v1alpha1.PauseCondition, reason v1alpha1.PauseReason) *v1alpha1.PauseCondition {
	for i := range list {
		if list[i].Reason == reason {
			return &list[i]
		}
	}
	return nil
}
