package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Simulator holds the simulated request counters of every Ready rollout pod. A pod's
// counters are a pure function of how long it has been Ready, so that a test knows what
// Prometheus will see: Rate requests per second, of which a fixed share fails with code 500
// (BadErrorRatio for pods running an image tagged bad-*, GoodErrorRatio for the others).
type Simulator struct {
	Rate           float64
	GoodErrorRatio float64
	BadErrorRatio  float64
	Now            func() time.Time

	mu   sync.Mutex
	pods map[podKey]*podState
}

type podKey struct{ namespace, name string }

type podState struct {
	hash, app string
	bad       bool
	// readyFor is the time the pod was Ready before readySince; readySince is zero while
	// the pod is not Ready. Counters only grow while the pod is Ready and never reset.
	readyFor   time.Duration
	readySince time.Time
}

// NewSimulator returns a simulator with the given rate and error ratios.
func NewSimulator(rate, goodErrors, badErrors float64, now func() time.Time) *Simulator {
	return &Simulator{Rate: rate, GoodErrorRatio: goodErrors, BadErrorRatio: badErrors, Now: now, pods: map[podKey]*podState{}}
}

// Observe records a pod's current state (from an informer add or update).
func (s *Simulator) Observe(pod *corev1.Pod) {
	hash, ok := pod.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]
	if !ok {
		return
	}
	now := s.Now()
	ready := podReady(pod)
	s.mu.Lock()
	defer s.mu.Unlock()
	key := podKey{pod.Namespace, pod.Name}
	st := s.pods[key]
	if st == nil {
		st = &podState{}
		s.pods[key] = st
	}
	st.hash, st.app, st.bad = hash, pod.Labels["app"], badImage(pod)
	switch {
	case ready && st.readySince.IsZero():
		st.readySince = now
	case !ready && !st.readySince.IsZero():
		st.readyFor += now.Sub(st.readySince)
		st.readySince = time.Time{}
	}
}

// Forget drops a deleted pod.
func (s *Simulator) Forget(namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pods, podKey{namespace, name})
}

func podReady(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// badImage reports whether a container runs an image whose tag starts with "bad-".
func badImage(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if strings.HasPrefix(imageTag(c.Image), "bad-") {
			return true
		}
	}
	return false
}

func imageTag(image string) string {
	image, _, _ = strings.Cut(image, "@")
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return ""
	}
	return image[i+1:]
}

// Counts are a pod's requests so far, by outcome.
type Counts struct{ OK, Errors int64 }

// counts computes a pod's counters at now.
func (s *Simulator) counts(st *podState, now time.Time) Counts {
	ready := st.readyFor
	if !st.readySince.IsZero() {
		ready += now.Sub(st.readySince)
	}
	total := int64(ready.Seconds() * s.Rate)
	ratio := s.GoodErrorRatio
	if st.bad {
		ratio = s.BadErrorRatio
	}
	errs := int64(float64(total) * ratio)
	return Counts{OK: total - errs, Errors: errs}
}

// WriteMetrics writes the counters of the pods that are Ready now in the Prometheus text
// exposition format, sorted, both codes always present so that ratios never divide an
// empty vector.
func (s *Simulator) WriteMetrics(w io.Writer) error {
	now := s.Now()
	s.mu.Lock()
	type line struct {
		key podKey
		st  podState
		c   Counts
	}
	var lines []line
	for k, st := range s.pods {
		if st.readySince.IsZero() {
			continue
		}
		lines = append(lines, line{k, *st, s.counts(st, now)})
	}
	s.mu.Unlock()
	sort.Slice(lines, func(i, j int) bool {
		if lines[i].key.namespace != lines[j].key.namespace {
			return lines[i].key.namespace < lines[j].key.namespace
		}
		return lines[i].key.name < lines[j].key.name
	})
	var b strings.Builder
	b.WriteString("# HELP http_requests_total Requests served by simulated rollout pods, by status code.\n")
	b.WriteString("# TYPE http_requests_total counter\n")
	for _, l := range lines {
		for _, c := range []struct {
			code string
			n    int64
		}{{"200", l.c.OK}, {"500", l.c.Errors}} {
			fmt.Fprintf(&b, "http_requests_total{namespace=%s,pod=%s,rollouts_pod_template_hash=%s,app=%s,code=%q} %d\n",
				quote(l.key.namespace), quote(l.key.name), quote(l.st.hash), quote(l.st.app), c.code, c.n)
		}
	}
	b.WriteString("# HELP trafficsim_pods Ready rollout pods the simulator serves traffic for.\n")
	b.WriteString("# TYPE trafficsim_pods gauge\n")
	fmt.Fprintf(&b, "trafficsim_pods %d\n", len(lines))
	_, err := io.WriteString(w, b.String())
	return err
}

// quote writes a label value as the text format wants it: backslash, double quote and
// newline escaped, nothing else.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
