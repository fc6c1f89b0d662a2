package plan

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/replicaset"
)

// annotations never copied from a Rollout to its ReplicaSets.
var notCopied = map[string]bool{
	v1alpha1.LastAppliedAnnotation:        true,
	v1alpha1.RevisionAnnotation:           true,
	v1alpha1.RevisionHistoryAnnotation:    true,
	v1alpha1.DesiredReplicasAnnotation:    true,
	v1alpha1.NotificationsAnnotation:      true,
	v1alpha1.WorkloadGenerationAnnotation: true,
	v1alpha1.EphemeralMetadataAnnotation:  true,
}

// buildReplicaSet makes the ReplicaSet of the current template: named after the hash,
// labelled with it, owned by the Rollout, carrying the given ephemeral metadata.
func (p *planner) buildReplicaSet(replicas int32, metadata *v1alpha1.PodTemplateMetadata) *appsv1.ReplicaSet {
	ro := p.ro
	tmpl := ro.Spec.Template.DeepCopy()
	injectMetadata(&tmpl.ObjectMeta, metadata)

	ann := map[string]string{}
	for k, v := range ro.Annotations {
		if !notCopied[k] {
			ann[k] = v
		}
	}
	ann[v1alpha1.RevisionAnnotation] = strconv.FormatInt(p.newRev, 10)
	ann[v1alpha1.DesiredReplicasAnnotation] = strconv.Itoa(int(ro.GetReplicas()))
	if metadata != nil && (len(metadata.Labels) > 0 || len(metadata.Annotations) > 0) {
		data, _ := json.Marshal(metadata)
		ann[v1alpha1.EphemeralMetadataAnnotation] = string(data)
	}

	return replicaset.Build(replicaset.Spec{
		Owner: metav1.OwnerReference{
			APIVersion: v1alpha1.GroupVersion.String(),
			Kind:       "Rollout",
			Name:       ro.Name,
			UID:        ro.UID,
		},
		Namespace:       ro.Namespace,
		Hash:            p.st.CurrentPodHash,
		Template:        *tmpl,
		Selector:        ro.Spec.Selector,
		Replicas:        replicas,
		MinReadySeconds: ro.Spec.MinReadySeconds,
		// The ReplicaSet carries the template's own labels, not the ephemeral ones.
		Labels:      ro.Spec.Template.Labels,
		Annotations: ann,
	})
}

var withLabel = replicaset.WithLabel

func injectMetadata(meta *metav1.ObjectMeta, md *v1alpha1.PodTemplateMetadata) {
	if md == nil {
		return
	}
	for k, v := range md.Labels {
		meta.Labels = withLabel(meta.Labels, k, v)
	}
	if len(md.Annotations) > 0 && meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	for k, v := range md.Annotations {
		meta.Annotations[k] = v
	}
}

// recordedMetadata is the ephemeral metadata a ReplicaSet says was injected into it.
func recordedMetadata(rs *appsv1.ReplicaSet) *v1alpha1.PodTemplateMetadata {
	raw, ok := rs.Annotations[v1alpha1.EphemeralMetadataAnnotation]
	if !ok {
		return nil
	}
	var md v1alpha1.PodTemplateMetadata
	if json.Unmarshal([]byte(raw), &md) != nil {
		return nil
	}
	return &md
}

// sameTemplate reports whether a live ReplicaSet template was made from the desired
// template, ignoring what the controller itself added (hash label, ephemeral metadata).
func sameTemplate(desired, live *corev1.PodTemplateSpec) bool {
	l := live.DeepCopy()
	delete(l.Labels, hashKey)
	if len(l.Labels) == 0 {
		l.Labels = nil
	}
	d := desired.DeepCopy()
	if len(d.Labels) == 0 {
		d.Labels = nil
	}
	if len(l.Annotations) == 0 {
		l.Annotations = nil
	}
	if len(d.Annotations) == 0 {
		d.Annotations = nil
	}
	return equality.Semantic.DeepEqual(d, l)
}

