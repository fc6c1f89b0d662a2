package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/actions"
	"github.com/tern-rollouts/tern/internal/phase"
)

// StatusOptions are the options of `status`.
type StatusOptions struct {
	target
	Watch   bool
	Timeout time.Duration
}

// NewCmdStatus returns the `status` command.
func NewCmdStatus(o *Options) *cobra.Command {
	s := &StatusOptions{target: target{Options: o}}
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show the status of a rollout",
		Long: `Watch a rollout until it is Healthy or Degraded, or until the timeout. Each change of
status is printed as "<Phase> - <Message>". Exits with an error when the rollout is
Degraded or the timeout is reached.`,
		Example: o.Example(`
  # Watch the rollout until it is healthy
  %[1]s status guestbook

  # Give up after 60 seconds
  %[1]s status guestbook --timeout 60s

  # Print the status once
  %[1]s status guestbook --watch=false`),
		Args: exactArgs("NAME"),
		RunE: runVerb(s),
	}
	cmd.Flags().BoolVarP(&s.Watch, "watch", "w", true, "Watch the status of the rollout until it's done")
	cmd.Flags().DurationVarP(&s.Timeout, "timeout", "t", 0,
		"The length of time to watch before giving up, e.g. 30s, 2m (0: wait forever)")
	return cmd
}

// Complete reads the arguments.
func (s *StatusOptions) Complete(args []string) error { return s.complete(args[0]) }

// Validate checks the timeout.
func (s *StatusOptions) Validate() error {
	if s.Timeout < 0 {
		return fmt.Errorf("--timeout must not be negative, got %s", s.Timeout)
	}
	return nil
}

// errTimeout is returned when the rollout did not finish in time. The capitals of this
// and the degraded message are upstream's, which scripts may match.
var errTimeout = errors.New("Rollout status watch exceeded timeout") //nolint:staticcheck // ST1005: upstream wording

func finished(p v1alpha1.RolloutPhase) bool {
	return p == v1alpha1.RolloutPhaseHealthy || p == v1alpha1.RolloutPhaseDegraded
}

func degraded(msg string) error {
	return fmt.Errorf("The rollout is in a degraded state with message: %s", msg) //nolint:staticcheck // ST1005: upstream wording
}

// Run prints the status once, or each change of it until the rollout is done.
func (s *StatusOptions) Run(ctx context.Context) error {
	ro, err := actions.GetRollout(ctx, s.client, s.key)
	if err != nil {
		return err
	}
	if !s.Watch {
		ph, msg := phase.ForClient(ro)
		if finished(ph) || msg == "" {
			fmt.Fprintln(s.Out, ph)
		} else {
			fmt.Fprintf(s.Out, "%s - %s\n", ph, msg)
		}
		if ph == v1alpha1.RolloutPhaseDegraded {
			return degraded(msg)
		}
		return nil
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := newLive(s.client, []source{rolloutSource(s.key)})
	l.start(ctx)
	var shown string
	for {
		// The first list delivers the current state, so the loop starts by waiting.
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return errTimeout
			}
			return ctx.Err()
		case <-l.changed:
		}
		items := l.mirrors[0].items()
		if len(items) == 0 {
			continue
		}
		ph, msg := phase.ForClient(items[0].(*v1alpha1.Rollout))
		line := string(ph)
		if msg != "" {
			line += " - " + msg
		}
		if line != shown {
			fmt.Fprintln(s.Out, line)
			shown = line
		}
		switch ph {
		case v1alpha1.RolloutPhaseHealthy:
			return nil
		case v1alpha1.RolloutPhaseDegraded:
			return degraded(msg)
		}
	}
}
