// Package simulate plays a Rollout forward without a cluster. A Sim is a tiny stand-in
// for the API server, the ReplicaSet controller and the kubelet: it holds the Rollout
// and the objects around it in memory, plans with plan.Plan, applies each Decision's
// actions to those objects, lets pods come up (or, for images marked so, never), and
// moves a fake clock. It answers "given this Rollout and these objects, what will the
// controller do next, step by step, and when": the planner's tests drive it, and a
// what-if `kubectl tern plan` can print its Timeline.
//
// A Sim never fails a test by itself: whatever a real cluster would refuse, or an
// invariant the planner must keep (a Service pointed at a version with no available
// pods, a Service switch without its event, a Plan that differs on the same snapshot),
// comes back as an error from the call that stepped.
package simulate

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/plan"
	"github.com/tern-rollouts/tern/internal/snapshot"
	"github.com/tern-rollouts/tern/internal/traffic"
)

const hashKey = v1alpha1.DefaultRolloutUniqueLabelKey

// Epoch is where a Sim's clock starts: a fixed time, so that runs repeat exactly.
var Epoch = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// settleSteps is how many steps Settle takes at most before it gives up: far more than
// any rollout needs to reach a standstill at one time, so that a planner that never
// stands still fails rather than loops.
const settleSteps = 30

// Sim is one simulated Rollout and the objects around it. It is not safe for
// concurrent use.
type Sim struct {
	ro       *v1alpha1.Rollout
	rss      map[string]*appsv1.ReplicaSet
	svcs     map[string]*corev1.Service
	now      time.Time
	events   []plan.Event
	actions  []plan.Action
	notReady map[string]bool // images whose pods never become ready
	runs     []*v1alpha1.AnalysisRun
	ats      map[string]*v1alpha1.AnalysisTemplateSpec // AnalysisTemplates by name
	cats     map[string]*v1alpha1.AnalysisTemplateSpec // ClusterAnalysisTemplates by name
	// catsUnreadable plays a namespaced install, not granted ClusterAnalysisTemplates.
	catsUnreadable bool
	uid            int
	last           plan.Decision
	// settled is whether the last step had no actions and left the status as it was.
	settled bool
	// pods models single pods (pods.go); nil leaves them out.
	pods *podSim
	// workload is what the rollout's workloadRef resolves to.
	workload *snapshot.Workload
	// switched are the SwitchService messages the Service switches applied so far call
	// for, in order; each event of that reason must be the first of them.
	switched []string
	timeline []Entry
}

// Entry is one step of the timeline: when the controller planned, what it wrote, what
// it told, and where that left the rollout.
type Entry struct {
	At time.Time
	// Actions are the decision's writes, in order, without its events.
	Actions []plan.Action
	Events  []plan.Event
	Phase   v1alpha1.RolloutPhase
	Message string
	// StepIndex is the canary step the status records; nil when there is none.
	StepIndex *int32
	// RequeueAfter is when the controller would look again with nothing changed.
	RequeueAfter time.Duration
}

// New starts a simulation of ro at Epoch, with no other object. The Sim keeps ro and
// changes it as the controller would (status, revision annotations); a caller may edit
// it between steps as a user would edit the object. What the API server sets on create
// is filled in when missing: a uid, generation 1, and the default namespace.
func New(ro *v1alpha1.Rollout) *Sim {
	if ro.UID == "" {
		ro.UID = "ro-uid"
	}
	if ro.Namespace == "" {
		ro.Namespace = metav1.NamespaceDefault
	}
	if ro.Generation == 0 {
		ro.Generation = 1
	}
	return &Sim{
		ro: ro, rss: map[string]*appsv1.ReplicaSet{}, svcs: map[string]*corev1.Service{}, now: Epoch, notReady: map[string]bool{},
		ats: map[string]*v1alpha1.AnalysisTemplateSpec{}, cats: map[string]*v1alpha1.AnalysisTemplateSpec{},
	}
}

// Snapshot is what the controller would observe now.
func (s *Sim) Snapshot() *snapshot.Snapshot {
	snap := &snapshot.Snapshot{Rollout: s.ro.DeepCopy(), Traffic: traffic.Observed{Services: map[string]traffic.Selection{}}, Now: s.now}
	for _, rs := range s.ReplicaSets() {
		snap.ReplicaSets = append(snap.ReplicaSets, rs.DeepCopy())
	}
	for n, svc := range s.svcs {
		snap.Traffic.Services[n] = traffic.Selection{Service: n, Hash: svc.Spec.Selector[hashKey]}
	}
	for _, ar := range s.runs {
		snap.AnalysisRuns = append(snap.AnalysisRuns, ar.DeepCopy())
	}
	s.snapshotTemplates(snap)
	s.snapshotPodsAndWorkload(snap)
	return snap
}

