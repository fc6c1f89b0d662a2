package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/internal/actions"
)

// target is what every verb on one named object needs: where it is and a client.
type target struct {
	*Options
	key    types.NamespacedName
	client client.WithWatch
}

func (t *target) complete(name string) error {
	ns, err := t.Namespace()
	if err != nil {
		return err
	}
	t.key = types.NamespacedName{Namespace: ns, Name: name}
	t.client, err = t.NewClient()
	return err
}

// verb is the shape shared by the commands below.
type verb interface {
	Complete(args []string) error
	Validate() error
	Run(ctx context.Context) error
}

func runVerb(v verb) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		if err := v.Complete(args); err != nil {
			return err
		}
		if err := v.Validate(); err != nil {
			return err
		}
		return v.Run(c.Context())
	}
}

// simpleVerb is a verb with no flags that calls one action and prints one line.
type simpleVerb struct {
	target
	act  func(ctx context.Context, c client.Client, key types.NamespacedName) error
	done string // printed with the name, e.g. "rollout '%s' aborted"
}

// newSimpleVerb wraps an action whose result the command does not print.
func newSimpleVerb[T any](o *Options, done string, act func(context.Context, client.Client, types.NamespacedName) (T, error)) *simpleVerb {
	return &simpleVerb{target: target{Options: o}, done: done,
		act: func(ctx context.Context, c client.Client, key types.NamespacedName) error {
			_, err := act(ctx, c, key)
			return err
		}}
}

func (v *simpleVerb) Complete(args []string) error { return v.complete(args[0]) }
func (v *simpleVerb) Validate() error              { return nil }
func (v *simpleVerb) Run(ctx context.Context) error {
	if err := v.act(ctx, v.client, v.key); err != nil {
		return err
	}
	fmt.Fprintf(v.Out, v.done+"\n", v.key.Name)
	return nil
}

// PromoteOptions are the options of `promote`.
type PromoteOptions struct {
	target
	Full bool
	// SkipCurrentStep and SkipAllSteps are the upstream plugin's deprecated flags, kept
	// hidden so that existing scripts still work.
	SkipCurrentStep bool
	SkipAllSteps    bool
}

const promoteExample = `
  # Promote a paused rollout
  %[1]s promote guestbook

  # Fully promote a rollout to the desired version, skipping analysis, pauses and steps
  %[1]s promote guestbook --full`

// NewCmdPromote returns the `promote` command.
func NewCmdPromote(o *Options) *cobra.Command {
	p := &PromoteOptions{target: target{Options: o}}
	cmd := &cobra.Command{
		Use:   "promote NAME",
		Short: "Promote a rollout",
		Long: `Promote a rollout paused at a canary step or a blue-green rollout paused before
switching its active service. A canary in the middle of an analysis or experiment step
moves on to the next step. Use --full to skip every remaining step, pause and analysis.`,
		Example: o.Example(promoteExample),
		Args:    exactArgs("NAME"),
		RunE:    runVerb(p),
	}
	cmd.Flags().BoolVar(&p.Full, "full", false, "Perform a full promotion, skipping analysis, pauses, and steps")
	cmd.Flags().BoolVarP(&p.SkipCurrentStep, "skip-current-step", "c", false, "Skip the current canary step")
	cmd.Flags().BoolVarP(&p.SkipAllSteps, "skip-all-steps", "a", false, "Skip the remaining canary steps")
	// Hidden rather than marked deprecated: cobra would print the deprecation notice to
	// stdout, among the output scripts read.
	_ = cmd.Flags().MarkHidden("skip-current-step")
	_ = cmd.Flags().MarkHidden("skip-all-steps")
	return cmd
}

// Complete reads the arguments.
func (p *PromoteOptions) Complete(args []string) error { return p.complete(args[0]) }

// Validate rejects contradictory flags.
func (p *PromoteOptions) Validate() error {
	if p.SkipCurrentStep && p.SkipAllSteps {
		return fmt.Errorf("cannot use --skip-current-step and --skip-all-steps at the same time")
	}
	if p.Full && (p.SkipCurrentStep || p.SkipAllSteps) {
		return fmt.Errorf("--full already skips every step: drop --skip-current-step/--skip-all-steps")
	}
	return nil
}

