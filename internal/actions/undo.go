package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// UndoResult says what Undo did.
type UndoResult struct {
	// Revision is the revision whose template was restored (or already in place).
	Revision int64
	// Skipped is true when the rollout's template already matched that revision.
	Skipped bool
}

// Undo puts the pod template of an earlier revision back into the rollout: toRevision,
// or the one before the newest when toRevision is 0. The template is taken from the
// ReplicaSet of that revision, without its pod-template-hash label, and written with a
// JSON patch that replaces only the template. A rollout with a workloadRef has the
// referenced workload patched instead.
func Undo(ctx context.Context, c client.Client, key types.NamespacedName, toRevision int64) (UndoResult, error) {
	ro, err := GetRollout(ctx, c, key)
	if err != nil {
		return UndoResult{}, err
	}
	rs, rev, err := replicaSetForRevision(ctx, c, ro, toRevision)
	if err != nil {
		return UndoResult{}, err
	}
	template := rs.Spec.Template.DeepCopy()
	delete(template.Labels, v1alpha1.DefaultRolloutUniqueLabelKey)
	res := UndoResult{Revision: rev}
	// A workloadRef rollout has no template of its own to compare with.
	if ro.Spec.WorkloadRef == nil && sameTemplate(&ro.Spec.Template, template) {
		res.Skipped = true
		return res, nil
	}
	var target client.Object = ro
	path := "/spec/template"
	if ref := ro.Spec.WorkloadRef; ref != nil {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(ref.APIVersion)
		u.SetKind(ref.Kind)
		u.SetName(ref.Name)
		u.SetNamespace(ro.Namespace)
		switch ref.Kind {
		case "Deployment", "ReplicaSet":
		case "PodTemplate":
			path = "/template"
		default:
			return res, fmt.Errorf("spec.workloadRef.kind %q is not supported: use a Deployment, ReplicaSet or PodTemplate", ref.Kind)
		}
		target = u
	}
	patch, err := json.Marshal([]map[string]any{{"op": "replace", "path": path, "value": template}})
	if err != nil {
		return res, err
	}
	if err := c.Patch(ctx, target, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return res, fmt.Errorf("failed restoring revision %d: %w", rev, explain(err, key.Namespace))
	}
	return res, nil
}

// sameTemplate ignores the hash label and any field the rollout leaves unset, since the
// API server and the controller may fill in fields the user never wrote.
func sameTemplate(current, old *corev1.PodTemplateSpec) bool {
	cur := current.DeepCopy()
	delete(cur.Labels, v1alpha1.DefaultRolloutUniqueLabelKey)
	return apiequality.Semantic.DeepDerivative(cur, old)
}

// replicaSetForRevision finds the ReplicaSet, owned by ro, of revision toRevision, or of
// the second newest revision when toRevision is 0.
func replicaSetForRevision(ctx context.Context, c client.Client, ro *v1alpha1.Rollout, toRevision int64) (*appsv1.ReplicaSet, int64, error) {
	selector := labels.Everything()
	if ro.Spec.Selector != nil {
		var err error
		if selector, err = metav1.LabelSelectorAsSelector(ro.Spec.Selector); err != nil {
			return nil, 0, fmt.Errorf("rollout %q has an invalid selector: %w", ro.Name, err)
		}
	}
	var list appsv1.ReplicaSetList
	if err := c.List(ctx, &list, client.InNamespace(ro.Namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, 0, fmt.Errorf("failed to list the ReplicaSets of rollout %q: %w", ro.Name, err)
	}
	var newest, previous *appsv1.ReplicaSet
	newestRev, previousRev := int64(-1), int64(-1)
	for i := range list.Items {
		rs := &list.Items[i]
		if !metav1.IsControlledBy(rs, ro) {
			continue
		}
		rev, err := strconv.ParseInt(rs.Annotations[v1alpha1.RevisionAnnotation], 10, 64)
		if err != nil {
			continue
		}
		if toRevision > 0 {
			if rev == toRevision {
				return rs, rev, nil
			}
			continue
		}
		switch {
		case rev > newestRev:
			previous, previousRev = newest, newestRev
			newest, newestRev = rs, rev
		case rev > previousRev:
			previous, previousRev = rs, rev
		}
	}
	if toRevision > 0 {
		return nil, 0, fmt.Errorf("unable to find revision %d of rollout %q in history: see the revisions with 'get rollout %s'", toRevision, ro.Name, ro.Name)
	}
	if previous == nil {
		return nil, 0, fmt.Errorf("no earlier revision found for rollout %q", ro.Name)
	}
	return previous, previousRev, nil
}

// Restart asks for every pod created before at to be replaced: spec.restartAt = at.
func Restart(ctx context.Context, c client.Client, key types.NamespacedName, at time.Time) (*v1alpha1.Rollout, error) {
	ro := rolloutRef(key)
	if err := patchSpec(ctx, c, ro, map[string]any{"restartAt": at.UTC().Format(time.RFC3339)}); err != nil {
		return nil, explain(err, key.Namespace)
	}
	return ro, nil
}
