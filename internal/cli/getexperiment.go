package cli

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/actions"
	"github.com/tern-rollouts/tern/internal/rolloutinfo"
)

const getExperimentLong = `Get details about and a visual representation of an experiment: its status and
message, the images of its templates, and a tree of its ReplicaSets with their pods and
its AnalysisRuns.

Tree view icons

  Σ Experiment   ⧉ ReplicaSet   □ Pod   α AnalysisRun   ⊞ Job`

// GetExperimentOptions are the options of `get experiment`.
type GetExperimentOptions struct {
	getOptions
}

// NewCmdGetExperiment returns the `get experiment` command.
func NewCmdGetExperiment(o *Options) *cobra.Command {
	g := &GetExperimentOptions{getOptions{Options: o}}
	cmd := &cobra.Command{
		Use:     "experiment NAME",
		Aliases: []string{"exp", "experiments"},
		Short:   "Get details about an experiment",
		Long:    getExperimentLong,
		Example: o.Example(`
  # Get an experiment
  %[1]s get experiment my-experiment

  # Watch an experiment's progress
  %[1]s get experiment my-experiment -w`),
		Args: exactArgs("NAME"),
		RunE: runVerb(g),
	}
	g.addFlags(cmd, "the experiment")
	return cmd
}

// experimentSources lists what an experiment owns. Its ReplicaSets share no label, so
// the namespace's are listed and kept by owner; pods are kept by the name of the
// ReplicaSet owning them, which starts with the experiment's name.
func experimentSources(exp *v1alpha1.Experiment) []source {
	ns := client.InNamespace(exp.Namespace)
	owned := func(o client.Object) bool { return ownedBy(o, exp.UID) }
	podOfExperiment := func(o client.Object) bool {
		ref := metav1.GetControllerOf(o)
		return ref != nil && ref.Kind == "ReplicaSet" && strings.HasPrefix(ref.Name, exp.Name+"-")
	}
	return []source{
		{"ReplicaSets", func() client.ObjectList { return &appsv1.ReplicaSetList{} }, []client.ListOption{ns}, owned},
		{"Pods", func() client.ObjectList { return &corev1.PodList{} }, []client.ListOption{ns}, podOfExperiment},
		{"AnalysisRuns", func() client.ObjectList { return &v1alpha1.AnalysisRunList{} }, []client.ListOption{ns}, owned},
	}
}

func ownedBy(o client.Object, uid types.UID) bool {
	for _, ref := range o.GetOwnerReferences() {
		if ref.UID == uid {
			return true
		}
	}
	return false
}

// Run prints the experiment once, or redraws it on every change with --watch.
func (g *GetExperimentOptions) Run(ctx context.Context) error {
	exp, err := actions.GetExperiment(ctx, g.client, g.key)
	if err != nil {
		return err
	}
	newList := func() client.ObjectList { return &v1alpha1.ExperimentList{} }
	return display(ctx, &g.getOptions, exp, namedSource("Experiment", newList, g.key), experimentSources(exp), g.render)
}

func (g *GetExperimentOptions) render(w io.Writer, exp *v1alpha1.Experiment, children [][]client.Object) error {
	view := rolloutinfo.NewExperiment(exp, objectsOf(nil, children...))
	return rolloutinfo.RenderExperiment(w, view, g.renderOptions())
}