// Run promotes.
func (p *PromoteOptions) Run(ctx context.Context) error {
	var err error
	if p.SkipCurrentStep || p.SkipAllSteps {
		if p.SkipAllSteps {
			fmt.Fprintln(p.ErrOut, "Flag --skip-all-steps has been deprecated, use --full instead")
		} else {
			fmt.Fprintln(p.ErrOut, "Flag --skip-current-step has been deprecated, use promote without flags instead")
		}
		_, err = actions.SkipSteps(ctx, p.client, p.key, p.SkipAllSteps)
	} else {
		_, err = actions.Promote(ctx, p.client, p.key, p.Full)
	}
	if err != nil {
		return err
	}
	if p.Full {
		fmt.Fprintf(p.Out, "rollout '%s' fully promoted\n", p.key.Name)
	} else {
		fmt.Fprintf(p.Out, "rollout '%s' promoted\n", p.key.Name)
	}
	return nil
}

// NewCmdAbort returns the `abort` command.
func NewCmdAbort(o *Options) *cobra.Command {
	v := newSimpleVerb(o, "rollout '%s' aborted", actions.Abort)
	return &cobra.Command{
		Use:   "abort NAME",
		Short: "Abort a rollout",
		Long: `Abort the update in progress: the stable version takes all traffic again and the new
pods are scaled down. The rollout stays Degraded until its spec goes back to the stable
version, or until 'retry rollout' starts the update again.`,
		Example: o.Example(`
  # Abort a rollout
  %[1]s abort guestbook`),
		Args: exactArgs("NAME"),
		RunE: runVerb(v),
	}
}

// NewCmdPause returns the `pause` command.
func NewCmdPause(o *Options) *cobra.Command {
	v := newSimpleVerb(o, "rollout '%s' paused", actions.Pause)
	return &cobra.Command{
		Use:   "pause NAME",
		Short: "Pause a rollout",
		Long:  "Pause a rollout at its current step by setting spec.paused. Resume it with 'promote'.",
		Example: o.Example(`
  # Pause a rollout
  %[1]s pause guestbook`),
		Args: exactArgs("NAME"),
		RunE: runVerb(v),
	}
}

// NewCmdRetry returns the `retry` command group.
func NewCmdRetry(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retry <rollout|experiment> NAME",
		Short: "Retry a rollout or experiment",
		Example: o.Example(`
  # Retry an aborted rollout
  %[1]s retry rollout guestbook

  # Retry an experiment
  %[1]s retry experiment my-experiment`),
		RunE: parentRunE,
	}
	ro := newSimpleVerb(o, "rollout '%s' retried", actions.Retry)
	exp := newSimpleVerb(o, "experiment '%s' retried", actions.RetryExperiment)
	cmd.AddCommand(&cobra.Command{
		Use:     "rollout NAME",
		Aliases: []string{"ro", "rollouts"},
		Short:   "Retry an aborted rollout",
		Long:    "Clear status.abort so that the aborted update starts again from its first step, with new analysis runs.",
		Example: o.Example(`
  # Retry an aborted rollout
  %[1]s retry rollout guestbook`),
		Args: exactArgs("NAME"),
		RunE: runVerb(ro),
	}, &cobra.Command{
		Use:     "experiment NAME",
		Aliases: []string{"exp", "experiments"},
		Short:   "Retry an experiment",
		Long:    "Clear the status of an experiment so that the controller runs it again.",
		Example: o.Example(`
  # Retry an experiment
  %[1]s retry experiment my-experiment`),
		Args: exactArgs("NAME"),
		RunE: runVerb(exp),
	})
	return cmd
}

// RestartOptions are the options of `restart`.
type RestartOptions struct {
	target
	In string

	delay time.Duration
}

// NewCmdRestart returns the `restart` command.
func NewCmdRestart(o *Options) *cobra.Command {
	r := &RestartOptions{target: target{Options: o}}
	cmd := &cobra.Command{
		Use:   "restart NAME",
		Short: "Restart the pods of a rollout",
		Long: `Restart the pods of a rollout: every pod created before the restart time is evicted
and replaced, a few at a time, without changing the pod template.`,
		Example: o.Example(`
  # Restart the pods of a rollout now
  %[1]s restart guestbook

  # Restart the pods of a rollout in ten seconds
  %[1]s restart guestbook --in 10s`),
		Args: exactArgs("NAME"),
		RunE: runVerb(r),
	}
	cmd.Flags().StringVarP(&r.In, "in", "i", "", "Amount of time before a restart (e.g. 30s, 5m, 1h)")
	return cmd
}

// Complete reads the arguments and the delay.
func (r *RestartOptions) Complete(args []string) error {
	if r.In == "" {
		r.In = "0s"
	}
	var err error
	if r.delay, err = time.ParseDuration(r.In); err != nil {
		return fmt.Errorf("invalid --in %q: use a duration such as 30s, 5m or 1h", r.In)
	}
	return r.complete(args[0])
}

