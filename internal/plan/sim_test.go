package plan

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/snapshot"
	"github.com/tern-rollouts/tern/internal/traffic"
)

// world is a tiny stand-in for the API server, the ReplicaSet controller and the
// kubelet: it applies a Decision's actions and then lets pods come up (or not).
type world struct {
	t        *testing.T
	ro       *v1alpha1.Rollout
	rss      map[string]*appsv1.ReplicaSet
	svcs     map[string]*corev1.Service
	now      time.Time
	events   []Event
	actions  []Action
	notReady map[string]bool // images whose pods never become ready
	runs     []*v1alpha1.AnalysisRun
	ats      map[string]*v1alpha1.AnalysisTemplateSpec // AnalysisTemplates by name
	cats     map[string]*v1alpha1.AnalysisTemplateSpec // ClusterAnalysisTemplates by name
	// catsUnreadable plays a namespaced install, not granted ClusterAnalysisTemplates.
	catsUnreadable bool
	uid            int
	last           Decision
	// pods models single pods (sim_pods_test.go); nil leaves them out.
	pods *podSim
	// workload is what the rollout's workloadRef resolves to.
	workload *snapshot.Workload
	// switched are the SwitchService messages the Service switches applied so far call
	// for, in order; each event of that reason must be the first of them.
	switched []string
}

