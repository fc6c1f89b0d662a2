package framework

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Invariant names one of the reliability invariants a Monitor checks (design.md,
// "Reliability").
type Invariant string

const (
	// ServiceSelectsReadyPod: a Service a rollout manages (annotation
	// argo-rollouts.argoproj.io/managed-by-rollouts) selects at least one Ready pod once that
	// rollout has been Healthy, unless the rollout is scaled to zero.
	ServiceSelectsReadyPod Invariant = "service-selects-ready-pod"
	// FailedAnalysisNotPromoted: a version whose analysis failed (Failed or Error, and not
	// followed by a Successful run of the same analysis) never becomes status.stableRS.
	FailedAnalysisNotPromoted Invariant = "failed-analysis-not-promoted"
	// WithinSurge: no scale-up takes the ReplicaSets of a rollout above its bound: for a
	// canary replicas + maxSurge (2 x replicas with traffic routing, where the stable keeps
	// its full size); for a blue-green 3 x replicas + previewReplicaCount (active, preview,
	// and a newer version replacing the preview), not counting ReplicaSets waiting out
	// their scale-down delay.
	WithinSurge Invariant = "replicas-within-surge"
	// StepsKept: status.currentStepIndex never decreases unless the update is aborted or
	// retried, or a new revision (pod template) or new steps started.
	StepsKept Invariant = "completed-steps-kept"
)

// Violation is one breach of an invariant, at the revision (etcd resourceVersion) where
// the Monitor saw it.
type Violation struct {
	Invariant       Invariant
	Rollout         string
	ResourceVersion uint64
	Message         string
	// Confirmed is true when the API server's own state at that revision (a list with
	// resourceVersionMatch=Exact) shows the breach too; false when that revision could no
	// longer be read (compacted), so only the Monitor's reconstruction shows it.
	Confirmed bool
}

func (v Violation) String() string {
	s := fmt.Sprintf("%s (rollout %s, resourceVersion %d): %s", v.Invariant, v.Rollout, v.ResourceVersion, v.Message)
	if !v.Confirmed {
		s += " [not confirmed: the revision could no longer be read back]"
	}
	return s
}

// Monitor watches one namespace (Rollouts, ReplicaSets, Pods, Services, EndpointSlices and
// AnalysisRuns) and checks the invariants at every change it observes.
//
// Each watch has its own stream, so the order in which the Monitor receives events of
// different kinds is not the order in which they happened. Resource versions are: they are
// the etcd revision, one counter for the whole cluster. The Monitor therefore keeps the
// history of every object and judges the state of the namespace as it was at the revision of
// each change, once every stream has passed that revision (or after a grace period, for a
// stream with nothing to say). A breach found that way is then read back from the API server
// at exactly that revision, so lag in the Monitor's own streams can never be reported as a
// breach by the controller.
type Monitor struct {
	ns    string
	dyn   dynamic.Interface
	grace time.Duration

	mu         sync.Mutex
	hist       [numKinds]map[string][]version
	seen       [numKinds]uint64 // highest revision each stream has delivered
	synced     [numKinds]bool
	pending    []change
	unsorted   bool
	busy       bool // an evaluation is running outside the lock
	changes    int
	healthyAt  map[string]uint64 // rollout name -> first revision seen Healthy
	active     map[string]bool   // ongoing breaches of ServiceSelectsReadyPod, reported once
	violations []Violation
	streamErrs int

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// MonitorGrace is how long a change waits for streams that have not reached its revision
// before it is judged anyway. It only delays judging: nothing is asserted on it.
const MonitorGrace = 3 * time.Second

// confirmTimeout bounds the retries of reading a revision back while the API server is
// unreachable (e.g. restarted by a fault test).
const confirmTimeout = 3 * time.Minute

type kind int

const (
	kindRollout kind = iota
	kindReplicaSet
	kindPod
	kindService
	kindEndpointSlice
	kindAnalysisRun
	numKinds
)

var kinds = [numKinds]struct {
	name string
	gvr  schema.GroupVersionResource
	new  func() object
}{
	kindRollout:       {"Rollout", v1alpha1.GroupVersion.WithResource("rollouts"), func() object { return &v1alpha1.Rollout{} }},
	kindReplicaSet:    {"ReplicaSet", appsv1.SchemeGroupVersion.WithResource("replicasets"), func() object { return &appsv1.ReplicaSet{} }},
	kindPod:           {"Pod", corev1.SchemeGroupVersion.WithResource("pods"), func() object { return &corev1.Pod{} }},
	kindService:       {"Service", corev1.SchemeGroupVersion.WithResource("services"), func() object { return &corev1.Service{} }},
	kindEndpointSlice: {"EndpointSlice", discoveryv1.SchemeGroupVersion.WithResource("endpointslices"), func() object { return &discoveryv1.EndpointSlice{} }},
	kindAnalysisRun:   {"AnalysisRun", v1alpha1.GroupVersion.WithResource("analysisruns"), func() object { return &v1alpha1.AnalysisRun{} }},
}

type object interface {
	metav1.Object
	runtime.Object
}

// version is one state of an object; obj is nil from its deletion on.
type version struct {
	rv  uint64
	obj object
}

// change is one observed change, judged at revision at.
type change struct {
	kind     kind
	at       uint64
	arrived  time.Time
	prev     object
	cur      object
	fromList bool // seen by a relist: changes in between may have been missed
}

// maxVersions bounds each object's history; judging only ever looks a grace period back.
const maxVersions = 64

// StartMonitor starts a Monitor on namespace ns of the test cluster and stops it when the
// test ends (before the namespace is deleted, as cleanups run last-in first-out).
func StartMonitor(t testing.TB, ns string) *Monitor {
	t.Helper()
	m, err := NewMonitor(Config(t), ns)
	if err != nil {
		t.Fatalf("monitor: %v", err)
	}
	t.Cleanup(m.Stop)
	return m
}

// NewMonitor starts a Monitor on namespace ns and returns once it has listed every kind,
// so that everything that happens afterwards is observed.
func NewMonitor(cfg *rest.Config, ns string) (*Monitor, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 100, 200
	cfg.UserAgent = "tern-e2e-monitor"
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	m := &Monitor{ns: ns, dyn: dyn, grace: MonitorGrace, healthyAt: map[string]uint64{}, active: map[string]bool{}}
	for k := range m.hist {
		m.hist[k] = map[string][]version{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	for k := kind(0); k < numKinds; k++ {
		m.wg.Add(1)
		go m.stream(ctx, k)
	}
	m.wg.Add(1)
	go m.judge(ctx)
	end := time.Now().Add(2 * time.Minute)
	for !m.allSynced() {
		if time.Now().After(end) {
			m.Stop()
			return nil, fmt.Errorf("monitor of namespace %s: could not list every kind within 2 minutes", ns)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return m, nil
}

func (m *Monitor) allSynced() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.synced {
		if !s {
			return false
		}
	}
	return true
}

// Changes is how many changes the Monitor has observed so far.
func (m *Monitor) Changes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changes
}

// Violations judges every change received until now and returns the breaches found since
// the Monitor started.
func (m *Monitor) Violations() []Violation {
	m.flush()
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.violations)
}

// AssertNone fails the test with every violation found.
func (m *Monitor) AssertNone(t testing.TB) {
	t.Helper()
	for _, v := range m.Violations() {
		t.Errorf("invariant violated: %s", v)
	}
}

// Stop judges what is pending and stops the watches. Violations stays readable.
func (m *Monitor) Stop() {
	m.once.Do(func() {
		m.flush()
		m.cancel()
		m.wg.Wait()
	})
}

// flush waits until every change received before the call has been judged.
func (m *Monitor) flush() {
	start := time.Now()
	for {
		m.mu.Lock()
		left := m.busy
		for _, c := range m.pending {
			if !c.arrived.After(start) {
				left = true
				break
			}
		}
		m.mu.Unlock()
		if !left || time.Since(start) > m.grace+confirmTimeout+time.Minute {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stream lists and watches one kind, re-watching from the last revision when a watch ends
// and listing again when that revision is gone (API server restarted, history compacted).
func (m *Monitor) stream(ctx context.Context, k kind) {
	defer m.wg.Done()
	ri := m.dyn.Resource(kinds[k].gvr).Namespace(m.ns)
	backoff := func() {
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	for ctx.Err() == nil {
		list, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil {
			m.noteStreamError()
			backoff()
			continue
		}
		rv := list.GetResourceVersion()
		m.replace(k, list.Items, parseRV(rv))
		for ctx.Err() == nil {
			w, err := ri.Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				m.noteStreamError()
				if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
					break
				}
				backoff()
				continue
			}
			var gone bool
			rv, gone = m.consume(k, w, rv)
			w.Stop()
			if gone {
				break
			}
		}
	}
}

// consume applies a watch's events until it ends; gone reports that the revision to resume
// from is no longer available.
func (m *Monitor) consume(k kind, w watch.Interface, rv string) (last string, gone bool) {
	last = rv
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Error:
			m.noteStreamError()
			status := apierrors.FromObject(ev.Object)
			return last, apierrors.IsGone(status) || apierrors.IsResourceExpired(status)
		case watch.Bookmark:
			if u, ok := ev.Object.(*unstructured.Unstructured); ok {
				last = u.GetResourceVersion()
				m.progress(k, parseRV(last))
			}
		case watch.Added, watch.Modified, watch.Deleted:
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			last = u.GetResourceVersion()
			obj, err := typed(k, u)
			if err != nil {
				continue // an object the typed API cannot hold has nothing to check
			}
			m.mu.Lock()
			if ev.Type == watch.Deleted {
				m.deleteLocked(k, obj.GetName(), parseRV(last), false)
			} else {
				m.putLocked(k, obj, 0)
			}
			m.mu.Unlock()
		}
	}
	return last, false
}

func (m *Monitor) noteStreamError() {
	m.mu.Lock()
	m.streamErrs++
	m.mu.Unlock()
}

func (m *Monitor) progress(k kind, rv uint64) {
	m.mu.Lock()
	m.seen[k] = max(m.seen[k], rv)
	m.mu.Unlock()
}

// replace takes a fresh list: changed objects get a version, vanished ones a deletion, both
// judged at the list's revision since when they happened is not known.
func (m *Monitor) replace(k kind, items []unstructured.Unstructured, listRV uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	present := map[string]bool{}
	for i := range items {
		obj, err := typed(k, &items[i])
		if err != nil {
			continue
		}
		present[obj.GetName()] = true
		m.putLocked(k, obj, listRV)
	}
	for name, h := range m.hist[k] {
		if !present[name] && h[len(h)-1].obj != nil {
			m.deleteLocked(k, name, listRV, true)
		}
	}
	m.seen[k] = max(m.seen[k], listRV)
	m.synced[k] = true
}

// putLocked records a new state of an object; listRV is the revision of the list it came
// from, 0 for a watch event.
func (m *Monitor) putLocked(k kind, obj object, listRV uint64) {
	rv := parseRV(obj.GetResourceVersion())
	name := obj.GetName()
	h := m.hist[k][name]
	var prev object
	if n := len(h); n > 0 {
		if h[n-1].rv >= rv {
			return // a relist of a state already known
		}
		prev = h[n-1].obj
	}
	m.hist[k][name] = appendVersion(h, version{rv, obj})
	m.seen[k] = max(m.seen[k], rv)
	at := rv
	if listRV > 0 {
		at = max(rv, listRV)
	}
	m.changes++
	m.pending = append(m.pending, change{kind: k, at: at, arrived: time.Now(), prev: prev, cur: obj, fromList: listRV > 0})
	m.unsorted = true
	if k == kindRollout {
		m.rolloutChangedLocked(prev, obj.(*v1alpha1.Rollout), rv, listRV > 0)
	}
}

func (m *Monitor) deleteLocked(k kind, name string, rv uint64, fromList bool) {
	h := m.hist[k][name]
	if len(h) == 0 || h[len(h)-1].obj == nil {
		return
	}
	prev := h[len(h)-1].obj
	m.hist[k][name] = appendVersion(h, version{rv: max(rv, h[len(h)-1].rv+1)})
	m.seen[k] = max(m.seen[k], rv)
	m.changes++
	m.pending = append(m.pending, change{kind: k, at: rv, arrived: time.Now(), prev: prev, fromList: fromList})
	m.unsorted = true
}

func appendVersion(h []version, v version) []version {
	h = append(h, v)
	if len(h) > maxVersions {
		h = slices.Clone(h[len(h)-maxVersions/2:])
	}
	return h
}

// rolloutChangedLocked follows a rollout's own history, which its watch delivers in order:
// when it first became Healthy, and whether a completed step was lost.
func (m *Monitor) rolloutChangedLocked(prev object, cur *v1alpha1.Rollout, rv uint64, fromList bool) {
	if _, ok := m.healthyAt[cur.Name]; !ok && cur.Status.Phase == v1alpha1.RolloutPhaseHealthy {
		m.healthyAt[cur.Name] = rv
	}
	old, ok := prev.(*v1alpha1.Rollout)
	if !ok || old == nil || fromList {
		// After a relist the versions in between are unknown: an abort and a retry may
		// have happened there, so a lower index proves nothing.
		return
	}
	if msg := stepLost(old, cur); msg != "" {
		// Both states were read from the API server in this order: no need to confirm.
		m.violations = append(m.violations, Violation{Invariant: StepsKept, Rollout: cur.Name, ResourceVersion: rv, Message: msg, Confirmed: true})
	}
}

// stepLost explains how cur lost a step that old had completed, or returns "".
func stepLost(old, cur *v1alpha1.Rollout) string {
	o, c := old.Status.CurrentStepIndex, cur.Status.CurrentStepIndex
	switch {
	case o == nil || c == nil || *c >= *o:
		return ""
	case old.Status.CurrentPodHash != cur.Status.CurrentPodHash:
		return "" // a new revision starts from the first step
	case old.Status.CurrentStepHash != cur.Status.CurrentStepHash:
		return "" // new steps start from the first one
	case old.Status.Abort || cur.Status.Abort || old.Status.AbortedAt != nil:
		return "" // an abort, or the retry that follows it, starts over
	}
	return fmt.Sprintf("status.currentStepIndex went from %d to %d on revision %s (steps %s) without an abort or a retry",
		*o, *c, cur.Status.CurrentPodHash, cur.Status.CurrentStepHash)
}

// judge evaluates the pending changes in revision order.
func (m *Monitor) judge(ctx context.Context) {
	defer m.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for ctx.Err() == nil {
			c, v, ok := m.next()
			if !ok {
				break
			}
			m.evaluate(ctx, c, v)
			m.mu.Lock()
			m.busy = false
			m.mu.Unlock()
		}
	}
}

// next pops the earliest change that can be judged, with the namespace as it was then.
func (m *Monitor) next() (change, *historyView, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) == 0 {
		return change{}, nil, false
	}
	if m.unsorted {
		sort.SliceStable(m.pending, func(i, j int) bool { return m.pending[i].at < m.pending[j].at })
		m.unsorted = false
	}
	c := m.pending[0]
	caughtUp := true
	for _, s := range m.seen {
		if s < c.at {
			caughtUp = false
		}
	}
	if !caughtUp && time.Since(c.arrived) < m.grace {
		return change{}, nil, false
	}
	m.pending = m.pending[1:]
	m.busy = true
	return c, m.viewLocked(c.at), true
}

// view is the namespace at one revision.
type view interface {
	list(k kind) []object
}

type historyView struct {
	objs      [numKinds][]object
	healthyAt map[string]uint64
	rv        uint64
}

func (v *historyView) list(k kind) []object { return v.objs[k] }

func (m *Monitor) viewLocked(rv uint64) *historyView {
	v := &historyView{rv: rv, healthyAt: map[string]uint64{}}
	for k := range m.hist {
		for _, h := range m.hist[k] {
			i := sort.Search(len(h), func(i int) bool { return h[i].rv > rv })
			if i > 0 && h[i-1].obj != nil {
				v.objs[k] = append(v.objs[k], h[i-1].obj)
			}
		}
		sort.Slice(v.objs[k], func(i, j int) bool { return v.objs[k][i].GetName() < v.objs[k][j].GetName() })
	}
	for name, at := range m.healthyAt {
		v.healthyAt[name] = at
	}
	return v
}

// finding is a breach seen in one view.
type finding struct {
	inv     Invariant
	subject string // what breaches, for reporting an ongoing breach once
	rollout string
	msg     string
}

func (m *Monitor) evaluate(ctx context.Context, c change, v *historyView) {
	healthy := func(ro string) bool {
		at, ok := v.healthyAt[ro]
		return ok && at <= v.rv
	}
	if c.kind == kindService || c.kind == kindPod || c.kind == kindRollout {
		found := checkServices(v, healthy)
		seen := map[string]bool{}
		for _, f := range found {
			seen[f.subject] = true
			if m.isActive(f.subject) {
				continue
			}
			confirmed, ok := m.confirm(ctx, v.rv, []kind{kindService, kindPod}, func(x view) bool {
				return slices.ContainsFunc(checkServices(x, healthy), func(g finding) bool { return g.subject == f.subject })
			})
			if ok {
				m.record(f, v.rv, confirmed)
				m.setActive(f.subject, true)
			}
		}
		m.clearActiveExcept(seen)
	}
	if c.kind == kindReplicaSet && scaledUp(c.prev, c.cur) {
		rs := c.cur.(*appsv1.ReplicaSet)
		for _, f := range checkSurge(v, rs.Name) {
			confirmed, ok := m.confirm(ctx, v.rv, []kind{kindReplicaSet, kindRollout}, func(x view) bool {
				return len(checkSurge(x, rs.Name)) > 0
			})
			if ok {
				m.record(f, v.rv, confirmed)
			}
		}
	}
	if c.kind == kindRollout && c.prev != nil && c.cur != nil {
		old, cur := c.prev.(*v1alpha1.Rollout), c.cur.(*v1alpha1.Rollout)
		if h := cur.Status.StableRS; h != "" && h != old.Status.StableRS {
			for _, f := range checkPromotion(v, cur.Name, h) {
				confirmed, ok := m.confirm(ctx, v.rv, []kind{kindAnalysisRun}, func(x view) bool {
					return len(checkPromotion(x, cur.Name, h)) > 0
				})
				if ok {
					m.record(f, v.rv, confirmed)
				}
			}
		}
	}
}

func (m *Monitor) isActive(subject string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active[subject]
}

func (m *Monitor) setActive(subject string, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.active[subject] = on
}

func (m *Monitor) clearActiveExcept(keep map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for s := range m.active {
		if !keep[s] {
			delete(m.active, s)
		}
	}
}

func (m *Monitor) record(f finding, rv uint64, confirmed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.violations = append(m.violations, Violation{Invariant: f.inv, Rollout: f.rollout, ResourceVersion: rv, Message: f.msg, Confirmed: confirmed})
}

// confirm reads the kinds back at exactly revision rv and reports whether breached holds
// there too. ok is false when it does not (the Monitor's own streams lagged); a revision
// that can no longer be read gives confirmed=false, ok=true: the breach stands, marked.
func (m *Monitor) confirm(ctx context.Context, rv uint64, ks []kind, breached func(view) bool) (confirmed, ok bool) {
	end := time.Now().Add(confirmTimeout)
	for {
		snap, err := m.snapshot(ctx, rv, ks)
		if err == nil {
			if breached(snap) {
				return true, true
			}
			return false, false
		}
		if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) || ctx.Err() != nil || time.Now().After(end) {
			return false, true
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

type snapshotView struct{ objs [numKinds][]object }

func (s *snapshotView) list(k kind) []object { return s.objs[k] }

func (m *Monitor) snapshot(ctx context.Context, rv uint64, ks []kind) (*snapshotView, error) {
	s := &snapshotView{}
	for _, k := range ks {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		list, err := m.dyn.Resource(kinds[k].gvr).Namespace(m.ns).List(c, metav1.ListOptions{
			ResourceVersion: strconv.FormatUint(rv, 10), ResourceVersionMatch: metav1.ResourceVersionMatchExact,
		})
		cancel()
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			if obj, err := typed(k, &list.Items[i]); err == nil {
				s.objs[k] = append(s.objs[k], obj)
			}
		}
	}
	return s, nil
}

// checkServices finds the managed Services of rollouts once Healthy that select no Ready
// pod. Pods being deleted do not count: endpoints drop them at once.
func checkServices(v view, healthy func(rollout string) bool) []finding {
	var out []finding
	pods := v.list(kindPod)
	for _, o := range v.list(kindService) {
		svc := o.(*corev1.Service)
		ro := svc.Annotations[v1alpha1.ManagedByRolloutsKey]
		if ro == "" || len(svc.Spec.Selector) == 0 || !healthy(ro) {
			continue
		}
		if r := findRollout(v, ro); r != nil && r.GetReplicas() == 0 {
			continue // scaled to zero by its user: no pod is what was asked for
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		var matching []string
		ready := 0
		for _, p := range pods {
			pod := p.(*corev1.Pod)
			if !sel.Matches(labels.Set(pod.Labels)) {
				continue
			}
			state := "not ready"
			switch {
			case pod.DeletionTimestamp != nil:
				state = "deleting"
			case isPodReady(pod):
				state = "ready"
				ready++
			}
			matching = append(matching, pod.Name+" "+state)
		}
		if ready == 0 {
			out = append(out, finding{
				inv: ServiceSelectsReadyPod, subject: "service/" + svc.Name, rollout: ro,
				msg: fmt.Sprintf("Service %s selects %s: no Ready pod among %d [%s]%s; %s", svc.Name, sel, len(matching),
					strings.Join(matching, ", "), endpointsNote(v, svc.Name), rolloutNote(v, ro)),
			})
		}
	}
	return out
}

// endpointsNote says what the Service's EndpointSlices showed, for the report.
func endpointsNote(v view, svc string) string {
	ready, total := 0, 0
	for _, o := range v.list(kindEndpointSlice) {
		es := o.(*discoveryv1.EndpointSlice)
		if es.Labels[discoveryv1.LabelServiceName] != svc {
			continue
		}
		for _, e := range es.Endpoints {
			total++
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				ready++
			}
		}
	}
	return fmt.Sprintf(" (its EndpointSlices list %d endpoints, %d ready)", total, ready)
}

// rolloutNote describes a rollout and its ReplicaSets as they were, for the report.
func rolloutNote(v view, name string) string {
	ro := findRollout(v, name)
	if ro == nil {
		return "rollout " + name + " absent"
	}
	st := ro.Status
	step := "-"
	if st.CurrentStepIndex != nil {
		step = strconv.Itoa(int(*st.CurrentStepIndex))
	}
	var rss []string
	for _, o := range v.list(kindReplicaSet) {
		rs := o.(*appsv1.ReplicaSet)
		if rolloutOwner(rs) == name {
			rss = append(rss, fmt.Sprintf("%s=%d/%d", rs.Labels[v1alpha1.DefaultRolloutUniqueLabelKey], replicasOf(rs), rs.Status.AvailableReplicas))
		}
	}
	return fmt.Sprintf("rollout %s: phase=%s stable=%s current=%s step=%s abort=%v, replicasets (spec/available) %s",
		name, st.Phase, st.StableRS, st.CurrentPodHash, step, st.Abort, strings.Join(rss, " "))
}

func isPodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func scaledUp(prev, cur object) bool {
	rs, ok := cur.(*appsv1.ReplicaSet)
	if !ok || rs == nil {
		return false
	}
	if old, ok := prev.(*appsv1.ReplicaSet); ok && old != nil {
		return replicasOf(rs) > replicasOf(old)
	}
	return replicasOf(rs) > 0
}

func replicasOf(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

func rolloutOwner(o metav1.Object) string {
	for _, ref := range o.GetOwnerReferences() {
		if ref.Kind == "Rollout" && ref.Controller != nil && *ref.Controller {
			return ref.Name
		}
	}
	return ""
}

func findRollout(v view, name string) *v1alpha1.Rollout {
	for _, o := range v.list(kindRollout) {
		if o.GetName() == name {
			return o.(*v1alpha1.Rollout)
		}
	}
	return nil
}

// checkSurge checks the bound of the rollout owning ReplicaSet rsName after it scaled up.
func checkSurge(v view, rsName string) []finding {
	var scaled *appsv1.ReplicaSet
	for _, o := range v.list(kindReplicaSet) {
		if o.GetName() == rsName {
			scaled = o.(*appsv1.ReplicaSet)
		}
	}
	if scaled == nil {
		return nil
	}
	owner := rolloutOwner(scaled)
	ro := findRollout(v, owner)
	if ro == nil {
		return nil
	}
	replicas := ro.GetReplicas()
	// The controller records on each ReplicaSet it scales the spec.replicas it decided with;
	// reading the rollout from its cache, that may be the value one edit before the one the
	// API server holds now, so the bound follows the larger of the two.
	if d, err := strconv.ParseInt(scaled.Annotations[v1alpha1.DesiredReplicasAnnotation], 10, 32); err == nil && int32(d) > replicas {
		replicas = int32(d)
	}
	var total, bound int32
	var parts []string
	switch s := ro.Spec.Strategy; {
	case s.Canary != nil:
		if s.Canary.TrafficRouting != nil {
			bound = 2 * replicas
		} else {
			surge := v1alpha1.DefaultMaxSurge
			if s.Canary.MaxSurge != nil {
				surge = *s.Canary.MaxSurge
			}
			n, err := intstr.GetScaledValueFromIntOrPercent(&surge, int(replicas), true)
			if err != nil {
				return nil // InvalidSpec: the controller scales nothing
			}
			bound = replicas + int32(n)
		}
	case s.BlueGreen != nil:
		// Active and preview run side by side; an update made while another is in
		// preview adds a third version until it has a pod for the preview Service to
		// move to, since that Service must never be left without one.
		bound = 3 * replicas
		if s.BlueGreen.PreviewReplicaCount != nil {
			bound += *s.BlueGreen.PreviewReplicaCount
		}
	default:
		return nil
	}
	for _, o := range v.list(kindReplicaSet) {
		rs := o.(*appsv1.ReplicaSet)
		if rolloutOwner(rs) != owner {
			continue
		}
		if ro.Spec.Strategy.BlueGreen != nil && rs.Annotations[v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey] != "" {
			continue // kept up on purpose for a quick rollback, capped by scaleDownDelayRevisionLimit
		}
		total += replicasOf(rs)
		parts = append(parts, fmt.Sprintf("%s=%d", rs.Name, replicasOf(rs)))
	}
	if total <= bound {
		return nil
	}
	return []finding{{
		inv: WithinSurge, subject: "replicaset/" + rsName, rollout: owner,
		msg: fmt.Sprintf("scaling %s to %d brought the ReplicaSets to %d replicas (%s), above the bound %d for spec.replicas %d",
			rsName, replicasOf(scaled), total, strings.Join(parts, " "), bound, replicas),
	}}
}

// checkPromotion finds the failed analyses of version hash of a rollout that just made it
// stable. A failed run followed by a Successful one of the same analysis (a retry) is fine.
func checkPromotion(v view, rollout, hash string) []finding {
	type key struct{ kind, step string }
	runs := map[key][]*v1alpha1.AnalysisRun{}
	for _, o := range v.list(kindAnalysisRun) {
		run := o.(*v1alpha1.AnalysisRun)
		if rolloutOwner(run) != rollout || run.Labels[v1alpha1.DefaultRolloutUniqueLabelKey] != hash {
			continue
		}
		k := key{run.Labels[v1alpha1.RolloutTypeLabel], run.Labels[v1alpha1.RolloutCanaryStepIndexLabel]}
		runs[k] = append(runs[k], run)
	}
	var out []finding
	for _, group := range runs {
		for _, bad := range group {
			if p := bad.Status.Phase; p != v1alpha1.AnalysisPhaseFailed && p != v1alpha1.AnalysisPhaseError {
				continue
			}
			retried := slices.ContainsFunc(group, func(r *v1alpha1.AnalysisRun) bool {
				return r.Status.Phase == v1alpha1.AnalysisPhaseSuccessful && !r.CreationTimestamp.Before(&bad.CreationTimestamp)
			})
			if !retried {
				out = append(out, finding{
					inv: FailedAnalysisNotPromoted, subject: "analysisrun/" + bad.Name, rollout: rollout,
					msg: fmt.Sprintf("version %s became status.stableRS although AnalysisRun %s ended %s: %s", hash, bad.Name, bad.Status.Phase, bad.Status.Message),
				})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].subject < out[j].subject })
	return out
}

func typed(k kind, u *unstructured.Unstructured) (object, error) {
	obj := kinds[k].new()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// parseRV reads a resourceVersion as the etcd revision it is on this control plane. The API
// calls them opaque; the Monitor only runs against etcd-backed test clusters, where they are
// one counter for every kind. 0 means unknown.
func parseRV(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}
