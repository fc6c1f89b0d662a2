package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
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
	*Options
	Watch          bool
	NoColor        bool
	TimeoutSeconds int

	key    types.NamespacedName
	color  bool
	client client.WithWatch
}

// NewCmdGetAnalysisRun returns the `get analysisrun` command.
func NewCmdGetAnalysisRun(o *Options) *cobra.Command {
	g := &GetAnalysisRunOptions{Options: o}
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
	cmd.Flags().BoolVarP(&g.Watch, "watch", "w", false, "Watch live updates to the analysis run")
	cmd.Flags().BoolVar(&g.NoColor, "no-color", false, "Do not colorize output")
	cmd.Flags().IntVar(&g.TimeoutSeconds, "timeout-seconds", 0, "Stop watching after this many seconds (0: never)")
	return cmd
}

// Complete reads the arguments and builds the client.
func (g *GetAnalysisRunOptions) Complete(args []string) error {
	ns, err := g.Namespace()
	if err != nil {
		return err
	}
	g.key = types.NamespacedName{Namespace: ns, Name: args[0]}
	g.color = useColor(g.Out, g.NoColor)
	g.client, err = g.NewClient()
	return err
}

// Validate checks the flags.
func (g *GetAnalysisRunOptions) Validate() error {
	if g.TimeoutSeconds < 0 {
		return fmt.Errorf("--timeout-seconds must not be negative, got %d", g.TimeoutSeconds)
	}
	return nil
}

// Run prints the run once, or redraws it on every change with --watch.
func (g *GetAnalysisRunOptions) Run(ctx context.Context) error {
	run, err := actions.GetAnalysisRun(ctx, g.client, g.key)
	if err != nil {
		return err
	}
	if !g.Watch {
		return g.render(g.Out, run)
	}
	ctx, cancel := withTimeout(ctx, g.TimeoutSeconds)
	defer cancel()
	newList := func() client.ObjectList { return &v1alpha1.AnalysisRunList{} }
	l := newLive(g.client, []source{namedSource("AnalysisRun", newList, g.key)})
	return redraw(ctx, g.Out, l, func(buf *bytes.Buffer) (bool, error) {
		runs := l.mirrors[0].items()
		if len(runs) == 0 {
			return false, nil
		}
		return true, g.render(buf, runs[0].(*v1alpha1.AnalysisRun))
	})
}

func (g *GetAnalysisRunOptions) render(w io.Writer, run *v1alpha1.AnalysisRun) error {
	return rolloutinfo.RenderRun(w, rolloutinfo.NewRun(run), rolloutinfo.RenderOptions{Now: g.Now(), Color: g.color})
}
