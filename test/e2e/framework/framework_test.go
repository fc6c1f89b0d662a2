package framework

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// These tests check the cluster harness itself: pod behaviour keyed on the image tag.

func deployment(name, image string, replicas int) []byte {
	return fmt.Appendf(nil, `apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: app, image: %[2]q}]
`, name, image, replicas)
}

// podStates lists the pods of app: how many are Running, how many Ready, and a summary.
func podStates(t *testing.T, ns, app string) (running, ready int, summary string) {
	t.Helper()
	pods, err := Clientset(t).CoreV1().Pods(ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return 0, 0, err.Error()
	}
	var parts []string
	for _, p := range pods.Items {
		r := podReady(&p)
		if p.Status.Phase == corev1.PodRunning {
			running++
		}
		if r {
			ready++
		}
		parts = append(parts, fmt.Sprintf("%s phase=%s ready=%t", p.Name, p.Status.Phase, r))
	}
	return running, ready, fmt.Sprintf("%d pods: %s", len(pods.Items), strings.Join(parts, "; "))
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestNormalImageBecomesReady(t *testing.T) {
	t.Parallel()
	ns := NewNamespace(t, "fw-ready")
	Apply(t, ns, deployment("web", "example.invalid/web:v1", 3))
	start := time.Now()
	Eventually(t, 20*time.Second, func() (bool, string) {
		running, ready, s := podStates(t, ns, "web")
		return running == 3 && ready == 3, s
	})
	t.Logf("3 pods Running+Ready %s after apply", time.Since(start).Round(time.Millisecond))
	Eventually(t, 10*time.Second, func() (bool, string) {
		out := Kubectl(t, "-n", ns, "get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}")
		return out == "3", "deployment readyReplicas=" + out
	})
}

func TestBadReadyImageNeverReady(t *testing.T) {
	t.Parallel()
	ns := NewNamespace(t, "fw-bad-ready")
	// a sidecar with a normal image: one bad-ready container is enough
	Apply(t, ns, []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  replicas: 2
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
      - {name: sidecar, image: example.invalid/proxy:v1}
      - {name: app, image: example.invalid/x:bad-ready}
`))
	Eventually(t, 20*time.Second, func() (bool, string) {
		running, _, s := podStates(t, ns, "bad")
		return running == 2, s
	})
	Consistently(t, 3*time.Second, func() (bool, string) {
		running, ready, s := podStates(t, ns, "bad")
		return running == 2 && ready == 0, s
	})
}

func TestBadCrashImageCrashLoops(t *testing.T) {
	t.Parallel()
	ns := NewNamespace(t, "fw-bad-crash")
	Apply(t, ns, deployment("crash", "registry.invalid:5000/team/app:bad-crash-1", 1))
	Eventually(t, 20*time.Second, func() (bool, string) {
		pods, err := Clientset(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" && !podReady(&p) {
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("no pod in CrashLoopBackOff among %d", len(pods.Items))
	})
}

// A registry port is not a tag: "registry:5000/bad-ready/app:v1" is a normal image.
func TestBadReadyOnlyInTag(t *testing.T) {
	t.Parallel()
	ns := NewNamespace(t, "fw-tag")
	Apply(t, ns, deployment("web", "registry.invalid:5000/bad-ready/app:v1", 1))
	Eventually(t, 20*time.Second, func() (bool, string) {
		running, ready, s := podStates(t, ns, "web")
		return running == 1 && ready == 1, s
	})
}

func TestDecodeManifest(t *testing.T) {
	objs, err := decodeManifest([]byte(`# comment only
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
- {apiVersion: v1, kind: Secret, metadata: {name: c}}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	if want := "ConfigMap/a ConfigMap/b Secret/c"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	for _, bad := range []string{"kind: ConfigMap\nmetadata: {name: x}\n", "apiVersion: v1\nkind: ConfigMap\n", "a: [\n"} {
		if _, err := decodeManifest([]byte(bad)); err == nil {
			t.Errorf("decodeManifest(%q): no error", bad)
		}
	}
}

func TestNamespacePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"TestFoo/sub_case":      "testfoo-sub-case-",
		"--x--":                 "x-",
		"":                      "e2e-",
		strings.Repeat("a", 80): strings.Repeat("a", 57) + "-",
	} {
		if got := namespacePrefix(in); got != want {
			t.Errorf("namespacePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRestartAPIServer(t *testing.T) {
	Disruptive(t)
	ns := NewNamespace(t, "fw-restart")
	Apply(t, ns, deployment("web", "example.invalid/web:v1", 1))
	start := time.Now()
	RestartAPIServer(t, 500*time.Millisecond)
	t.Logf("restart took %s", time.Since(start).Round(time.Millisecond))
	Apply(t, ns, deployment("web", "example.invalid/web:v1", 3))
	start = time.Now()
	Eventually(t, 60*time.Second, func() (bool, string) {
		running, ready, s := podStates(t, ns, "web")
		return running == 3 && ready == 3, s
	})
	t.Logf("scaled to 3 Ready pods %s after the restart", time.Since(start).Round(time.Millisecond))
}
