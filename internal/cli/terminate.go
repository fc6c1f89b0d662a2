package cli

import (
	"github.com/spf13/cobra"

	"github.com/tern-rollouts/tern/internal/actions"
)

// NewCmdTerminate returns the `terminate` command group.
func NewCmdTerminate(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "terminate <analysisrun|experiment> NAME",
		Short: "Terminate an analysis run or experiment",
		Long: `Stop an analysis run or an experiment before it ends on its own, by setting
spec.terminate. The controller stops measuring (or scales the experiment down) and
keeps what was measured.`,
		Example: o.Example(`
  # Terminate an analysis run
  %[1]s terminate analysisrun guestbook-6c5d4b8f9-2

  # Terminate an experiment
  %[1]s terminate experiment my-experiment`),
		RunE: parentRunE,
	}
	run := newSimpleVerb(o, "analysisrun '%s' terminated", actions.TerminateAnalysisRun)
	exp := newSimpleVerb(o, "experiment '%s' terminated", actions.TerminateExperiment)
	cmd.AddCommand(&cobra.Command{
		Use:     "analysisrun NAME",
		Aliases: []string{"ar", "analysisruns"},
		Short:   "Terminate an analysis run",
		Long: `Terminate an analysis run: it takes no more measurements, and its phase is decided by
the measurements it already has (Successful when it has none).`,
		Example: o.Example(`
  # Terminate an analysis run
  %[1]s terminate analysisrun guestbook-6c5d4b8f9-2`),
		Args: exactArgs("NAME"),
		RunE: runVerb(run),
	}, &cobra.Command{
		Use:     "experiment NAME",
		Aliases: []string{"exp", "experiments"},
		Short:   "Terminate an experiment",
		Long:    "Terminate an experiment: its analysis runs are terminated and its ReplicaSets scaled down.",
		Example: o.Example(`
  # Terminate an experiment
  %[1]s terminate experiment my-experiment`),
		Args: exactArgs("NAME"),
		RunE: runVerb(exp),
	})
	return cmd
}
