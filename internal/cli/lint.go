package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// LintOptions are the options of `lint`.
type LintOptions struct {
	*Options
	Files []string
}

// NewCmdLint returns the `lint` command.
func NewCmdLint(o *Options) *cobra.Command {
	l := &LintOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "lint -f FILE",
		Short: "Lint and validate a Rollout and the objects around it",
		Long: `Check a manifest offline, without a cluster: every Rollout, AnalysisTemplate,
ClusterAnalysisTemplate, AnalysisRun and Experiment in it (a file may hold several
documents) is decoded strictly against the argoproj.io/v1alpha1 types, so that unknown
or misspelled fields are reported with their path, then validated as the controller
would. Objects of other APIs (Services, Ingresses...) are skipped.

Each problem is printed on its own line as
  <file>: <kind>/<name>: <field path>: <message>
and the command exits with status 1. A clean manifest prints nothing and exits 0.`,
		Example: o.Example(`
  # Lint a rollout manifest
  %[1]s lint -f my-rollout.yaml

  # Lint several files, or standard input
  %[1]s lint -f rollout.yaml -f analysis.yaml
  cat rollout.yaml | %[1]s lint -f -`),
		Args: exactArgs(),
		RunE: runVerb(l),
	}
	cmd.Flags().StringArrayVarP(&l.Files, "filename", "f", nil, "File to lint (- for standard input); may be repeated")
	return cmd
}

// Complete has nothing to resolve: lint never talks to a cluster.
func (l *LintOptions) Complete([]string) error { return nil }

// Validate requires a file.
func (l *LintOptions) Validate() error {
	if len(l.Files) == 0 {
		return fmt.Errorf("lint needs a file: pass it with -f FILE (or -f - for standard input)")
	}
	return nil
}

// Run prints every problem of every file and fails when there is one.
func (l *LintOptions) Run(context.Context) error {
	total := 0
	for _, path := range l.Files {
		n, err := l.lint(path)
		if err != nil {
			return err
		}
		total += n
	}
	if total > 0 {
		return fmt.Errorf("lint found %d problem(s)", total)
	}
	return nil
}

// lint prints the problems of one file and counts them.
func (l *LintOptions) lint(path string) (int, error) {
	data, err := readManifest(path, l.In)
	if err != nil {
		return 0, err
	}
	name := path
	if path == "-" {
		name = "<stdin>"
	}
	docs, err := decodeManifest(data)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	n := 0
	for _, d := range docs {
		for _, p := range d.problems {
			printProblem(l.Out, name, &d, p)
			n++
		}
	}
	return n, nil
}

func printProblem(w interface{ Write([]byte) (int, error) }, file string, d *document, p problem) {
	if p.field == "" {
		fmt.Fprintf(w, "%s: %s: %s\n", file, d.label(), p.message)
		return
	}
	fmt.Fprintf(w, "%s: %s: %s: %s\n", file, d.label(), p.field, p.message)
}
