package main

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pod(name, image string, ready bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"rollouts-pod-template-hash": "h-" + name, "app": "gb"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	return p
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func metrics(t *testing.T, s *Simulator) string {
	t.Helper()
	var b strings.Builder
	if err := s.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCounters(t *testing.T) {
	clk := &fakeClock{time.Unix(1000, 0)}
	s := NewSimulator(10, 0, 0.5, clk.now)
	s.Observe(pod("good", "nginx:1.25", true))
	s.Observe(pod("bad", "registry:5000/team/nginx:bad-v2", true))
	s.Observe(pod("starting", "nginx:1.25", false))
	unlabelled := pod("other", "nginx:1.25", true)
	delete(unlabelled.Labels, "rollouts-pod-template-hash")
	s.Observe(unlabelled)

	clk.t = clk.t.Add(10 * time.Second)
	want := `# HELP http_requests_total Requests served by simulated rollout pods, by status code.
# TYPE http_requests_total counter
http_requests_total{namespace="ns",pod="bad",rollouts_pod_template_hash="h-bad",app="gb",code="200"} 50
http_requests_total{namespace="ns",pod="bad",rollouts_pod_template_hash="h-bad",app="gb",code="500"} 50
http_requests_total{namespace="ns",pod="good",rollouts_pod_template_hash="h-good",app="gb",code="200"} 100
http_requests_total{namespace="ns",pod="good",rollouts_pod_template_hash="h-good",app="gb",code="500"} 0
# HELP trafficsim_pods Ready rollout pods the simulator serves traffic for.
# TYPE trafficsim_pods gauge
trafficsim_pods 2
`
	if got := metrics(t, s); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	// Not Ready: the pod's series disappear and its counters stop; Ready again: they go on
	// from where they were, never reset.
	s.Observe(pod("good", "nginx:1.25", false))
	clk.t = clk.t.Add(5 * time.Second)
	if got := metrics(t, s); strings.Contains(got, `pod="good"`) {
		t.Errorf("unready pod exported:\n%s", got)
	}
	s.Observe(pod("good", "nginx:1.25", true))
	clk.t = clk.t.Add(2 * time.Second)
	if got := metrics(t, s); !strings.Contains(got, `pod="good",rollouts_pod_template_hash="h-good",app="gb",code="200"} 120`) {
		t.Errorf("counter after 12s of readiness:\n%s", got)
	}
	s.Forget("ns", "good")
	if got := metrics(t, s); strings.Contains(got, `pod="good"`) || !strings.Contains(got, "trafficsim_pods 1") {
		t.Errorf("deleted pod exported:\n%s", got)
	}
	deleting := pod("bad", "nginx:bad-v2", true)
	deleting.DeletionTimestamp = &metav1.Time{Time: clk.t}
	s.Observe(deleting)
	if got := metrics(t, s); strings.Contains(got, `pod="bad"`) {
		t.Errorf("terminating pod exported:\n%s", got)
	}
}

func TestImageTag(t *testing.T) {
	for image, want := range map[string]string{
		"nginx":                         "",
		"nginx:bad-1":                   "bad-1",
		"localhost:5000/nginx":          "",
		"localhost:5000/nginx:bad-x":    "bad-x",
		"nginx:1.2@sha256:abcd":         "1.2",
		"registry.io/a/b:bad-ready-now": "bad-ready-now",
	} {
		if got := imageTag(image); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := quote("a\"b\\c\nd"); got != `"a\"b\\c\nd"` {
		t.Errorf("%s", got)
	}
}
