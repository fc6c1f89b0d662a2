package validation

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func TestInvalidSpecMessage(t *testing.T) {
	p := field.NewPath("spec")
	cases := []struct {
		name string
		errs field.ErrorList
		want string
	}{
		{"no errors", nil, ""},
		{
			"one error reads like upstream's",
			field.ErrorList{field.Invalid(p.Child("strategy", "canary", "steps").Index(0).Child("setWeight"), int32(110), "SetWeight needs to be between 0 and 100")},
			"spec.strategy.canary.steps[0].setWeight: Invalid value: 110: SetWeight needs to be between 0 and 100",
		},
		{
			"several errors are all listed",
			field.ErrorList{
				field.Required(p.Child("selector"), "Rollout has missing field '.spec.selector'"),
				field.Invalid(p.Child("replicas"), int64(-1), NegativeMessage),
				field.Duplicate(p.Child("x"), "a"),
			},
			`spec.selector: Required value: Rollout has missing field '.spec.selector' (and 2 more: spec.replicas: Invalid value: -1: must be greater than or equal to 0; spec.x: Duplicate value: "a")`,
		},
	}
	for _, c := range cases {
		if got := InvalidSpecMessage(c.errs); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.name, got, c.want)
		}
	}
}

func TestInvalidObjectMessageForSelectorMismatch(t *testing.T) {
	ro := canaryRollout()
	ro.Spec.Selector.MatchLabels = map[string]string{"app": "web"}
	got := InvalidObjectMessage("Rollout", ro.Name, ValidateRollout(ro))
	want := "The Rollout \"rollouts-demo\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"rollouts-demo\"}: `selector` does not match template `labels`"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestInvalidSpecMessageIsStable(t *testing.T) {
	// Map iteration must not reorder errors: the condition message is compared between
	// reconciles, and a reordering would be a spurious status write.
	ro := canaryRollout()
	ro.Spec.Replicas = ptr.To[int32](-1)
	ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{}, {SetWeight: ptr.To[int32](200)}}
	first := InvalidSpecMessage(ValidateRollout(ro))
	for range 50 {
		if got := InvalidSpecMessage(ValidateRollout(ro)); got != first {
			t.Fatalf("message changed between runs:\n%s\n%s", first, got)
		}
	}
}

func TestReferenceNotFound(t *testing.T) {
	p := field.NewPath("spec", "strategy", "blueGreen", "activeService")
	got := ReferenceNotFound(p, ServiceNotFoundMessage, "web-active").Error()
	want := `spec.strategy.blueGreen.activeService: Invalid value: "web-active": services "web-active" not found`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
