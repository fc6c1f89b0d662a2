// Package execute is the only code that writes to the API server on behalf of a Rollout.
// It applies a plan.Decision's actions in order, each idempotently so that re-running
// a Decision after a crash converges, emits the Events the plan asks for, and ends with
// one merge patch of the status subresource, skipped when nothing changed. Events of
// writes go right after their write; events of status transitions once the status is
// written, so a failed status patch and its retry tell them once.
package execute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/plan"
	"github.com/tern-rollouts/tern/internal/traffic/routers"
)

// FieldOwner names Tern's writes in managedFields.
const FieldOwner = "tern-controller"

// Executor applies Decisions.
type Executor struct {
	Client   client.Client
	Recorder record.EventRecorder
}

// Result tells the caller what the executor created, so that it can wait for its cache
// to see those objects before planning again.
type Result struct {
	CreatedReplicaSets []string
	// StatusWritten is the Rollout returned by the status patch, nil if none was made.
	StatusWritten *v1alpha1.Rollout
	// EvictedPods are the pods evicted; the next plan must see them go.
	EvictedPods []string
	// RetryAfter, when not zero, asks to plan again that soon: a disruption budget
	// refused an eviction.
	RetryAfter time.Duration
	// Written are the objects patched, as the API server returned them: the next plan
	// must see at least these resourceVersions, or it would redo or undo those writes.
	Written []client.Object
}

// Apply carries out a Decision for ro. On the first failing action it stops: the
// status is not written, so it never records what was not achieved.
//
// Events that report a status transition (plan.Event.AfterStatus) are held until the
// status is written, and so is every event after the first of them, to keep the planned
// order. If the status is not written, the held events that report a write still go
// (the next plan will not report that write again) and the transitions do not (the next
// plan reports them again).
func (e *Executor) Apply(ctx context.Context, ro *v1alpha1.Rollout, d plan.Decision) (Result, error) {
	var res Result
	var held []plan.Event
	recorded := false
	defer func() { e.sendHeld(ro, held, recorded) }()
	skipEvents := false
	for _, a := range d.Actions {
		if ev, ok := a.(plan.Event); ok {
			switch {
			case skipEvents:
			case ev.AfterStatus || len(held) > 0:
				held = append(held, ev)
			default:
				e.Recorder.Event(ro, ev.Type, ev.Reason, ev.Message)
			}
			continue
		}
		skipEvents = false
		if ev, ok := a.(plan.EvictPod); ok {
			done, wait, err := e.evict(ctx, ro.Namespace, ev)
			switch {
			case errors.Is(err, errEvictionRefused):
				// The budget decides when; the other writes and the status go ahead.
				if res.RetryAfter == 0 || wait < res.RetryAfter {
					res.RetryAfter = wait
				}
			case err != nil:
				return res, err
			case done:
				res.EvictedPods = append(res.EvictedPods, ev.Name)
			}
			continue
		}
		done, err := e.apply(ctx, &res.Written, ro, a)
		if errors.Is(err, ErrCollision) {
			return res, e.bumpCollisionCount(ctx, ro, err)
		}
		if err != nil {
			return res, err
		}
		if c, ok := a.(plan.CreateReplicaSet); ok {
			if done {
				res.CreatedReplicaSets = append(res.CreatedReplicaSets, c.ReplicaSet.Name)
			} else {
				// It existed already: its creation was told before, by an earlier run.
				skipEvents = true
			}
		}
	}
	if equality.Semantic.DeepEqual(ro.Status, d.Status) {
		// The status records this decision already.
		recorded = true
		return res, nil
	}
	updated := ro.DeepCopy()
	updated.Status = d.Status
	if err := e.Client.Status().Patch(ctx, updated, client.MergeFrom(ro), client.FieldOwner(FieldOwner)); err != nil {
		return res, fmt.Errorf("patching status of rollout %s/%s: %w", ro.Namespace, ro.Name, err)
	}
	recorded = true
	res.StatusWritten = updated
	return res, nil
}

// sendHeld sends the events Apply held back, in order: all of them once the status is
// recorded, else only those that report a write.
func (e *Executor) sendHeld(ro *v1alpha1.Rollout, held []plan.Event, recorded bool) {
	for _, ev := range held {
		if recorded || !ev.AfterStatus {
			e.Recorder.Event(ro, ev.Type, ev.Reason, ev.Message)
		}
	}
}

