// Package actions holds the user actions on a rollout (promote, abort, retry, pause,
// set image, undo, restart), on experiments and analysis runs (retry, terminate) and the
// building of an AnalysisRun from its templates, as plain functions over a
// controller-runtime client, so that the kubectl plugin and a web dashboard share one
// implementation.
//
// Each action makes exactly the API call the upstream plugin makes (compat.md §5): status
// changes are JSON merge patches of the status subresource, spec changes are merge
// patches of spec, and only `set image` sends a full Update. Patching only the fields
// that change, instead of updating the whole object, keeps an action from overwriting
// what the controller wrote in the meantime.
package actions

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// GetRollout reads a rollout. A NotFound error names the namespace it looked in.
func GetRollout(ctx context.Context, c client.Client, key types.NamespacedName) (*v1alpha1.Rollout, error) {
	ro := &v1alpha1.Rollout{}
	if err := c.Get(ctx, key, ro); err != nil {
		return nil, explain(err, key.Namespace)
	}
	return ro, nil
}

// GetExperiment reads an experiment. A NotFound error names the namespace it looked in.
func GetExperiment(ctx context.Context, c client.Client, key types.NamespacedName) (*v1alpha1.Experiment, error) {
	exp := &v1alpha1.Experiment{}
	if err := c.Get(ctx, key, exp); err != nil {
		return nil, explain(err, key.Namespace)
	}
	return exp, nil
}

// GetAnalysisRun reads an analysis run. A NotFound error names the namespace it looked in.
func GetAnalysisRun(ctx context.Context, c client.Client, key types.NamespacedName) (*v1alpha1.AnalysisRun, error) {
	run := &v1alpha1.AnalysisRun{}
	if err := c.Get(ctx, key, run); err != nil {
		return nil, explain(err, key.Namespace)
	}
	return run, nil
}

// explain adds the namespace to a NotFound error: the API server's message names the
// object but not where it looked, and a wrong namespace is the usual cause.
func explain(err error, namespace string) error {
	if apierrors.IsNotFound(err) && namespace != "" {
		return fmt.Errorf("%w in namespace %q", err, namespace)
	}
	return err
}

// rolloutRef is an empty Rollout carrying only the name, enough to address a patch.
func rolloutRef(key types.NamespacedName) *v1alpha1.Rollout {
	ro := &v1alpha1.Rollout{}
	ro.Name, ro.Namespace = key.Name, key.Namespace
	return ro
}

// mergePatch builds a JSON merge patch; a nil value in the map becomes a JSON null,
// which deletes the field.
func mergePatch(body map[string]any) (client.Patch, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return client.RawPatch(types.MergePatchType, data), nil
}

// patchStatus merge-patches the status subresource with {"status": status}.
func patchStatus(ctx context.Context, c client.Client, obj client.Object, status map[string]any) error {
	p, err := mergePatch(map[string]any{"status": status})
	if err != nil {
		return err
	}
	return c.Status().Patch(ctx, obj, p)
}

// patchSpec merge-patches the object with {"spec": spec}.
func patchSpec(ctx context.Context, c client.Client, obj client.Object, spec map[string]any) error {
	p, err := mergePatch(map[string]any{"spec": spec})
	if err != nil {
		return err
	}
	return c.Patch(ctx, obj, p)
}

// Abort asks the controller to abort the update in progress: status.abort = true.
func Abort(ctx context.Context, c client.Client, key types.NamespacedName) (*v1alpha1.Rollout, error) {
	ro := rolloutRef(key)
	if err := patchStatus(ctx, c, ro, map[string]any{"abort": true}); err != nil {
		return nil, explain(err, key.Namespace)
	}
	return ro, nil
}

// Retry restarts an aborted update from its first step: status.abort = false.
func Retry(ctx context.Context, c client.Client, key types.NamespacedName) (*v1alpha1.Rollout, error) {
	ro := rolloutRef(key)
	if err := patchStatus(ctx, c, ro, map[string]any{"abort": false}); err != nil {
		return nil, explain(err, key.Namespace)
	}
	return ro, nil
}

// Pause pauses a rollout by hand: spec.paused = true.
func Pause(ctx context.Context, c client.Client, key types.NamespacedName) (*v1alpha1.Rollout, error) {
	ro := rolloutRef(key)
	if err := patchSpec(ctx, c, ro, map[string]any{"paused": true}); err != nil {
		return nil, explain(err, key.Namespace)
	}
	return ro, nil
}

// RetryExperiment clears an Experiment's status so that the controller runs it again.
func RetryExperiment(ctx context.Context, c client.Client, key types.NamespacedName) (*v1alpha1.Experiment, error) {
	exp := &v1alpha1.Experiment{}
	exp.Name, exp.Namespace = key.Name, key.Namespace
	p := client.RawPatch(types.MergePatchType, []byte(`{"status":null}`))
	if err := c.Status().Patch(ctx, exp, p); err != nil {
		return nil, explain(err, key.Namespace)
	}
	return exp, nil
}
