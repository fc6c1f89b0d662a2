package simulate

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/internal/plan"
	"github.com/tern-rollouts/tern/internal/snapshot"
)

// podSim stands in for the ReplicaSet controller and the kubelet at the level of single
// pods, for what looks at them (restarts): a ReplicaSet gets pods up to its size, each
// new pod becomes ready one step after it was created, and an eviction removes a pod at
// once unless the disruption budget refuses it.
type podSim struct {
	pods map[string]*corev1.Pod
	// fresh are the pods created in the last pass, not ready yet.
	fresh map[string]bool
	n     int
	// budget, when >= 0, is how many of the rollout's pods a PodDisruptionBudget lets be
	// unavailable at once.
	budget  int32
	refused int
	evicted []string
}

// ModelPods makes the Sim keep single pods, with the snapshot carrying them: each new
// pod becomes ready one step after it was created, and evictions remove pods. Without
// it, a ReplicaSet's pods are only its counts, ready at once.
func (s *Sim) ModelPods() {
	s.pods = &podSim{pods: map[string]*corev1.Pod{}, fresh: map[string]bool{}, budget: -1}
}

// SetDisruptionBudget plays a PodDisruptionBudget that lets at most maxUnavailable of
// the rollout's pods be unavailable at once, refusing evictions beyond it; a negative
// value removes it. It needs ModelPods.
func (s *Sim) SetDisruptionBudget(maxUnavailable int32) { s.pods.budget = maxUnavailable }

// Pods are every pod, by name; the objects themselves, not copies. Empty without
// ModelPods.
func (s *Sim) Pods() []*corev1.Pod {
	if s.pods == nil {
		return nil
	}
	names := make([]string, 0, len(s.pods.pods))
	for n := range s.pods.pods {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*corev1.Pod, 0, len(names))
	for _, n := range names {
		out = append(out, s.pods.pods[n])
	}
	return out
}

// Evicted are the names of the pods evicted so far, in order.
func (s *Sim) Evicted() []string {
	if s.pods == nil {
		return nil
	}
	return s.pods.evicted
}

// RefusedEvictions is how many evictions the disruption budget refused so far.
func (s *Sim) RefusedEvictions() int {
	if s.pods == nil {
		return 0
	}
	return s.pods.refused
}

// Unavailable is how many pods the rollout is short of spec.replicas ready ones. It
// needs ModelPods.
func (s *Sim) Unavailable() int32 {
	var ready int32
	for _, p := range s.pods.pods {
		if podReady(p) {
			ready++
		}
	}
	return max(s.ro.GetReplicas()-ready, 0)
}

func (ps *podSim) kubelet(s *Sim) {
	for name := range ps.fresh {
		if pod := ps.pods[name]; pod != nil {
			setReady(pod, true)
		}
	}
	ps.fresh = map[string]bool{}
	for _, rs := range s.ReplicaSets() {
		mine := ps.of(rs)
		want := int(specReplicas(rs))
		for len(mine) > want {
			// The ReplicaSet controller removes not-ready pods first, then the newest.
			victim := mine[len(mine)-1]
			for _, p := range mine {
				if !podReady(p) {
					victim = p
					break
				}
			}
			delete(ps.pods, victim.Name)
			mine = ps.of(rs)
		}
		for len(mine) < want {
			ps.n++
			isController := true
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
				Name:              fmt.Sprintf("%s-p%d", rs.Name, ps.n),
				Namespace:         rs.Namespace,
				UID:               types.UID(fmt.Sprintf("pod-%d", ps.n)),
				Labels:            rs.Spec.Template.Labels,
				CreationTimestamp: metav1.NewTime(s.now),
				OwnerReferences:   []metav1.OwnerReference{{Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &isController}},
			}}
			setReady(pod, false)
			ps.pods[pod.Name] = pod
			if !s.notReady[rs.Spec.Template.Spec.Containers[0].Image] {
				ps.fresh[pod.Name] = true
			}
			mine = ps.of(rs)
		}
		var ready int32
		for _, p := range mine {
			if podReady(p) {
				ready++
			}
		}
		rs.Status.Replicas = int32(len(mine))
		rs.Status.ObservedGeneration = rs.Generation
		rs.Status.ReadyReplicas, rs.Status.AvailableReplicas = ready, ready
	}
}

// of lists the pods of a ReplicaSet, oldest first.
func (ps *podSim) of(rs *appsv1.ReplicaSet) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range ps.pods {
		if controllerUID(p) == rs.UID {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (ps *podSim) evict(s *Sim, a plan.EvictPod) {
	pod := ps.pods[a.Name]
	if pod == nil || string(pod.UID) != a.UID {
		return
	}
	if ps.budget >= 0 && podReady(pod) {
		var ready int32
		for _, p := range ps.pods {
			if podReady(p) {
				ready++
			}
		}
		if s.ro.GetReplicas()-(ready-1) > ps.budget {
			ps.refused++
			return
		}
	}
	ps.evicted = append(ps.evicted, a.Name)
	delete(ps.pods, a.Name)
	delete(ps.fresh, a.Name)
}

func controllerUID(pod *corev1.Pod) types.UID {
	if ref := metav1.GetControllerOf(pod); ref != nil {
		return ref.UID
	}
	return ""
}

func setReady(pod *corev1.Pod, ready bool) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// SetWorkload sets what the rollout's spec.workloadRef resolves to; a Workload that is
// not Found plays a referenced object that does not exist. The Sim keeps it and scales
// its Deployment as the controller would.
func (s *Sim) SetWorkload(wl *snapshot.Workload) { s.workload = wl }

// Workload is what the rollout's spec.workloadRef resolves to, or nil; the value
// itself, not a copy: edit it to play a change of the referenced object.
func (s *Sim) Workload() *snapshot.Workload { return s.workload }

func (s *Sim) snapshotPodsAndWorkload(snap *snapshot.Snapshot) {
	for _, p := range s.Pods() {
		snap.Pods = append(snap.Pods, p.DeepCopy())
	}
	if s.workload != nil {
		wl := *s.workload
		wl.Template = *s.workload.Template.DeepCopy()
		wl.Selector = s.workload.Selector.DeepCopy()
		wl.Deployment = s.workload.Deployment.DeepCopy()
		snap.Workload = &wl
	}
}

func (s *Sim) applyPodsAndWorkload(a plan.Action) error {
	switch a := a.(type) {
	case plan.EvictPod:
		if s.pods == nil {
			return fmt.Errorf("EvictPod %s in a Sim without pods", a.Name)
		}
		s.pods.evict(s, a)
	case plan.ScaleDeployment:
		if s.workload == nil || s.workload.Deployment == nil || s.workload.Deployment.Name != a.Name {
			return fmt.Errorf("ScaleDeployment of %s, which is not the referenced Deployment", a.Name)
		}
		s.workload.Deployment.Spec.Replicas = &a.Replicas
	case plan.AnnotateRollout:
		if s.ro.Annotations == nil {
			s.ro.Annotations = map[string]string{}
		}
		for k, v := range a.Annotations {
			if v == nil {
				delete(s.ro.Annotations, k)
			} else {
				s.ro.Annotations[k] = *v
			}
		}
	}
	return nil
}