// apply performs one action; done is false when it found nothing to do.
func (e *Executor) apply(ctx context.Context, w *[]client.Object, ro *v1alpha1.Rollout, a plan.Action) (bool, error) {
	ns := ro.Namespace
	switch a := a.(type) {
	case plan.CreateReplicaSet:
		return CreateReplicaSet(ctx, e.Client, a.ReplicaSet)
	case plan.ScaleReplicaSet:
		patch := map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{v1alpha1.DesiredReplicasAnnotation: fmt.Sprint(a.DesiredReplicas)}},
			"spec":     map[string]any{"replicas": a.Replicas},
		}
		return true, e.patch(ctx, w, &appsv1.ReplicaSet{}, ns, a.Name, types.MergePatchType, patch)
	case plan.AnnotateReplicaSet:
		return true, e.patch(ctx, w, &appsv1.ReplicaSet{}, ns, a.Name, types.MergePatchType, annotationsPatch(a.Annotations))
	case plan.AdoptReplicaSet:
		isController := true
		ref := metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Rollout", Name: ro.Name, UID: ro.UID, Controller: &isController, BlockOwnerDeletion: &isController}
		// The uid makes the patch fail rather than adopt a ReplicaSet recreated meanwhile.
		patch := map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{ref}, "uid": a.UID}}
		return true, e.patch(ctx, w, &appsv1.ReplicaSet{}, ns, a.Name, types.StrategicMergePatchType, patch)
	case plan.DeleteReplicaSet:
		rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: a.Name}}
		uid := types.UID(a.UID)
		err := e.Client.Delete(ctx, rs, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, wrap(err, "deleting replicaset %s/%s", ns, a.Name)
	case plan.SetReplicaSetMetadata:
		return true, e.setMetadata(ctx, w, ns, a)
	case plan.SetTraffic:
		written, err := routers.Apply(ctx, client.WithFieldOwner(e.Client, FieldOwner), ro, a.Desired)
		*w = append(*w, written...)
		return true, err
	case plan.ScaleDeployment:
		patch := map[string]any{"spec": map[string]any{"replicas": a.Replicas}}
		return true, e.patch(ctx, w, &appsv1.Deployment{}, ns, a.Name, types.MergePatchType, patch)
	case plan.AnnotateRollout:
		return true, e.patch(ctx, w, &v1alpha1.Rollout{}, ns, ro.Name, types.MergePatchType, annotationsPatch(a.Annotations))
	case plan.SetRolloutRevision:
		patch := map[string]any{"metadata": map[string]any{"annotations": map[string]any{v1alpha1.RevisionAnnotation: a.Revision}}}
		return true, e.patch(ctx, w, &v1alpha1.Rollout{}, ns, ro.Name, types.MergePatchType, patch)
	case plan.CreateAnalysisRun, plan.TerminateAnalysisRun, plan.DeleteAnalysisRun:
		return e.applyAnalysis(ctx, w, ro, a)
	}
	return false, fmt.Errorf("unknown action %T", a)
}

// annotationsPatch is the merge patch that sets each annotation to its value and removes
// those whose value is nil.
func annotationsPatch(annotations map[string]*string) map[string]any {
	ann := map[string]any{}
	for k, v := range annotations {
		if v == nil {
			ann[k] = nil
		} else {
			ann[k] = *v
		}
	}
	return map[string]any{"metadata": map[string]any{"annotations": ann}}
}

func (e *Executor) bumpCollisionCount(ctx context.Context, ro *v1alpha1.Rollout, cause error) error {
	updated := ro.DeepCopy()
	n := int32(0)
	if ro.Status.CollisionCount != nil {
		n = *ro.Status.CollisionCount
	}
	n++
	updated.Status.CollisionCount = &n
	if err := e.Client.Status().Patch(ctx, updated, client.MergeFrom(ro), client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("%v; and bumping collisionCount failed: %w", cause, err)
	}
	return cause
}

// setMetadata swaps the ephemeral metadata on the ReplicaSet's template and its pods,
// touching only the keys Tern itself injected.
func (e *Executor) setMetadata(ctx context.Context, w *[]client.Object, ns string, a plan.SetReplicaSetMetadata) error {
	labelsPatch, annPatch := metadataPatch(a.Previous, a.Desired)
	record := any(nil)
	if a.Desired != nil && (len(a.Desired.Labels) > 0 || len(a.Desired.Annotations) > 0) {
		data, _ := json.Marshal(a.Desired)
		record = string(data)
	}
	rsPatch := map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{v1alpha1.EphemeralMetadataAnnotation: record}},
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"labels": labelsPatch, "annotations": annPatch,
		}}},
	}
	if err := e.patch(ctx, w, &appsv1.ReplicaSet{}, ns, a.Name, types.MergePatchType, rsPatch); err != nil {
		return err
	}
	rs := &appsv1.ReplicaSet{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: a.Name}, rs); err != nil {
		return wrap(err, "reading replicaset %s/%s", ns, a.Name)
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return fmt.Errorf("replicaset %s/%s has an invalid selector: %w", ns, a.Name, err)
	}
	pods := &corev1.PodList{}
	if err := e.Client.List(ctx, pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return wrap(err, "listing pods of replicaset %s/%s", ns, a.Name)
	}
	podPatch := map[string]any{"metadata": map[string]any{"labels": labelsPatch, "annotations": annPatch}}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if owner := metav1.GetControllerOf(pod); owner == nil || owner.UID != rs.UID || pod.DeletionTimestamp != nil {
			continue
		}
		// Not an expectation: plans read pods only for a restart, and a pod's update does not
		// wake its Rollout, so waiting for it would only delay the next plan.
		if err := e.patch(ctx, nil, &corev1.Pod{}, ns, pod.Name, types.MergePatchType, podPatch); err != nil {
			return err
		}
	}
	return nil
}

// metadataPatch builds merge-patch maps that drop the previously injected keys and set
// the desired ones.
func metadataPatch(prev, desired *v1alpha1.PodTemplateMetadata) (map[string]any, map[string]any) {
	l, a := map[string]any{}, map[string]any{}
	if prev != nil {
		for k := range prev.Labels {
			l[k] = nil
		}
		for k := range prev.Annotations {
			a[k] = nil
		}
	}
	if desired != nil {
		for k, v := range desired.Labels {
			l[k] = v
		}
		for k, v := range desired.Annotations {
			a[k] = v
		}
	}
	return l, a
}

func (e *Executor) patch(ctx context.Context, w *[]client.Object, obj client.Object, ns, name string, pt types.PatchType, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	obj.SetNamespace(ns)
	obj.SetName(name)
	err = e.Client.Patch(ctx, obj, client.RawPatch(pt, data), client.FieldOwner(FieldOwner))
	if err == nil && w != nil {
		*w = append(*w, obj)
	}
	return wrap(err, "patching %T %s/%s", obj, ns, name)
}

func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
