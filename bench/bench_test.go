package main

import (
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The harness subtracts its own requests from the API server's counts, so its labels must
// be the API server's.
func TestClassifyMatchesAPIServerLabels(t *testing.T) {
	cases := []struct {
		method, url, contentType string
		want                     reqKey
	}{
		{"GET", "/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts?watch=true&resourceVersion=1", "", reqKey{Verb: "WATCH", Group: "argoproj.io", Resource: "rollouts"}},
		{"GET", "/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts", "", reqKey{Verb: "LIST", Group: "argoproj.io", Resource: "rollouts"}},
		{"GET", "/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts/r", "", reqKey{Verb: "GET", Group: "argoproj.io", Resource: "rollouts"}},
		{"PATCH", "/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts/r/status", "application/merge-patch+json", reqKey{Verb: "PATCH", Group: "argoproj.io", Resource: "rollouts", Subresource: "status"}},
		{"PATCH", "/apis/apps/v1/namespaces/ns/replicasets/r", "application/apply-patch+yaml", reqKey{Verb: "APPLY", Group: "apps", Resource: "replicasets"}},
		{"POST", "/api/v1/namespaces/ns/services", "application/json", reqKey{Verb: "POST", Resource: "services"}},
		{"DELETE", "/api/v1/namespaces/ns/pods", "", reqKey{Verb: "DELETECOLLECTION", Resource: "pods"}},
		{"DELETE", "/api/v1/namespaces/ns", "", reqKey{Verb: "DELETE", Resource: "namespaces"}},
		{"GET", "/api/v1/namespaces/ns/serviceaccounts/default", "", reqKey{Verb: "GET", Resource: "serviceaccounts"}},
		{"POST", "/api/v1/namespaces", "", reqKey{Verb: "POST", Resource: "namespaces"}},
		{"GET", "/api/v1/nodes", "", reqKey{Verb: "LIST", Resource: "nodes"}},
	}
	for _, c := range cases {
		u, _ := url.Parse(c.url)
		got, ok := classify(c.method, u, c.contentType)
		if !ok || got != c.want {
			t.Errorf("%s %s = %+v, %v; want %+v", c.method, c.url, got, ok, c.want)
		}
	}
	for _, p := range []string{"/metrics", "/readyz", "/apis", "/apis/apps/v1", "/api/v1"} {
		u, _ := url.Parse(p)
		if k, ok := classify("GET", u, ""); ok {
			t.Errorf("%s classified as %+v, want a non-resource URL", p, k)
		}
	}
}

func TestAttributableResources(t *testing.T) {
	for k, want := range map[reqKey]bool{
		{Group: "argoproj.io", Resource: "rollouts", Subresource: "status"}: true,
		{Group: "argoproj.io", Resource: "analysisruns"}:                    true,
		{Group: "apps", Resource: "replicasets"}:                            true,
		{Group: "apps", Resource: "replicasets", Subresource: "status"}:     false, // kube-controller-manager
		{Resource: "services"}:                                              true,
		{Resource: "events"}:                                                false,
		{Resource: "pods"}:                                                  false,
	} {
		if got := attributable(k); got != want {
			t.Errorf("attributable(%v) = %v, want %v", k, got, want)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	in := `# HELP apiserver_request_total Counter
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",group="argoproj.io",resource="rollouts",subresource="status",verb="PATCH"} 47
apiserver_request_total{code="409",group="apps",resource="replicasets",subresource="",verb="POST"} 2
authenticated_user_requests{username="client"} 1.5e+03
odd{label="a \"quoted\", comma\\ and \n newline"} 1
plain 3 1700000000000
`
	m, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := m["apiserver_request_total"]; len(got) != 2 || got[0].value != 47 || got[0].labels["subresource"] != "status" || got[1].labels["code"] != "409" {
		t.Errorf("apiserver_request_total = %+v", got)
	}
	if got := m["authenticated_user_requests"]; len(got) != 1 || got[0].value != 1500 || got[0].labels["username"] != "client" {
		t.Errorf("authenticated_user_requests = %+v", got)
	}
	if got := m["odd"][0].labels["label"]; got != "a \"quoted\", comma\\ and \n newline" {
		t.Errorf("escaped label = %q", got)
	}
	if got := m["plain"]; len(got) != 1 || got[0].value != 3 {
		t.Errorf("plain = %+v", got)
	}
}

func TestCountsSub(t *testing.T) {
	a := counts{{Verb: "PATCH", Resource: "x"}: 5, {Verb: "GET", Resource: "x"}: 2}
	b := counts{{Verb: "PATCH", Resource: "x"}: 3, {Verb: "GET", Resource: "x"}: 2, {Verb: "POST", Resource: "y"}: 1}
	d := a.sub(b)
	if len(d) != 2 || d[reqKey{Verb: "PATCH", Resource: "x"}] != 2 || d[reqKey{Verb: "POST", Resource: "y"}] != -1 {
		t.Errorf("sub = %v", d)
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]float64{5, 1, 4, 2, 3})
	if s.Median != 3 || s.P95 != 5 || s.Min != 1 || s.Max != 5 || s.N != 5 {
		t.Errorf("odd: %+v", s)
	}
	s = summarize([]float64{4, 1, 3, 2})
	if s.Median != 2.5 {
		t.Errorf("even median %v, want 2.5", s.Median)
	}
	var v []float64
	for i := 1; i <= 100; i++ {
		v = append(v, float64(i))
	}
	if s := summarize(v); s.P95 != 95 {
		t.Errorf("p95 of 1..100 = %v, want 95 (nearest rank)", s.P95)
	}
	if s := summarize(nil); s.present {
		t.Error("no samples must not look measured")
	}
}

func TestRSSEnds(t *testing.T) {
	var series []procSample
	t0 := time.Now()
	for i := 0; i < 100; i++ {
		series = append(series, procSample{At: t0.Add(time.Duration(i) * time.Second), RSSMiB: 50 + float64(i)/10})
	}
	first, last := rssEnds(series)
	if first < 50 || first > 51 || last < 59 || last > 60 {
		t.Errorf("rssEnds = %v, %v", first, last)
	}
}

func TestStepLatencyStepsChangeTheCanaryEveryStep(t *testing.T) {
	steps := stepLatencySteps(50)
	if len(steps) != 102 {
		t.Fatalf("%d steps, want 51 setWeight/pause pairs", len(steps))
	}
	for i := 0; i < 51; i++ {
		if i > 0 && zigzag(i)*4/100 == zigzag(i-1)*4/100 {
			t.Errorf("steps %d and %d have the same canary count of 4 replicas", i-1, i)
		}
		if steps[2*i+1] != pauseForever {
			t.Errorf("step %d = %s, want an indefinite pause", 2*i+1, steps[2*i+1])
		}
	}
}

func TestParseControllerSpec(t *testing.T) {
	c, err := parseControllerSpec("argo=/bin/rollouts --kubeconfig={kubeconfig} --metrics=x=y")
	if err != nil || c.Name != "argo" || c.Command != "/bin/rollouts --kubeconfig={kubeconfig} --metrics=x=y" {
		t.Errorf("got %+v, %v", c, err)
	}
	for _, bad := range []string{"no-name-here", "=cmd", "a b=cmd", "a/b=cmd"} {
		if _, err := parseControllerSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDNSName(t *testing.T) {
	if got := dnsName("b-Canary_Complete-1000-tern.qps-0-12345"); got != "b-canary-complete-1000-tern-qps-0-12345" {
		t.Errorf("dnsName = %q", got)
	}
	if got := dnsName(strings.Repeat("a", 70) + "-"); len(got) > 63 {
		t.Errorf("dnsName too long: %d", len(got))
	}
}

func TestWatcherHooksRemovedInAnyOrder(t *testing.T) {
	w := &watcher{changed: make(chan struct{}), hooks: map[int]func(client.Object, time.Time){}}
	var a, b int
	removeA := w.hook(func(client.Object, time.Time) { a++ })
	removeB := w.hook(func(client.Object, time.Time) { b++ })
	w.event(&corev1.Service{})
	removeA()
	w.event(&corev1.Service{})
	removeB()
	w.event(&corev1.Service{})
	if a != 1 || b != 2 {
		t.Errorf("hook calls a=%d b=%d, want 1 and 2", a, b)
	}
}

func TestCommandQPS(t *testing.T) {
	for cmd, want := range map[string]float64{
		"ctl --kubeconfig={kubeconfig} --qps=200 --burst=400": 200,
		"ctl --qps 40":         40,
		"ctl -qps=12.5":        12.5,
		"ctl --burst=10":       0,
		"ctl --qps=notanumber": 0,
	} {
		g := &group{Runs: []*runResult{{Controller: controllerSpec{Command: cmd}}}}
		if got := commandQPS(g); got != want {
			t.Errorf("commandQPS(%q) = %v, want %v", cmd, got, want)
		}
	}
}
