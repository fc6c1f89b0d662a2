package rolloutinfo

import (
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// replicaSetsOf builds the views of the ReplicaSets owned by owner, newest revision
// first. ro is nil for an experiment's ReplicaSets, which play no rollout role.
func replicaSetsOf(owner types.UID, ro *v1alpha1.Rollout, all []appsv1.ReplicaSet, pods []corev1.Pod) []ReplicaSet {
	var out []ReplicaSet
	for i := range all {
		rs := &all[i]
		if !ownedBy(rs.OwnerReferences, owner) {
			continue
		}
		status := replicaSetHealth(rs)
		info := ReplicaSet{
			Name:              rs.Name,
			UID:               rs.UID,
			Created:           rs.CreationTimestamp.Time,
			Revision:          parseRevision(rs.Annotations),
			Status:            status,
			Icon:              replicaSetIcon(status),
			Replicas:          rs.Status.Replicas,
			Available:         rs.Status.AvailableReplicas,
			ScaleDownDeadline: rs.Annotations[v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey],
			Template:          rs.Annotations[v1alpha1.ExperimentTemplateNameAnnotation],
		}
		if ro != nil {
			setRoles(&info, ro, rs.Labels[v1alpha1.DefaultRolloutUniqueLabelKey])
		}
		for _, c := range rs.Spec.Template.Spec.Containers {
			info.Images = append(info.Images, c.Image)
		}
		info.Pods = podsOf(rs.UID, pods)
		out = append(out, info)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Revision != out[j].Revision {
			return out[i].Revision > out[j].Revision
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// setRoles marks the roles a ReplicaSet plays, judged by its pod-template-hash label
// (not its name), so a ReplicaSet that lost the label plays none.
func setRoles(info *ReplicaSet, ro *v1alpha1.Rollout, hash string) {
	if hash == "" {
		return
	}
	st := &ro.Status
	if c := ro.Spec.Strategy.Canary; c != nil {
		pingPong := c.PingPong != nil
		// Until the controller records otherwise, the stable side is "ping".
		stableIsPing := st.Canary.StablePingPong != "pong"
		switch hash {
		case st.StableRS:
			info.Stable = true
			info.Ping, info.Pong = pingPong && stableIsPing, pingPong && !stableIsPing
		case st.CurrentPodHash:
			info.Canary = true
			info.Ping, info.Pong = pingPong && !stableIsPing, pingPong && stableIsPing
		}
	}
	if ro.Spec.Strategy.BlueGreen != nil {
		info.Stable = hash == st.StableRS
		switch hash {
		case st.BlueGreen.ActiveSelector:
			info.Active = true
		case st.BlueGreen.PreviewSelector:
			info.Preview = true
		}
	}
}

// replicaSetHealth is Progressing until the ReplicaSet controller has seen the current
// spec and all desired pods are available, ReplicaFailure when that condition is set,
// then ScaledDown or Healthy.
func replicaSetHealth(rs *appsv1.ReplicaSet) string {
	if rs.Generation > rs.Status.ObservedGeneration {
		return "Progressing"
	}
	for _, c := range rs.Status.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
			return string(appsv1.ReplicaSetReplicaFailure)
		}
	}
	if rs.Spec.Replicas != nil && rs.Status.AvailableReplicas < *rs.Spec.Replicas {
		return "Progressing"
	}
	if rs.Spec.Replicas != nil && *rs.Spec.Replicas == 0 {
		return "ScaledDown"
	}
	return "Healthy"
}

// ScaleDownDelay renders the time left before a ReplicaSet is scaled down: a human
// duration, "passed", or "" when the annotation is missing or unreadable.
func (rs *ReplicaSet) ScaleDownDelay(now time.Time) string {
	deadline, err := time.Parse(time.RFC3339, rs.ScaleDownDeadline)
	if err != nil {
		return ""
	}
	if deadline.Before(now) {
		return "passed"
	}
	return duration.HumanDuration(deadline.Sub(now))
}
