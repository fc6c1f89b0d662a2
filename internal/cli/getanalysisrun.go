package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/actions"
	"github.com/tern-rollouts/tern/internal/rolloutinfo"
)

const getAnalysisRunLong = `Get details about an analysis run: its status and message, its arguments, then each
metric with its status, measurement counts (✔ successful, ✖ failed, ? inconclusive,
⚠ error) and its measurements with their values, times and messages, so that a failed
run shows why it failed.

Arguments taken from a Secret are shown as <secret>, never with their value.`

// GetAnalysisRunOptions are the options of `get analysisrun`.
type GetAnalysisRunOptions struct {
	getOptions
}

// NewCmdGetAnalysisRun returns the `get analysisrun` command.
func NewCmdGetAnalysisRun(o *Options) *cobra.Command {
	g := &GetAnalysisRunOptions{getOptions{Options: o}}
	cmd := &cobra.Command{
		Use:     "analysisrun NAME",
		Aliases: []string{"ar", "analysisruns"},
		Short:   "Get details about an analysis run",
		Long:    getAnalysisRunLong,
		Example: o.Example(`
  # See why an analysis run failed
  %[1]s get analysisrun guestbook-6c5d4b8f9-2

  # Watch the measurements of a running analysis
  %[1]s get ar guestbook-6c5d4b8f9-2 -w`),
		Args: exactArgs("NAME"),
		RunE: runVerb(g),
	}
	g.addFlags(cmd, "the analysis run")
	return cmd
}

// Run prints the run once, or redraws it on every change with --watch.
func (g *GetAnalysisRunOptions) Run(ctx context.Context) error {
	run, err := actions.GetAnalysisRun(ctx, g.client, g.key)
	if err != nil {
		return err
	}
	newList := func() client.ObjectList { return &v1alpha1.AnalysisRunList{} }
	return display(ctx, &g.getOptions, run, namedSource("AnalysisRun", newList, g.key), nil, g.render)
}

// render gets no children: `get analysisrun` follows the run alone.
func (g *GetAnalysisRunOptions) render(w io.Writer, run *v1alpha1.AnalysisRun, _ [][]client.Object) error {
	return rolloutinfo.RenderRun(w, rolloutinfo.NewRun(run), g.renderOptions())
}
