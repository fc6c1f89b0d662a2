package framework

import (
	"fmt"
	"strings"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// The Rollout manifests of the e2e and chaos suites. Both suites build them here, so that a
// scenario of one and a scenario of the other that look alike also run on the same objects.

// Rollout is a Rollout of Replicas pods running Image in one container named "app"; its
// selector and pods carry the label app: <Name>, which its Services select too.
type Rollout struct {
	Name     string
	Image    string
	Replicas int
	// Port, when not 0, is declared on the container and is the target port of the Services:
	// the e2e blue-green tests mirror the seed manifest (test/fixtures/seed-bluegreen.yaml),
	// which serves on 8080.
	Port int
	// Spec holds extra lines of the spec (progressDeadlineSeconds, ...).
	Spec string
}

// Manifest is the Rollout alone; strategy holds the lines of its strategy block. It has no
// Services and none of the defaults of Canary and BlueGreen, for tests that edit its lines
// or need the API server's and the controller's own defaults.
func (r Rollout) Manifest(strategy string) string {
	var port string
	if r.Port != 0 {
		port = fmt.Sprintf("        ports: [{containerPort: %d}]\n", r.Port)
	}
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: %[1]s
spec:
  replicas: %[2]d
%[3]s  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: app
        image: %[4]s
%[5]s  strategy:
%[6]s`, r.Name, r.Replicas, lines(r.Spec, 2), r.Image, port, lines(strategy, 4))
}

// Canary is a canary Rollout with its Services <name>-canary and <name>-stable; canary holds
// extra lines of the canary block (steps included). It keeps three old ReplicaSets at most,
// so that a test running many updates leaves few behind.
func (r Rollout) Canary(canary string) string {
	return r.withHistory().Manifest(fmt.Sprintf("canary:\n  canaryService: %[1]s-canary\n  stableService: %[1]s-stable\n%[2]s", r.Name, Indent(canary, 2))) +
		r.service("canary") + r.service("stable")
}

// BlueGreen is a blue-green Rollout with its Services <name>-active and <name>-preview;
// blueGreen holds extra lines of the blueGreen block. It keeps three old ReplicaSets at most,
// as Canary does.
func (r Rollout) BlueGreen(blueGreen string) string {
	return r.withHistory().Manifest(fmt.Sprintf("blueGreen:\n  activeService: %[1]s-active\n  previewService: %[1]s-preview\n%[2]s", r.Name, Indent(blueGreen, 2))) +
		r.service("active") + r.service("preview")
}

func (r Rollout) withHistory() Rollout {
	r.Spec = strings.TrimSpace("revisionHistoryLimit: 3\n" + r.Spec)
	return r
}

// service is the Service <name>-<role> of the Rollout, on port 80, as a further document of
// the manifest.
func (r Rollout) service(role string) string {
	port := "{port: 80}"
	if r.Port != 0 {
		port = fmt.Sprintf("{port: 80, targetPort: %d}", r.Port)
	}
	return fmt.Sprintf(`---
apiVersion: v1
kind: Service
metadata: {name: %[1]s-%[2]s}
spec:
  selector: {app: %[1]s}
  ports: [%[3]s]
`, r.Name, role, port)
}

// CanaryManifest is Rollout{Name: name, Image: image, Replicas: replicas}.Canary(canary),
// the form most tests need.
func CanaryManifest(name, image string, replicas int, canary string) string {
	return Rollout{Name: name, Image: image, Replicas: replicas}.Canary(canary)
}

// BlueGreenManifest is Rollout{Name: name, Image: image, Replicas: replicas}.BlueGreen(blueGreen),
// the form most tests need.
func BlueGreenManifest(name, image string, replicas int, blueGreen string) string {
	return Rollout{Name: name, Image: image, Replicas: replicas}.BlueGreen(blueGreen)
}

// WithInstanceID labels the Rollout named name in manifest with the controller instance id
// id, so that only a controller started with --instance-id id handles it: a test that kills
// or restarts its own controller leaves the suite's shared one out. It panics when manifest
// has no such Rollout, which would leave the label out and the test on the wrong controller.
func WithInstanceID(manifest, name, id string) string {
	line := "  name: " + name + "\n"
	if !strings.Contains(manifest, line) {
		panic(fmt.Sprintf("WithInstanceID: no object named %q in the manifest", name))
	}
	return strings.Replace(manifest, line, line+"  labels: {"+v1alpha1.LabelKeyControllerInstanceID+": "+id+"}\n", 1)
}

// Indent indents every line of s by n spaces, for YAML pieces put inside a manifest's
// blocks; leading and trailing blank space of s goes, and "" stays "".
func Indent(s string, n int) string {
	if s == "" {
		return ""
	}
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	return strings.Join(lines, "\n")
}

// lines is Indent ending in a newline, or "" for no lines: a block between two lines of a
// manifest.
func lines(s string, n int) string {
	if s = Indent(s, n); s == "" {
		return ""
	}
	return s + "\n"
}
