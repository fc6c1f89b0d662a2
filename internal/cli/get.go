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
		Use:     "get <rollout> NAME",
		Short:   "Get details about a rollout",
		Long:    "This command consists of subcommands that show extended information about a rollout.",
		Example: o.Example(getExample),
		RunE:    parentRunE,
	}
	cmd.AddCommand(NewCmdGetRollout(o))
	return cmd
}

// GetRolloutOptions are the options of `get rollout`.
type GetRolloutOptions struct {
	*Options
	Watch          bool
	NoColor        bool
	TimeoutSeconds int

	key    types.NamespacedName
	color  bool
	client client.WithWatch
}

// NewCmdGetRollout returns the `get rollout` command.
func NewCmdGetRollout(o *Options) *cobra.Command {
	g := &GetRolloutOptions{Options: o}
	cmd := &cobra.Command{
		Use:     "rollout NAME",
		Aliases: []string{"ro", "rollouts"},
		Short:   "Get details about a rollout",
		Long:    getRolloutLong,
		Example: o.Example(getExample),
		Args:    exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			if err := g.Complete(args); err != nil {
				return err
			}
			if err := g.Validate(); err != nil {
				return err
			}
			return g.Run(c.Context())
		},
	}
	cmd.Flags().BoolVarP(&g.Watch, "watch", "w", false, "Watch live updates to the rollout")
	cmd.Flags().BoolVar(&g.NoColor, "no-color", false, "Do not colorize output")
	cmd.Flags().IntVar(&g.TimeoutSeconds, "timeout-seconds", 0, "Stop watching after this many seconds (0: never)")
	return cmd
}

// Complete reads the arguments and builds the client.
func (g *GetRolloutOptions) Complete(args []string) error {
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
func (g *GetRolloutOptions) Validate() error {
	if g.TimeoutSeconds < 0 {
		return fmt.Errorf("--timeout-seconds must not be negative, got %d", g.TimeoutSeconds)
	}
	return nil
}

// Run prints the rollout once, or redraws it on every change with --watch.
func (g *GetRolloutOptions) Run(ctx context.Context) error {
	ro, err := actions.GetRollout(ctx, g.client, g.key)
	if err != nil {
		return err
	}
	sources, err := childSources(ro)
	if err != nil {
		return err
	}
	if !g.Watch {
		lists, err := fetch(ctx, g.client, sources)
		if err != nil {
			return err
		}
		return g.render(g.Out, objectsOf(ro, lists...))
	}
	if g.TimeoutSeconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(g.TimeoutSeconds)*time.Second)
		defer cancel()
	}
	return g.watch(ctx, sources)
}

func (g *GetRolloutOptions) render(w io.Writer, objs rolloutinfo.Objects) error {
	info := rolloutinfo.New(objs)
	return rolloutinfo.Render(w, info, rolloutinfo.RenderOptions{Now: g.Now(), Color: g.color})
}

// watch follows the rollout and its children and redraws after a change, at most every
// minRedraw, and every second for the ages. A redraw that would print the same text is
// skipped. It returns when ctx ends (interrupt or --timeout-seconds).
func (g *GetRolloutOptions) watch(ctx context.Context, children []source) error {
	l := newLive(g.client, append([]source{rolloutSource(g.key)}, children...))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l.start(ctx)
	select {
	case <-ctx.Done():
		return nil
	case <-l.synced:
	}

	clear := isTerminal(g.Out)
	var last time.Time
	var shown []byte
	draw := func() error {
		last = time.Now()
		ros := l.mirrors[0].items()
		if len(ros) == 0 {
			return nil // deleted, or not seen yet: keep the last picture
		}
		lists := make([][]client.Object, 0, len(l.mirrors)-1)
		for _, m := range l.mirrors[1:] {
			lists = append(lists, m.items())
		}
		var buf bytes.Buffer
		if err := g.render(&buf, objectsOf(ros[0].(*v1alpha1.Rollout), lists...)); err != nil {
			return err
		}
		if bytes.Equal(buf.Bytes(), shown) {
			return nil
		}
		var prefix string
		switch {
		case clear:
			prefix = clearScreen
		case shown != nil:
			// Without a terminal to clear, a blank line separates the pictures.
			prefix = "\n"
		}
		shown = buf.Bytes()
		_, err := io.WriteString(g.Out, prefix+string(shown))
		return err
	}
	if err := draw(); err != nil {
		return err
	}
	ticker := time.NewTicker(refresh)
	defer ticker.Stop()
	var throttle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.changed:
			if wait := minRedraw - time.Since(last); wait > 0 {
				if throttle == nil {
					throttle = time.After(wait)
				}
				continue
			}
		case <-throttle:
			throttle = nil
		case <-ticker.C:
		}
		if err := draw(); err != nil {
			return err
		}
	}
}