// Step plans once, applies the decision, records the status it computed, and lets the
// pods settle. It fails if planning the same snapshot twice gives two decisions, or if
// applying the decision breaks an invariant or asks for what the cluster would refuse.
func (s *Sim) Step() (plan.Decision, error) {
	before, _ := json.Marshal(s.ro.Status)
	d := plan.Plan(s.Snapshot())
	if again := plan.Plan(s.Snapshot()); !reflect.DeepEqual(d, again) {
		return d, fmt.Errorf("Plan is not deterministic: two calls on one snapshot differ")
	}
	for _, a := range d.Actions {
		if err := s.apply(a); err != nil {
			return d, err
		}
	}
	if len(s.switched) > 0 {
		return d, fmt.Errorf("services switched without a SwitchService event: %q", s.switched)
	}
	s.ro.Status = d.Status
	s.last = d
	after, _ := json.Marshal(s.ro.Status)
	s.settled = len(d.Actions) == 0 && string(before) == string(after)
	s.kubelet()
	s.record(d)
	return d, nil
}

// Settled reports whether the last step had nothing to do: no actions, and the status
// it computed was the one it read.
func (s *Sim) Settled() bool { return s.settled }

// Run steps until done, asked after every step, says so; it fails after maxSteps steps
// without that, or when a step fails.
func (s *Sim) Run(maxSteps int, done func() bool) error {
	for i := 0; i < maxSteps; i++ {
		if _, err := s.Step(); err != nil {
			return err
		}
		if done() {
			return nil
		}
	}
	return fmt.Errorf("rollout did not settle in %d steps; last decision: %+v", maxSteps, s.last)
}

// Settle steps until the controller has nothing left to do at this time, failing after
// 30 steps.
func (s *Sim) Settle() error { return s.Run(settleSteps, s.Settled) }

// Advance moves the clock by d and settles.
func (s *Sim) Advance(d time.Duration) error {
	s.now = s.now.Add(d)
	return s.Settle()
}

// Now is the simulated time.
func (s *Sim) Now() time.Time { return s.now }

// SetNow sets the clock without stepping.
func (s *Sim) SetNow(t time.Time) { s.now = t }

func (s *Sim) record(d plan.Decision) {
	e := Entry{At: s.now, Phase: d.Status.Phase, Message: d.Status.Message, RequeueAfter: d.RequeueAfter}
	if i := d.Status.CurrentStepIndex; i != nil {
		e.StepIndex = new(int32)
		*e.StepIndex = *i
	}
	for _, a := range d.Actions {
		if ev, ok := a.(plan.Event); ok {
			e.Events = append(e.Events, ev)
		} else {
			e.Actions = append(e.Actions, a)
		}
	}
	s.timeline = append(s.timeline, e)
}

func (s *Sim) apply(a plan.Action) error {
	s.actions = append(s.actions, a)
	switch a := a.(type) {
	case plan.CreateReplicaSet:
		if _, ok := s.rss[a.ReplicaSet.Name]; ok {
			return nil
		}
		rs := a.ReplicaSet.DeepCopy()
		s.uid++
		rs.UID = types.UID("rs-" + strconv.Itoa(s.uid))
		rs.Generation = 1
		rs.CreationTimestamp = metav1.NewTime(s.now)
		s.rss[rs.Name] = rs
	case plan.ScaleReplicaSet:
		rs := s.rss[a.Name]
		rs.Spec.Replicas = &a.Replicas
		rs.Annotations[v1alpha1.DesiredReplicasAnnotation] = strconv.Itoa(int(a.DesiredReplicas))
		rs.Generation++
	case plan.AnnotateReplicaSet:
		rs := s.rss[a.Name]
		for k, v := range a.Annotations {
			if v == nil {
				delete(rs.Annotations, k)
			} else {
				rs.Annotations[k] = *v
			}
		}
	case plan.DeleteReplicaSet:
		delete(s.rss, a.Name)
	case plan.SetReplicaSetMetadata:
		rs := s.rss[a.Name]
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
		if a.Desired == nil || len(a.Desired.Labels) == 0 && len(a.Desired.Annotations) == 0 {
			// As the executor does: nothing injected, nothing recorded.
			delete(rs.Annotations, v1alpha1.EphemeralMetadataAnnotation)
		}
	case plan.SetTraffic:
		for _, sel := range a.Desired.Services {
			svc := s.svcs[sel.Service]
			rs := s.byHash(sel.Hash)
			if rs == nil || rs.Status.AvailableReplicas == 0 {
				return fmt.Errorf("invariant: service %s pointed at hash %s with no available pods", sel.Service, sel.Hash)
			}
			// The SwitchService event that follows must tell what the Service selected.
			s.switched = append(s.switched, fmt.Sprintf("Switched selector for service '%s' from '%s' to '%s'", sel.Service, svc.Spec.Selector[hashKey], sel.Hash))
			svc.Spec.Selector[hashKey] = sel.Hash
		}
	case plan.SetRolloutRevision:
		if s.ro.Annotations == nil {
			s.ro.Annotations = map[string]string{}
		}
		s.ro.Annotations[v1alpha1.RevisionAnnotation] = a.Revision
	case plan.Event:
		if a.Reason == v1alpha1.EventReasonSwitchService {
			if len(s.switched) == 0 || s.switched[0] != a.Message {
				return fmt.Errorf("event %q, but the services switched as %q", a.Message, s.switched)
			}
			s.switched = s.switched[1:]
		}
		s.events = append(s.events, a)
	case plan.AdoptReplicaSet:
		isController := true
		s.rss[a.Name].OwnerReferences = []metav1.OwnerReference{{Kind: "Rollout", Name: s.ro.Name, UID: s.ro.UID, Controller: &isController}}
	case plan.CreateAnalysisRun, plan.TerminateAnalysisRun, plan.DeleteAnalysisRun:
		return s.applyAnalysis(a)
	case plan.EvictPod, plan.ScaleDeployment, plan.AnnotateRollout:
		return s.applyPodsAndWorkload(a)
	default:
		return fmt.Errorf("unknown action %T", a)
	}
	return nil
}

