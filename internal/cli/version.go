package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tern-rollouts/tern/internal/cli/version"
)

const versionExample = `
  # Print the full version information
  %[1]s version

  # Print only the version number
  %[1]s version --short`

// VersionOptions are the options of `version`.
type VersionOptions struct {
	*Options
	Short bool
}

// NewCmdVersion returns the `version` command.
func NewCmdVersion(o *Options) *cobra.Command {
	vo := &VersionOptions{Options: o}
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print version",
		Long:    "Show the version and build information of the plugin.",
		Example: o.Example(versionExample),
		Args:    exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			return vo.Run()
		},
	}
	cmd.Flags().BoolVar(&vo.Short, "short", false, "Print just the version number")
	return cmd
}

// Run prints the version, prefixed with the name the plugin was invoked as.
func (o *VersionOptions) Run() error {
	v := version.Get()
	fmt.Fprintf(o.Out, "%s: %s\n", o.BinaryName, v.Version)
	if o.Short {
		return nil
	}
	fmt.Fprintf(o.Out, "  BuildDate: %s\n", v.BuildDate)
	fmt.Fprintf(o.Out, "  GitCommit: %s\n", v.GitCommit)
	fmt.Fprintf(o.Out, "  GitTreeState: %s\n", v.GitTreeState)
	fmt.Fprintf(o.Out, "  GoVersion: %s\n", v.GoVersion)
	fmt.Fprintf(o.Out, "  Compiler: %s\n", v.Compiler)
	fmt.Fprintf(o.Out, "  Platform: %s\n", v.Platform)
	return nil
}
