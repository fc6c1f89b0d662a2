package plan

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/internal/snapshot"
)

// podSim stands in for the ReplicaSet controller and the kubelet at the level of single
// pods, for the tests that look at them (restarts): a ReplicaSet gets pods up to its
// size, each new pod becomes ready one step after it was created, and an eviction
// removes a pod at once unless the disruption budget refuses it.
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

func withPods(w *world) *world {
	w.pods = &podSim{pods: map[string]*corev1.Pod{}, fresh: map[string]bool{}, budget: -1}
	return w
}

func (ps *podSim) kubelet(w *world) {
	for name := range ps.fresh {
		if pod := ps.pods[name]; pod != nil {
			setReady(pod, true)
		}
	}
	ps.fresh = map[string]bool{}
	names := make([]string, 0, len(w.rss))
	for n := range w.rss {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rs := w.rss[n]
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
				CreationTimestamp: metav1.NewTime(w.now),
				OwnerReferences:   []metav1.OwnerReference{{Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &isController}},
			}}
			setReady(pod, false)
			ps.pods[pod.Name] = pod
			if !w.notReady[rs.Spec.Template.Spec.Containers[0].Image] {
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

func (ps *podSim) evict(w *world, a EvictPod) {
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
		if w.ro.GetReplicas()-(ready-1) > ps.budget {
			ps.refused++
			return
		}
	}
	ps.evicted = append(ps.evicted, a.Name)
	delete(ps.pods, a.Name)
	delete(ps.fresh, a.Name)
}

// unavailable is how many pods the rollout is short of spec.replicas ready ones.
func (ps *podSim) unavailable(w *world) int32 {
	var ready int32
	for _, p := range ps.pods {
		if podReady(p) {
			ready++
		}
	}
	return max(w.ro.GetReplicas()-ready, 0)
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

func (w *world) snapshotPodsAndWorkload(s *snapshot.Snapshot) {
	if w.pods != nil {
		names := make([]string, 0, len(w.pods.pods))
		for n := range w.pods.pods {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			s.Pods = append(s.Pods, w.pods.pods[n].DeepCopy())
		}
	}
	if w.workload != nil {
		wl := *w.workload
		wl.Template = *w.workload.Template.DeepCopy()
		wl.Selector = w.workload.Selector.DeepCopy()
		wl.Deployment = w.workload.Deployment.DeepCopy()
		s.Workload = &wl
	}
}

func (w *world) applyPodsAndWorkload(a Action) {
	switch a := a.(type) {
	case EvictPod:
		if w.pods == nil {
			w.t.Fatalf("EvictPod %s in a world without pods", a.Name)
		}
		w.pods.evict(w, a)
	case ScaleDeployment:
		d := w.workload.Deployment
		if d == nil || d.Name != a.Name {
			w.t.Fatalf("ScaleDeployment of %s, which is not the referenced Deployment", a.Name)
		}
		d.Spec.Replicas = &a.Replicas
	case AnnotateRollout:
		if w.ro.Annotations == nil {
			w.ro.Annotations = map[string]string{}
		}
		for k, v := range a.Annotations {
			if v == nil {
				delete(w.ro.Annotations, k)
			} else {
				w.ro.Annotations[k] = *v
			}
		}
	}
}
