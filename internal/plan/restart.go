package plan

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/snapshot"
)

// restart carries out spec.restartAt: every pod created before that instant is evicted,
// a few at a time, and replaced by its ReplicaSet. Eviction (rather than deletion) lets
// PodDisruptionBudgets have their say; on top of that the rollout itself never has more
// than max(maxUnavailable, 1) pods unavailable, waiting for the replacements of one
// batch to be available before the next. status.restartedAt records the restart once
// no pod predates it.
func (p *planner) restart() {
	at := p.ro.Spec.RestartAt
	if !snapshot.RestartPending(p.ro) || p.ro.Spec.Paused {
		// A manual pause freezes the pods too.
		return
	}
	if p.now.Time.Before(at.Time) {
		p.requeueAt(at.Time)
		return
	}
	if p.changesReplicaSets() {
		// Pods are coming and going for the update; restarting on top of that could take
		// more away than the budget allows. The ReplicaSets settling wakes us again.
		return
	}

	byRS := map[types.UID][]*corev1.Pod{}
	for _, pod := range p.s.Pods {
		if ref := controllerUID(pod); ref != "" {
			byRS[ref] = append(byRS[ref], pod)
		}
	}
	var unavailable int32
	var stale []*corev1.Pod
	observed := true
	for _, rs := range p.all {
		pods := byRS[rs.UID]
		var live, avail int32
		for _, pod := range pods {
			if pod.CreationTimestamp.Before(at) {
				stale = append(stale, pod)
			}
			if pod.DeletionTimestamp != nil {
				continue
			}
			live++
			if p.podAvailable(pod) {
				avail++
			}
		}
		if live < rs.Status.Replicas {
			// The cache has not shown us every pod the ReplicaSet counts yet.
			observed = false
		}
		// Either view may lag the other; the lower count is the safe one.
		avail = min(avail, rs.Status.AvailableReplicas)
		unavailable += max(specReplicas(rs)-avail, 0)
	}
	if len(stale) == 0 {
		if observed {
			done := *at
			p.st.RestartedAt = &done
		}
		return
	}

	budget := max(p.restartMaxUnavailable(), 1) - unavailable
	sort.SliceStable(stale, func(i, j int) bool {
		a, b := stale[i], stale[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	for _, pod := range stale {
		if budget <= 0 {
			break
		}
		if pod.DeletionTimestamp != nil {
			continue
		}
		p.add(EvictPod{Name: pod.Name, UID: string(pod.UID)})
		budget--
	}
}

// changesReplicaSets reports whether this decision creates, scales or deletes a
// ReplicaSet.
func (p *planner) changesReplicaSets() bool {
	for _, a := range p.actions {
		switch a.(type) {
		case CreateReplicaSet, ScaleReplicaSet, DeleteReplicaSet, AdoptReplicaSet:
			return true
		}
	}
	return false
}

// restartMaxUnavailable is the strategy's maxUnavailable resolved against spec.replicas
// (rounded down): canary.maxUnavailable, or blueGreen.maxUnavailable (25% by default),
// which exists for restarts alone.
func (p *planner) restartMaxUnavailable() int32 {
	if bg := p.ro.Spec.Strategy.BlueGreen; bg != nil {
		mu := v1alpha1.DefaultMaxUnavailable
		if bg.MaxUnavailable != nil {
			mu = *bg.MaxUnavailable
		}
		n, err := intstr.GetScaledValueFromIntOrPercent(&mu, int(p.ro.GetReplicas()), false)
		if err != nil {
			return 0
		}
		return int32(n)
	}
	return maxUnavailable(p.ro)
}

// podAvailable reports whether a pod is ready and has been for minReadySeconds; a pod
// still inside that window asks for a wake-up when it ends.
func (p *planner) podAvailable(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodReady {
			continue
		}
		if c.Status != corev1.ConditionTrue {
			return false
		}
		minReady := time.Duration(p.ro.Spec.MinReadySeconds) * time.Second
		if minReady == 0 {
			return true
		}
		end := c.LastTransitionTime.Add(minReady)
		if p.now.Time.Before(end) {
			p.requeueAt(end)
			return false
		}
		return true
	}
	return false
}

func controllerUID(pod *corev1.Pod) types.UID {
	for _, ref := range pod.OwnerReferences {
		if ref.Controller != nil && *ref.Controller {
			return ref.UID
		}
	}
	return ""
}
