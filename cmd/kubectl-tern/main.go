// Command kubectl-tern is the kubectl plugin of Tern. Installed as kubectl-tern it runs
// as `kubectl tern ...`; installed (or linked) as kubectl-argo-rollouts it runs as
// `kubectl argo rollouts ...`, with the same verbs and output as the upstream plugin.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/tern-rollouts/tern/internal/cli"
)

func main() {
	// An interrupt ends a watch cleanly instead of killing the process mid-write.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := cli.NewRootCommand(cli.NewOptions(streams, os.Args[0]))
	if err := cmd.ExecuteContext(ctx); err != nil {
		stop()
		os.Exit(1)
	}
}