// sameTemplateOf compares a ReplicaSet's template to the desired one after taking away
// the ephemeral metadata the ReplicaSet records.
func sameTemplateOf(desired *corev1.PodTemplateSpec, rs *appsv1.ReplicaSet) bool {
	live := rs.Spec.Template.DeepCopy()
	if md := recordedMetadata(rs); md != nil {
		for k := range md.Labels {
			delete(live.Labels, k)
		}
		for k := range md.Annotations {
			delete(live.Annotations, k)
		}
	}
	return sameTemplate(desired, live)
}

func revisionOf(rs *appsv1.ReplicaSet) int64 {
	v, _ := strconv.ParseInt(rs.Annotations[v1alpha1.RevisionAnnotation], 10, 64)
	return v
}

func specReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// available is the count of available pods a ReplicaSet reports for its current spec;
// a status not yet updated for the latest spec counts as is, since pods only leave
// through scale-down, which the planner itself orders.
func available(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return rs.Status.AvailableReplicas
}

// saturated reports whether a ReplicaSet runs exactly n pods, all available, and its
// status describes its latest spec.
func saturated(rs *appsv1.ReplicaSet, n int32) bool {
	return rs != nil && specReplicas(rs) == n && rs.Status.ObservedGeneration >= rs.Generation &&
		rs.Status.Replicas == n && rs.Status.AvailableReplicas >= n
}

func sortByRevision(list []*appsv1.ReplicaSet) {
	sort.SliceStable(list, func(i, j int) bool {
		ri, rj := revisionOf(list[i]), revisionOf(list[j])
		if ri != rj {
			return ri < rj
		}
		return list[i].CreationTimestamp.Before(&list[j].CreationTimestamp)
	})
}

// scaleDownDeadline is the time in a ReplicaSet's scale-down-deadline annotation.
func scaleDownDeadline(rs *appsv1.ReplicaSet) (time.Time, bool) {
	v, ok := rs.Annotations[v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		// An unreadable deadline is treated as passed rather than blocking scale-down forever.
		return time.Time{}, true
	}
	return t, true
}

func ptrTo[T any](v T) *T { return &v }

func (p *planner) byHash(h string) *appsv1.ReplicaSet { return findByHash(p.all, h) }

// findByHash is the ReplicaSet of a pod-template hash among all.
func findByHash(all []*appsv1.ReplicaSet, h string) *appsv1.ReplicaSet {
	if h == "" {
		return nil
	}
	for _, rs := range all {
		if rs.Labels[hashKey] == h {
			return rs
		}
	}
	return nil
}

// syncMetadata plans the replacement of a ReplicaSet's ephemeral metadata when the
// role it plays changed.
func (p *planner) syncMetadata(rs *appsv1.ReplicaSet, desired *v1alpha1.PodTemplateMetadata) {
	if rs == nil || p.created && rs == p.newRS {
		return
	}
	prev := recordedMetadata(rs)
	if emptyMetadata(prev) && emptyMetadata(desired) {
		return
	}
	if equality.Semantic.DeepEqual(normalizedMetadata(prev), normalizedMetadata(desired)) {
		return
	}
	p.add(SetReplicaSetMetadata{Name: rs.Name, Previous: prev, Desired: desired})
}

func emptyMetadata(md *v1alpha1.PodTemplateMetadata) bool {
	return md == nil || len(md.Labels) == 0 && len(md.Annotations) == 0
}

func normalizedMetadata(md *v1alpha1.PodTemplateMetadata) v1alpha1.PodTemplateMetadata {
	if emptyMetadata(md) {
		return v1alpha1.PodTemplateMetadata{}
	}
	out := *md.DeepCopy()
	if len(out.Labels) == 0 {
		out.Labels = nil
	}
	if len(out.Annotations) == 0 {
		out.Annotations = nil
	}
	return out
}
