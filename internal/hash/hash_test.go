package hash

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func ptr[T any](v T) *T { return &v }

// The vectors of compat.md §6.1: the exact JSON the hash covers and the expected names.
func TestPodTemplateVectors(t *testing.T) {
	cases := []struct {
		name      string
		json      string
		want      string
		collision string
	}{
		{
			name:      "getting-started canary",
			json:      `{"metadata":{"labels":{"app":"rollouts-demo"}},"spec":{"containers":[{"name":"rollouts-demo","image":"argoproj/rollouts-demo:blue","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],"resources":{"requests":{"cpu":"5m","memory":"32Mi"}}}]}}`,
			want:      "5cd66ff7ff",
			collision: "7dd5d94754",
		},
		{
			name:      "bluegreen as written",
			json:      `{"metadata":{"labels":{"app":"rollout-bluegreen"}},"spec":{"containers":[{"name":"rollouts-demo","image":"argoproj/rollouts-demo:blue","ports":[{"containerPort":8080}],"resources":{},"imagePullPolicy":"Always"}]}}`,
			want:      "6c64d55fdf",
			collision: "7ddd9879b",
		},
		{
			name: "bluegreen after server default",
			json: `{"metadata":{"labels":{"app":"rollout-bluegreen"}},"spec":{"containers":[{"name":"rollouts-demo","image":"argoproj/rollouts-demo:blue","ports":[{"containerPort":8080,"protocol":"TCP"}],"resources":{},"imagePullPolicy":"Always"}]}}`,
			want: "558dcdc6d",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tmpl corev1.PodTemplateSpec
			if err := json.Unmarshal([]byte(c.json), &tmpl); err != nil {
				t.Fatal(err)
			}
			// The typed round trip must give back the very bytes of the vector, or the
			// hash below would be checked against the wrong input.
			again, _ := json.Marshal(&tmpl)
			if string(again) != c.json {
				t.Fatalf("typed JSON differs from the vector:\n got %s\nwant %s", again, c.json)
			}
			if got := PodTemplate(&tmpl, nil); got != c.want {
				t.Errorf("PodTemplate() = %q, want %q", got, c.want)
			}
			if c.collision != "" {
				if got := PodTemplate(&tmpl, ptr(int32(1))); got != c.collision {
					t.Errorf("PodTemplate(collision=1) = %q, want %q", got, c.collision)
				}
			}
		})
	}
}

// The seed fixtures, read as a user writes them, must name their first ReplicaSets as the
// walkthroughs show once the server defaults are applied.
func TestSeedFixtures(t *testing.T) {
	cases := []struct {
		file            string
		defaultProtocol bool
		want            string
	}{
		{"seed-canary-rollout.yaml", false, "5cd66ff7ff"},
		{"seed-bluegreen.yaml", false, "6c64d55fdf"},
		{"seed-bluegreen.yaml", true, "558dcdc6d"},
	}
	for _, c := range cases {
		data, err := os.ReadFile(filepath.Join("..", "..", "test", "fixtures", c.file))
		if err != nil {
			t.Fatal(err)
		}
		var ro v1alpha1.Rollout
		doc := firstDocument(data)
		if err := yaml.Unmarshal(doc, &ro); err != nil {
			t.Fatal(err)
		}
		if c.defaultProtocol {
			for i := range ro.Spec.Template.Spec.Containers {
				for j := range ro.Spec.Template.Spec.Containers[i].Ports {
					p := &ro.Spec.Template.Spec.Containers[i].Ports[j]
					if p.Protocol == "" {
						p.Protocol = corev1.ProtocolTCP
					}
				}
			}
		}
		if got := PodTemplate(&ro.Spec.Template, nil); got != c.want {
			t.Errorf("%s (server defaults %v): hash %q, want %q", c.file, c.defaultProtocol, got, c.want)
		}
	}
}

func firstDocument(data []byte) []byte {
	for _, doc := range splitYAML(data) {
		var meta struct{ Kind string }
		if yaml.Unmarshal(doc, &meta) == nil && meta.Kind == "Rollout" {
			return doc
		}
	}
	return nil
}

func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	start := 0
	for i := 0; i+4 <= len(data); i++ {
		if (i == 0 || data[i-1] == '\n') && string(data[i:i+3]) == "---" && (i+3 == len(data) || data[i+3] == '\n') {
			docs = append(docs, data[start:i])
			start = i + 4
		}
	}
	return append(docs, data[start:])
}

func TestCollisionCountChangesHash(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "b"}}}}
	seen := map[string]bool{PodTemplate(&tmpl, nil): true}
	for i := int32(0); i < 5; i++ {
		h := PodTemplate(&tmpl, ptr(i))
		if seen[h] {
			t.Fatalf("collision count %d repeats hash %q", i, h)
		}
		seen[h] = true
	}
}

func TestStepsHashStable(t *testing.T) {
	steps := []v1alpha1.CanaryStep{{SetWeight: ptr(int32(20))}, {Pause: &v1alpha1.RolloutPause{}}}
	a, b := Steps(steps), Steps(append([]v1alpha1.CanaryStep(nil), steps...))
	if a != b || a == "" {
		t.Fatalf("Steps() not stable: %q vs %q", a, b)
	}
	if Steps(steps[:1]) == a {
		t.Fatal("different steps gave the same hash")
	}
}
