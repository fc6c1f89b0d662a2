package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/actions"
	"github.com/tern-rollouts/tern/internal/rolloutinfo"
)

const (
	getExample = `
  # Get a rollout
  %[1]s get rollout guestbook

  # Watch a rollout's progress
  %[1]s get rollout guestbook -w`

	getGroupExample = getExample + `

  # Get an experiment
  %[1]s get experiment my-experiment

  # See why an analysis run failed
  %[1]s get analysisrun guestbook-6c5d4b8f9-2`

	getRolloutLong = `Get details about and a visual representation of a rollout: its status, strategy,
step and weights, images, replica counts, and a tree of its revisions with their
ReplicaSets, pods, AnalysisRuns and Experiments.

Tree view icons

  ⟳ Rollout   # Revision   ⧉ ReplicaSet   □ Pod   Σ Experiment   α AnalysisRun   ⊞ Job`

	// clearScreen moves the cursor home and clears the terminal before a redraw.
	clearScreen = "\033[H\033[2J"
	// minRedraw is the shortest time between two redraws, so that a burst of events
	// does not make the terminal flicker.
	minRedraw = 200 * time.Millisecond
	// refresh redraws from memory (never from the API) so that ages stay current.
	refresh = time.Second
)

// NewCmdGet returns the `get` command group.
func NewCmdGet(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "get <rollout|experiment|analysisrun> NAME",
		Short:   "Get details about rollouts, experiments and analysis runs",
		Long:    "This command consists of subcommands that show extended information about a rollout, an experiment or an analysis run.",
		Example: o.Example(getGroupExample),
		RunE:    parentRunE,
	}
	cmd.AddCommand(NewCmdGetRollout(o), NewCmdGetExperiment(o), NewCmdGetAnalysisRun(o))
	return cmd
}

// getOptions are the flags and state that `get rollout`, `get experiment` and
// `get analysisrun` share, so that the three behave alike.
type getOptions struct {
	*Options
	Watch          bool
	NoColor        bool
	TimeoutSeconds int

	key    types.NamespacedName
	color  bool
	client client.WithWatch
}

// addFlags registers the flags; what names the object in the help of --watch.
func (g *getOptions) addFlags(cmd *cobra.Command, what string) {
	cmd.Flags().BoolVarP(&g.Watch, "watch", "w", false, "Watch live updates to "+what)
	cmd.Flags().BoolVar(&g.NoColor, "no-color", false, "Do not colorize output")
	cmd.Flags().IntVar(&g.TimeoutSeconds, "timeout-seconds", 0, "Stop watching after this many seconds (0: never)")
}

// Complete reads the arguments and builds the client.
func (g *getOptions) Complete(args []string) error {
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
func (g *getOptions) Validate() error {
	if g.TimeoutSeconds < 0 {
		return fmt.Errorf("--timeout-seconds must not be negative, got %d", g.TimeoutSeconds)
	}
	return nil
}

func (g *getOptions) renderOptions() rolloutinfo.RenderOptions {
	return rolloutinfo.RenderOptions{Now: g.Now(), Color: g.color}
}

// display prints obj, already read, with its children once; with --watch it follows
// obj (through self) and its children instead, and redraws on every change.
func display[T client.Object](ctx context.Context, g *getOptions, obj T, self source, children []source,
	render func(w io.Writer, obj T, children [][]client.Object) error) error {
	if !g.Watch {
		lists, err := fetch(ctx, g.client, children)
		if err != nil {
			return err
		}
		return render(g.Out, obj, lists)
	}
	ctx, cancel := withTimeout(ctx, g.TimeoutSeconds)
	defer cancel()
	l := newLive(g.client, append([]source{self}, children...))
	return redraw(ctx, g.Out, l, func(buf *bytes.Buffer) (bool, error) {
		objs := l.mirrors[0].items()
		if len(objs) == 0 {
			return false, nil
		}
		lists := make([][]client.Object, 0, len(l.mirrors)-1)
		for _, m := range l.mirrors[1:] {
			lists = append(lists, m.items())
		}
		return true, render(buf, objs[0].(T), lists)
	})
}

// GetRolloutOptions are the options of `get rollout`.
type GetRolloutOptions struct {
	getOptions
}

// NewCmdGetRollout returns the `get rollout` command.
func NewCmdGetRollout(o *Options) *cobra.Command {
	g := &GetRolloutOptions{getOptions{Options: o}}
	cmd := &cobra.Command{
		Use:     "rollout NAME",
		Aliases: []string{"ro", "rollouts"},
		Short:   "Get details about a rollout",
		Long:    getRolloutLong,
		Example: o.Example(getExample),
		Args:    exactArgs("NAME"),
		RunE:    runVerb(g),
	}
	g.addFlags(cmd, "the rollout")
	return cmd
}

// Run prints the rollout once, or redraws it on every change with --watch.
func (g *GetRolloutOptions) Run(ctx context.Context) error {
	ro, err := actions.GetRollout(ctx, g.client, g.key)
	if err != nil {
		return err
	}
	children, err := childSources(ro)
	if err != nil {
		return err
	}
	return display(ctx, &g.getOptions, ro, rolloutSource(g.key), children, g.render)
}

func (g *GetRolloutOptions) render(w io.Writer, ro *v1alpha1.Rollout, children [][]client.Object) error {
	info := rolloutinfo.New(objectsOf(ro, children...))
	return rolloutinfo.Render(w, info, g.renderOptions())
}
