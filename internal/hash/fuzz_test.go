package hash

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// The seeds run in plain `go test`; `go test -fuzz FuzzPodTemplate ./internal/hash` explores.

// safeAlphabet is what rand.SafeEncodeString maps every digit to: no vowels, no 0/1/3.
const safeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func fuzzTemplate(name, image, label string, port int32) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": label}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: name, Image: image, Ports: []corev1.ContainerPort{{ContainerPort: port, Protocol: corev1.ProtocolTCP}},
		}}},
	}
}

func FuzzPodTemplate(f *testing.F) {
	f.Add("rollouts-demo", "argoproj/rollouts-demo:blue", "rollouts-demo", int32(8080), int32(0), true)
	f.Add("app", "nginx:1", "", int32(0), int32(1), true)
	f.Add("", "", "x", int32(-1), int32(-1), false)
	f.Add("a", "registry:5000/x:bad-ready", "y", int32(65535), int32(255), true)
	f.Add("a", "b", "c", int32(1), int32(1<<31-1), true)
	f.Fuzz(func(t *testing.T, name, image, label string, port, collision int32, withCollision bool) {
		tmpl := fuzzTemplate(name, image, label, port)
		var cc *int32
		if withCollision {
			cc = &collision
		}
		h := PodTemplate(tmpl, cc)
		if h != PodTemplate(tmpl.DeepCopy(), cc) {
			t.Fatal("the same template hashed twice gives two names")
		}
		// It ends ReplicaSet and pod names and is a label value: it must be one.
		if len(h) == 0 || len(h) > 10 || strings.Trim(h, safeAlphabet) != "" {
			t.Fatalf("hash %q is not 1-10 characters of %q", h, safeAlphabet)
		}
		if errs := validation.IsValidLabelValue(h); len(errs) > 0 {
			t.Fatalf("hash %q is not a label value: %v", h, errs)
		}
		// The next collision count must give another name, or a collision could never be
		// resolved. Provable when the two counts differ in their low byte only: FNV-1a
		// maps a state and a byte to a new state bijectively, so inputs differing in one
		// byte end in different sums, different decimals, different safe encodings.
		if cc != nil && collision&0xff != 0xff {
			next := collision + 1
			if PodTemplate(tmpl, &next) == h {
				t.Fatalf("collision counts %d and %d give the same hash %q", collision, next, h)
			}
		}
		// The controller hashes the template as decoded from the API server: a JSON round
		// trip (for text JSON can carry unchanged) keeps the name.
		if utf8.ValidString(name) && utf8.ValidString(image) && utf8.ValidString(label) {
			data, err := json.Marshal(tmpl)
			if err != nil {
				t.Fatal(err)
			}
			var back corev1.PodTemplateSpec
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if PodTemplate(&back, cc) != h {
				t.Fatalf("the hash changed across a JSON round trip of %s", data)
			}
		}
	})
}

func FuzzSteps(f *testing.F) {
	f.Add(int32(20), "1h", int32(2), false)
	f.Add(int32(-5), "", int32(0), true)
	f.Add(int32(150), "5x", int32(-1), true)
	f.Fuzz(func(t *testing.T, weight int32, pause string, replicas int32, indefinite bool) {
		d := intstr.FromString(pause)
		steps := []v1alpha1.CanaryStep{
			{SetWeight: &weight},
			{Pause: &v1alpha1.RolloutPause{Duration: &d}},
			{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: &replicas}},
		}
		if indefinite {
			steps = append(steps, v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}})
		}
		h := Steps(steps)
		if h != Steps(steps) || len(h) == 0 || strings.Trim(h, safeAlphabet) != "" {
			t.Fatalf("steps hash %q", h)
		}
	})
}