var epoch = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newWorld(t *testing.T, ro *v1alpha1.Rollout, services ...string) *world {
	t.Helper()
	w := &world{t: t, ro: ro, rss: map[string]*appsv1.ReplicaSet{}, svcs: map[string]*corev1.Service{}, now: epoch, notReady: map[string]bool{}}
	ro.UID = "ro-uid"
	ro.Namespace = "default"
	ro.Generation = 1
	for _, s := range services {
		w.svcs[s] = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: s, Namespace: "default"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": ro.Spec.Template.Labels["app"]}}}
	}
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

func (w *world) snapshot() *snapshot.Snapshot {
	s := &snapshot.Snapshot{Rollout: w.ro.DeepCopy(), Traffic: traffic.Observed{Services: map[string]traffic.Selection{}}, Now: w.now}
	names := make([]string, 0, len(w.rss))
	for n := range w.rss {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s.ReplicaSets = append(s.ReplicaSets, w.rss[n].DeepCopy())
	}
	for n, svc := range w.svcs {
		s.Traffic.Services[n] = traffic.Selection{Service: n, Hash: svc.Spec.Selector[hashKey]}
	}
	for _, ar := range w.runs {
		s.AnalysisRuns = append(s.AnalysisRuns, ar.DeepCopy())
	}
	w.snapshotTemplates(s)
	w.snapshotPodsAndWorkload(s)
	return s
}

// step plans once, applies the decision, and lets the pods settle.
func (w *world) step() Decision {
	w.t.Helper()
	d := Plan(w.snapshot())
	again := Plan(w.snapshot())
	if !reflect.DeepEqual(d, again) {
		w.t.Fatal("Plan is not deterministic: two calls on one snapshot differ")
	}
	for _, a := range d.Actions {
		w.apply(a)
	}
	if len(w.switched) > 0 {
		w.t.Fatalf("services switched without a SwitchService event: %q", w.switched)
	}
	w.ro.Status = d.Status
	w.last = d
	w.kubelet()
	return d
}

// settle steps until a decision has no actions, failing after too many steps.
func (w *world) settle() {
	w.t.Helper()
	for i := 0; i < 30; i++ {
		before, _ := json.Marshal(w.ro.Status)
		d := w.step()
		after, _ := json.Marshal(w.ro.Status)
		if len(d.Actions) == 0 && string(before) == string(after) {
			return
		}
	}
	w.t.Fatalf("rollout did not settle; last decision: %+v", w.last)
}

// advance moves the clock and settles.
func (w *world) advance(d time.Duration) {
	w.now = w.now.Add(d)
	w.settle()
}

func (w *world) apply(a Action) {
	w.actions = append(w.actions, a)
	switch a := a.(type) {
	case CreateReplicaSet:
		if _, ok := w.rss[a.ReplicaSet.Name]; ok {
			return
		}
		rs := a.ReplicaSet.DeepCopy()
		w.uid++
		rs.UID = types.UID("rs-" + strconv.Itoa(w.uid))
		rs.Generation = 1
		rs.CreationTimestamp = metav1.NewTime(w.now)
		w.rss[rs.Name] = rs
	case ScaleReplicaSet:
		rs := w.rss[a.Name]
		rs.Spec.Replicas = &a.Replicas
		rs.Annotations[v1alpha1.DesiredReplicasAnnotation] = strconv.Itoa(int(a.DesiredReplicas))
		rs.Generation++
	case AnnotateReplicaSet:
		rs := w.rss[a.Name]
		for k, v := range a.Annotations {
			if v == nil {
				delete(rs.Annotations, k)
			} else {
				rs.Annotations[k] = *v
			}
		}
	case DeleteReplicaSet:
		delete(w.rss, a.Name)
	case SetReplicaSetMetadata:
		rs := w.rss[a.Name]
		if a.Previous != nil {
			for k := range a.Previous.Labels {
				delete(rs.Spec.Template.Labels, k)
			}
		}
		if a.Desired != nil {
			for k, v := range a.Desired.Labels {
				rs.Spec.Template.Labels[k] = v
			}
			data, _ := json.Marshal(a.Desired)
			rs.Annotations[v1alpha1.EphemeralMetadataAnnotation] = string(data)
		}
		if emptyMetadata(a.Desired) {
			// As the executor does: nothing injected, nothing recorded.
			delete(rs.Annotations, v1alpha1.EphemeralMetadataAnnotation)
		}
	case SetTraffic:
		for _, sel := range a.Desired.Services {
			svc := w.svcs[sel.Service]
			rs := w.byHash(sel.Hash)
			if rs == nil || rs.Status.AvailableReplicas == 0 {
				w.t.Fatalf("invariant: service %s pointed at hash %s with no available pods", sel.Service, sel.Hash)
			}
			// The SwitchService event that follows must tell what the Service selected.
			w.switched = append(w.switched, sprintf("Switched selector for service '%s' from '%s' to '%s'", sel.Service, svc.Spec.Selector[hashKey], sel.Hash))
			svc.Spec.Selector[hashKey] = sel.Hash
		}
	case SetRolloutRevision:
		if w.ro.Annotations == nil {
			w.ro.Annotations = map[string]string{}
		}
		w.ro.Annotations[v1alpha1.RevisionAnnotation] = a.Revision
	case Event:
		if a.Reason == v1alpha1.EventReasonSwitchService {
			if len(w.switched) == 0 || w.switched[0] != a.Message {
				w.t.Fatalf("event %q, but the services switched as %q", a.Message, w.switched)
			}
			w.switched = w.switched[1:]
		}
		w.events = append(w.events, a)
	case AdoptReplicaSet:
		isController := true
		w.rss[a.Name].OwnerReferences = []metav1.OwnerReference{{Kind: "Rollout", Name: w.ro.Name, UID: w.ro.UID, Controller: &isController}}
	case CreateAnalysisRun, TerminateAnalysisRun, DeleteAnalysisRun:
		w.applyAnalysis(a)
	case EvictPod, ScaleDeployment, AnnotateRollout:
		w.applyPodsAndWorkload(a)
	default:
		w.t.Fatalf("unknown action %T", a)
	}
}

// kubelet brings every ReplicaSet's pods to its spec at once; pods of images marked
// not ready run but never become ready.
func (w *world) kubelet() {
	if w.pods != nil {
		w.pods.kubelet(w)
		return
	}
	for _, rs := range w.rss {
		n := specReplicas(rs)
		rs.Status.Replicas = n
		rs.Status.ObservedGeneration = rs.Generation
		if w.notReady[rs.Spec.Template.Spec.Containers[0].Image] {
			rs.Status.ReadyReplicas, rs.Status.AvailableReplicas = 0, 0
		} else {
			rs.Status.ReadyReplicas, rs.Status.AvailableReplicas = n, n
		}
	}
}

func (w *world) byHash(h string) *appsv1.ReplicaSet {
	for _, rs := range w.rss {
		if rs.Labels[hashKey] == h {
			return rs
		}
	}
	return nil
}

func (w *world) setImage(image string) {
	w.ro.Spec.Template.Spec.Containers[0].Image = image
	w.ro.Generation++
}

// promote does what `kubectl tern promote` does to a paused rollout.
func (w *world) promote() {
	w.ro.Status.PauseConditions = nil
}

func (w *world) eventReasons() []string {
	var out []string
	for _, e := range w.events {
		out = append(out, e.Reason)
	}
	return out
}

func (w *world) clearEvents() { w.events = nil }

func (w *world) replicas() map[string]int32 {
	out := map[string]int32{}
	for n, rs := range w.rss {
		out[n] = specReplicas(rs)
	}
	return out
}

func (w *world) selector(svc string) string { return w.svcs[svc].Spec.Selector[hashKey] }

func (w *world) condition(t v1alpha1.RolloutConditionType) *v1alpha1.RolloutCondition {
	return findCondition(w.ro.Status.Conditions, t)
}
