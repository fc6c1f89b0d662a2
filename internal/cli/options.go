package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	ternscheme "github.com/tern-rollouts/tern/internal/scheme"
)

// Binary names the plugin answers to. kubectl finds a plugin by its file name, so the
// same binary serves `kubectl tern` and, installed under the upstream name,
// `kubectl argo rollouts`.
const (
	BinaryName         = "kubectl-tern"
	UpstreamBinaryName = "kubectl-argo-rollouts"
)

// Options are shared by every command: the streams, the usual kubectl client flags and
// the way to build a client. Commands keep their own flags in their own options struct.
type Options struct {
	genericiooptions.IOStreams

	ConfigFlags *genericclioptions.ConfigFlags
	// BinaryName is the name the plugin was invoked as (kubectl-tern or
	// kubectl-argo-rollouts); it shows in usage lines, examples and `version`.
	BinaryName string
	LogLevel   string
	KlogLevel  int

	// NewClient builds the API client; tests swap in a fake.
	NewClient func() (client.WithWatch, error)
	// Now is the clock, injected so that output with ages or times is testable.
	Now func() time.Time
}

// NewOptions returns options writing to streams, for a binary invoked as argv0.
func NewOptions(streams genericiooptions.IOStreams, argv0 string) *Options {
	o := &Options{
		IOStreams:   streams,
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		BinaryName:  BinaryName,
		LogLevel:    "info",
		Now:         time.Now,
	}
	if base := baseName(argv0); base == UpstreamBinaryName {
		o.BinaryName = base
	}
	o.NewClient = o.defaultClient
	return o
}

func baseName(argv0 string) string {
	base := argv0[strings.LastIndexAny(argv0, `/\`)+1:]
	return strings.TrimSuffix(base, ".exe")
}

// CommandPath is how users type the plugin: "kubectl tern" or "kubectl argo rollouts".
func (o *Options) CommandPath() string {
	return strings.ReplaceAll(o.BinaryName, "-", " ")
}

// Example fills the plugin's command path into an example text, where it says %[1]s.
func (o *Options) Example(text string) string {
	return strings.TrimLeft(fmt.Sprintf(text, o.CommandPath()), "\n")
}

func (o *Options) defaultClient() (client.WithWatch, error) {
	cfg, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	// The same client budget as the upstream plugin: a watch of several kinds at once
	// must not be throttled by client-go's default of 5 requests per second.
	cfg.QPS, cfg.Burst = 40, 80
	scheme, err := ternscheme.New()
	if err != nil {
		return nil, err
	}
	return client.NewWithWatch(cfg, client.Options{Scheme: scheme})
}

// Namespace is the namespace of -n, else of the kubeconfig context, else "default".
func (o *Options) Namespace() (string, error) {
	ns, _, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

// addGlobalFlags adds the kubectl client flags and the logging flags.
func (o *Options) addGlobalFlags(cmd *cobra.Command) {
	flags := cmd.PersistentFlags()
	o.ConfigFlags.AddFlags(flags)
	flags.StringVar(&o.LogLevel, "loglevel", o.LogLevel, "Log level for the plugin: debug, info, warn or error")
	flags.IntVarP(&o.KlogLevel, "kloglevel", "v", o.KlogLevel, "Log level for the Kubernetes client library (klog)")
}

// setupLogging routes the plugin's logs, and those of controller-runtime, to stderr at
// --loglevel, and sets klog's verbosity from --kloglevel.
func (o *Options) setupLogging() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return fmt.Errorf("invalid --loglevel %q: use debug, info, warn or error", o.LogLevel)
	}
	handler := slog.NewTextHandler(o.ErrOut, &slog.HandlerOptions{Level: level})
	slog.SetDefault(slog.New(handler))
	// Without a logger, controller-runtime prints a warning with a stack trace the
	// first time it logs.
	ctrllog.SetLogger(logr.FromSlogHandler(handler))
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	return fs.Set("v", strconv.Itoa(o.KlogLevel))
}

// useColor reports whether to write ANSI colours to out: only to a terminal, and never
// with --no-color or TERM=dumb.
func useColor(out io.Writer, noColor bool) bool {
	return !noColor && os.Getenv("TERM") != "dumb" && isTerminal(out)
}

func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// exactArgs checks the number of positional arguments and names the missing ones.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(names) == 0 {
			return fmt.Errorf("%q takes no arguments, got %d\nSee '%s --help' for usage",
				cmd.CommandPath(), len(args), cmd.CommandPath())
		}
		return fmt.Errorf("%q needs %s, got %d argument(s)\nSee '%s --help' for usage",
			cmd.CommandPath(), strings.Join(names, " "), len(args), cmd.CommandPath())
	}
}
