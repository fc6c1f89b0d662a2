// Package cli implements the kubectl plugin's commands in kubectl style: each verb has
// a NewCmdX constructor and an options struct with Complete (read flags and arguments),
// Validate (check them) and Run (do the work). Rendering lives in internal/rolloutinfo
// and the writes in internal/actions, so that the commands stay thin.
package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

const rootExample = `
  # Get a rollout and watch its progress
  %[1]s get rollout guestbook -w

  # Pause the guestbook rollout
  %[1]s pause guestbook

  # Promote the guestbook rollout
  %[1]s promote guestbook

  # Abort the guestbook rollout
  %[1]s abort guestbook

  # Retry the guestbook rollout
  %[1]s retry rollout guestbook

  # See why an analysis run failed
  %[1]s get analysisrun guestbook-6c5d4b8f9-2

  # Check a manifest before applying it (no cluster needed)
  %[1]s lint -f guestbook.yaml`

// completionExample shows both ways to complete: the plugin run on its own, and through
// kubectl, which (since 1.26) asks an executable named kubectl_complete-<plugin>.
const completionExample = `
  # Load completions for bash in the current shell
  source <(%[2]s completion bash)

  # Complete '%[1]s ...' in kubectl's own completion: kubectl runs
  # kubectl_complete-<plugin> with the words typed so far
  printf '#!/bin/sh\nexec %[2]s __complete "$@"\n' > ~/bin/kubectl_complete-%[3]s
  chmod +x ~/bin/kubectl_complete-%[3]s`

// NewRootCommand returns the plugin's root command with every verb.
func NewRootCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   o.BinaryName + " COMMAND",
		Short: "Manage rollouts of the argoproj.io/v1alpha1 API",
		Long: "This command consists of multiple subcommands which can be used to manage rollouts, " +
			"experiments and analysis runs (argoproj.io/v1alpha1) served by Tern or Argo Rollouts.",
		Example:      o.Example(rootExample),
		SilenceUsage: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return o.setupLogging()
		},
		RunE: func(c *cobra.Command, _ []string) error {
			return c.Help()
		},
	}
	cmd.SetIn(o.In)
	cmd.SetOut(o.Out)
	cmd.SetErr(o.ErrOut)
	o.addGlobalFlags(cmd)
	cmd.AddCommand(
		NewCmdVersion(o),
		NewCmdGet(o),
		NewCmdList(o),
		NewCmdStatus(o),
		NewCmdPromote(o),
		NewCmdAbort(o),
		NewCmdRetry(o),
		NewCmdPause(o),
		NewCmdRestart(o),
		NewCmdUndo(o),
		NewCmdSet(o),
		NewCmdTerminate(o),
		NewCmdLint(o),
		NewCmdCreate(o),
	)
	// Cobra adds `completion` on its own; create it now to give it an example too.
	cmd.InitDefaultCompletionCmd()
	for _, c := range cmd.Commands() {
		if c.Name() == "completion" {
			c.Example = strings.TrimLeft(fmt.Sprintf(completionExample,
				o.CommandPath(), o.BinaryName, strings.TrimPrefix(o.BinaryName, "kubectl-")), "\n")
		}
	}
	return cmd
}

// parentRunE makes a command that only groups others print its help when run alone.
func parentRunE(c *cobra.Command, _ []string) error {
	return c.Help()
}