// kubelet brings every ReplicaSet's pods to its spec at once; pods of images marked
// never ready run but never become ready.
func (s *Sim) kubelet() {
	if s.pods != nil {
		s.pods.kubelet(s)
		return
	}
	for _, rs := range s.rss {
		n := specReplicas(rs)
		rs.Status.Replicas = n
		rs.Status.ObservedGeneration = rs.Generation
		if s.notReady[rs.Spec.Template.Spec.Containers[0].Image] {
			rs.Status.ReadyReplicas, rs.Status.AvailableReplicas = 0, 0
		} else {
			rs.Status.ReadyReplicas, rs.Status.AvailableReplicas = n, n
		}
	}
}

func (s *Sim) byHash(h string) *appsv1.ReplicaSet {
	for _, rs := range s.rss {
		if rs.Labels[hashKey] == h {
			return rs
		}
	}
	return nil
}

func specReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// NeverReady makes the pods of an image run but never become ready, as a crashing or
// failing-probe version would.
func (s *Sim) NeverReady(image string) { s.notReady[image] = true }

// SetImage changes the image of the Rollout's first container, as `kubectl argo
// rollouts set image` would.
func (s *Sim) SetImage(image string) {
	s.ro.Spec.Template.Spec.Containers[0].Image = image
	s.ro.Generation++
}

// Promote does what `kubectl tern promote` does to a paused rollout.
func (s *Sim) Promote() {
	s.ro.Status.PauseConditions = nil
}

// Rollout is the simulated Rollout itself, not a copy: edit it to play a user's change.
func (s *Sim) Rollout() *v1alpha1.Rollout { return s.ro }

// Last is the decision of the last step.
func (s *Sim) Last() plan.Decision { return s.last }

// Actions are every action applied so far, in order, events included.
func (s *Sim) Actions() []plan.Action { return s.actions }

// Events are the events sent since the start or the last ClearEvents, in order.
func (s *Sim) Events() []plan.Event { return s.events }

// ClearEvents forgets the events sent so far, so that Events tells of what follows.
func (s *Sim) ClearEvents() { s.events = nil }

// Timeline is every step so far, in order.
func (s *Sim) Timeline() []Entry { return s.timeline }

// ReplicaSet is the ReplicaSet of a name, or nil; the object itself, not a copy.
func (s *Sim) ReplicaSet(name string) *appsv1.ReplicaSet { return s.rss[name] }

// ReplicaSets are every ReplicaSet, by name; the objects themselves, not copies.
func (s *Sim) ReplicaSets() []*appsv1.ReplicaSet {
	names := make([]string, 0, len(s.rss))
	for n := range s.rss {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*appsv1.ReplicaSet, 0, len(names))
	for _, n := range names {
		out = append(out, s.rss[n])
	}
	return out
}

// Replicas is the spec.replicas of every ReplicaSet, by name.
func (s *Sim) Replicas() map[string]int32 {
	out := map[string]int32{}
	for n, rs := range s.rss {
		out[n] = specReplicas(rs)
	}
	return out
}

// AddService adds a Service, or replaces the one of its name.
func (s *Sim) AddService(svc *corev1.Service) { s.svcs[svc.Name] = svc }

// DeleteService deletes a Service.
func (s *Sim) DeleteService(name string) { delete(s.svcs, name) }

// Selector is the pod-template-hash a Service selects; "" when it selects none.
func (s *Sim) Selector(service string) string { return s.svcs[service].Spec.Selector[hashKey] }