// Validate checks the delay.
func (r *RestartOptions) Validate() error {
	if r.delay < 0 {
		return fmt.Errorf("--in must not be negative, got %s", r.In)
	}
	return nil
}

// Run sets spec.restartAt.
func (r *RestartOptions) Run(ctx context.Context) error {
	if _, err := actions.Restart(ctx, r.client, r.key, r.Now().Add(r.delay)); err != nil {
		return err
	}
	fmt.Fprintf(r.Out, "rollout '%s' restarts in %s\n", r.key.Name, r.In)
	return nil
}

// UndoOptions are the options of `undo`.
type UndoOptions struct {
	target
	ToRevision int64
}

// NewCmdUndo returns the `undo` command.
func NewCmdUndo(o *Options) *cobra.Command {
	u := &UndoOptions{target: target{Options: o}}
	cmd := &cobra.Command{
		Use:   "undo NAME",
		Short: "Undo a rollout",
		Long: `Roll back to an earlier revision: put the pod template of that revision back into
the rollout (or into the workload it references). Without --to-revision, the revision
before the newest is used.`,
		Example: o.Example(`
  # Undo a rollout to the previous revision
  %[1]s undo guestbook

  # Undo a rollout to revision 3
  %[1]s undo guestbook --to-revision=3`),
		Args: exactArgs("NAME"),
		RunE: runVerb(u),
	}
	cmd.Flags().Int64Var(&u.ToRevision, "to-revision", 0, "The revision to roll back to (0: the previous revision)")
	return cmd
}

// Complete reads the arguments.
func (u *UndoOptions) Complete(args []string) error { return u.complete(args[0]) }

// Validate checks the revision.
func (u *UndoOptions) Validate() error {
	if u.ToRevision < 0 {
		return fmt.Errorf("--to-revision must not be negative, got %d", u.ToRevision)
	}
	return nil
}

// Run rolls back.
func (u *UndoOptions) Run(ctx context.Context) error {
	res, err := actions.Undo(ctx, u.client, u.key, u.ToRevision)
	if err != nil {
		return err
	}
	if res.Skipped {
		fmt.Fprintf(u.Out, "skipped rollback (current template already matches revision %d)\n", res.Revision)
		return nil
	}
	fmt.Fprintf(u.Out, "rollout '%s' undo\n", u.key.Name)
	return nil
}

// NewCmdSet returns the `set` command group.
func NewCmdSet(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set <image> NAME ...",
		Short: "Update various values on a rollout",
		Example: o.Example(`
  # Set the image of a rollout's container
  %[1]s set image guestbook app=argoproj/rollouts-demo:yellow`),
		RunE: parentRunE,
	}
	cmd.AddCommand(NewCmdSetImage(o))
	return cmd
}

// SetImageOptions are the options of `set image`.
type SetImageOptions struct {
	target
	container, image string
}

// NewCmdSetImage returns the `set image` command.
func NewCmdSetImage(o *Options) *cobra.Command {
	s := &SetImageOptions{target: target{Options: o}}
	return &cobra.Command{
		Use:   "image NAME CONTAINER=IMAGE",
		Short: "Update the image of a rollout",
		Long: `Update the image of a container of a rollout (init, regular and ephemeral containers
alike); the container name * updates every container. A rollout with a workloadRef has the
referenced workload updated instead.`,
		Example: o.Example(`
  # Set the image of the container named app
  %[1]s set image guestbook app=argoproj/rollouts-demo:yellow

  # Set the image of every container
  %[1]s set image guestbook '*=argoproj/rollouts-demo:yellow'`),
		Args: exactArgs("NAME", "CONTAINER=IMAGE"),
		RunE: runVerb(s),
	}
}

// Complete reads the arguments.
func (s *SetImageOptions) Complete(args []string) error {
	container, image, ok := strings.Cut(args[1], "=")
	if !ok {
		return fmt.Errorf("expected CONTAINER=IMAGE, got %q", args[1])
	}
	s.container, s.image = container, image
	return s.complete(args[0])
}

// Validate checks that both sides of CONTAINER=IMAGE are given.
func (s *SetImageOptions) Validate() error {
	if s.container == "" || s.image == "" || strings.Contains(s.image, "=") {
		return fmt.Errorf("expected CONTAINER=IMAGE with both parts set, got %q", s.container+"="+s.image)
	}
	return nil
}

// Run updates the image; the message names the kind updated, which is not a rollout
// when the rollout references a workload.
func (s *SetImageOptions) Run(ctx context.Context) error {
	obj, err := actions.SetImage(ctx, s.client, s.key, s.container, s.image)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "%s %q image updated\n", strings.ToLower(obj.GetKind()), obj.GetName())
	return nil
}
