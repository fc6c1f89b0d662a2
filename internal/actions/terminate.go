package actions

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// TerminateAnalysisRun asks the controller to stop an AnalysisRun: spec.terminate = true.
// The run keeps its measurements; a run terminated before any measurement counts as
// Successful (compat.md §3.2).
func TerminateAnalysisRun(ctx context.Context, c client.Client, key types.NamespacedName) (*v1alpha1.AnalysisRun, error) {
	run := &v1alpha1.AnalysisRun{}
	run.Name, run.Namespace = key.Name, key.Namespace
	if err := patchSpec(ctx, c, run, map[string]any{"terminate": true}); err != nil {
		return nil, explain(err, key.Namespace)
	}
	return run, nil
}

// TerminateExperiment asks the controller to end an Experiment early: spec.terminate = true.
func TerminateExperiment(ctx context.Context, c client.Client, key types.NamespacedName) (*v1alpha1.Experiment, error) {
	exp := &v1alpha1.Experiment{}
	exp.Name, exp.Namespace = key.Name, key.Namespace
	if err := patchSpec(ctx, c, exp, map[string]any{"terminate": true}); err != nil {
		return nil, explain(err, key.Namespace)
	}
	return exp, nil
}
