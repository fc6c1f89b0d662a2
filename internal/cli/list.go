package cli

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/phase"
	"github.com/tern-rollouts/tern/internal/rolloutinfo"
)

// NewCmdList returns the `list` command group.
func NewCmdList(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list <rollouts|experiments>",
		Short: "List rollouts or experiments",
		Example: o.Example(`
  # List the rollouts of the current namespace
  %[1]s list rollouts

  # List the experiments of every namespace
  %[1]s list experiments -A`),
		RunE: parentRunE,
	}
	cmd.AddCommand(NewCmdListRollouts(o), NewCmdListExperiments(o))
	return cmd
}

// listScope is what every list command needs: the namespace to list (all of them
// with -A) and a client.
type listScope struct {
	*Options
	AllNamespaces bool

	namespace string
	client    client.WithWatch
}

// Complete resolves the namespace and builds the client.
func (l *listScope) Complete([]string) error {
	if !l.AllNamespaces {
		ns, err := l.Namespace()
		if err != nil {
			return err
		}
		l.namespace = ns
	}
	var err error
	l.client, err = l.NewClient()
	return err
}

// Validate has nothing to check.
func (l *listScope) Validate() error { return nil }

// ListRolloutsOptions are the options of `list rollouts`.
type ListRolloutsOptions struct {
	listScope
	Name       string
	Watch      bool
	Timestamps bool
}

// NewCmdListRollouts returns the `list rollouts` command.
func NewCmdListRollouts(o *Options) *cobra.Command {
	l := &ListRolloutsOptions{listScope: listScope{Options: o}}
	cmd := &cobra.Command{
		Use:     "rollouts",
		Aliases: []string{"rollout", "ro"},
		Short:   "List rollouts",
		Long:    "List the rollouts of a namespace (the current one unless -n or -A is given) with their strategy, status, step and weight.",
		Example: o.Example(`
  # List rollouts
  %[1]s list rollouts

  # List rollouts of all namespaces
  %[1]s list rollouts -A

  # List rollouts and print a line whenever one changes
  %[1]s list rollouts --watch`),
		Args: exactArgs(),
		RunE: runVerb(l),
	}
	cmd.Flags().StringVar(&l.Name, "name", "", "Only show the rollout with this name")
	cmd.Flags().BoolVarP(&l.AllNamespaces, "all-namespaces", "A", false, "Include all namespaces")
	cmd.Flags().BoolVarP(&l.Watch, "watch", "w", false, "Watch for changes")
	cmd.Flags().BoolVar(&l.Timestamps, "timestamps", false, "Print timestamps on updates")
	return cmd
}

// listRow is one line of the table; rows are compared to print only real changes.
type listRow struct {
	namespace, name, strategy, status, step, setWeight, ready string
	desired, upToDate, available                              int32
}

func newListRow(ro *v1alpha1.Rollout) listRow {
	r := listRow{namespace: ro.Namespace, name: ro.Name, strategy: "unknown", step: "-", setWeight: "-",
		desired: ro.GetReplicas(), upToDate: ro.Status.UpdatedReplicas, available: ro.Status.AvailableReplicas,
		ready: fmt.Sprintf("%d/%d", ro.Status.ReadyReplicas, ro.Status.Replicas)}
	switch {
	case ro.Spec.Strategy.Canary != nil:
		r.strategy = "Canary"
		if s := rolloutinfo.StepString(ro); s != "" {
			r.step = s
		}
		r.setWeight = fmt.Sprint(rolloutinfo.SetWeight(ro))
	case ro.Spec.Strategy.BlueGreen != nil:
		r.strategy = "BlueGreen"
	}
	ph, _ := phase.ForClient(ro)
	r.status = string(ph)
	return r
}

// The cells are padded to about the width of their headers, so that lines printed
// later by --watch, through a new tabwriter, still line up with the header.
func (l *ListRolloutsOptions) line(r listRow) string {
	s := fmt.Sprintf("%-10s\t%-9s\t%-12s\t%-4s\t%-10s\t%-5s\t%-7d\t%-10d\t%-9d",
		r.name, r.strategy, r.status, r.step, r.setWeight, r.ready, r.desired, r.upToDate, r.available)
	if l.AllNamespaces {
		s = fmt.Sprintf("%-9s\t", r.namespace) + s
	}
	if l.Timestamps {
		s = fmt.Sprintf("%-20s\t", l.Now().UTC().Truncate(time.Second).Format(time.RFC3339)) + s
	}
	return s
}

// Run prints the table and, with --watch, a new line whenever a rollout changes.
func (l *ListRolloutsOptions) Run(ctx context.Context) error {
	var list v1alpha1.RolloutList
	if err := l.client.List(ctx, &list, client.InNamespace(l.namespace)); err != nil {
		return err
	}
	var rows []listRow
	for i := range list.Items {
		if l.Name == "" || list.Items[i].Name == l.Name {
			rows = append(rows, newListRow(&list.Items[i]))
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].namespace != rows[j].namespace {
			return rows[i].namespace < rows[j].namespace
		}
		return rows[i].name < rows[j].name
	})
	if len(rows) == 0 && !l.Watch {
		fmt.Fprintln(l.ErrOut, "No resources found.")
		return nil
	}
	w := tabwriter.NewWriter(l.Out, 0, 0, 2, ' ', 0)
	header := "NAME\tSTRATEGY\tSTATUS\tSTEP\tSET-WEIGHT\tREADY\tDESIRED\tUP-TO-DATE\tAVAILABLE"
	if l.AllNamespaces {
		header = "NAMESPACE\t" + header
	}
	if l.Timestamps {
		header = "TIMESTAMP\t" + header
	}
	fmt.Fprintln(w, header)
	prev := map[string]listRow{}
	for _, r := range rows {
		fmt.Fprintln(w, l.line(r))
		prev[r.namespace+"/"+r.name] = r
	}
	if err := w.Flush(); err != nil || !l.Watch {
		return err
	}
	return l.watch(ctx, w, prev)
}

func (l *ListRolloutsOptions) watch(ctx context.Context, w *tabwriter.Writer, prev map[string]listRow) error {
	src := source{
		name:    "Rollouts",
		newList: func() client.ObjectList { return &v1alpha1.RolloutList{} },
		opts:    []client.ListOption{client.InNamespace(l.namespace)},
		keep:    func(o client.Object) bool { return l.Name == "" || o.GetName() == l.Name },
	}
	live := newLive(l.client, []source{src})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	live.start(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-live.changed:
		}
		items := live.mirrors[0].items()
		sort.Slice(items, func(i, j int) bool {
			return metav1.Object(items[i]).GetNamespace()+"/"+items[i].GetName() <
				metav1.Object(items[j]).GetNamespace()+"/"+items[j].GetName()
		})
		for _, o := range items {
			r := newListRow(o.(*v1alpha1.Rollout))
			key := r.namespace + "/" + r.name
			if old, ok := prev[key]; !ok || old != r {
				fmt.Fprintln(w, l.line(r))
				prev[key] = r
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

// ListExperimentsOptions are the options of `list experiments`.
type ListExperimentsOptions struct {
	listScope
}

// NewCmdListExperiments returns the `list experiments` command.
func NewCmdListExperiments(o *Options) *cobra.Command {
	l := &ListExperimentsOptions{listScope{Options: o}}
	cmd := &cobra.Command{
		Use:     "experiments",
		Aliases: []string{"experiment", "exp"},
		Short:   "List experiments",
		Long:    "List the experiments of a namespace (the current one unless -n or -A is given) with their status and age.",
		Example: o.Example(`
  # List experiments
  %[1]s list experiments

  # List experiments of all namespaces
  %[1]s list experiments -A`),
		Args: exactArgs(),
		RunE: runVerb(l),
	}
	cmd.Flags().BoolVarP(&l.AllNamespaces, "all-namespaces", "A", false, "Include all namespaces")
	return cmd
}

// Run prints the table, sorted by namespace and name.
func (l *ListExperimentsOptions) Run(ctx context.Context) error {
	var list v1alpha1.ExperimentList
	if err := l.client.List(ctx, &list, client.InNamespace(l.namespace)); err != nil {
		return err
	}
	if len(list.Items) == 0 {
		fmt.Fprintln(l.ErrOut, "No resources found.")
		return nil
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool {
		if items[i].Namespace != items[j].Namespace {
			return items[i].Namespace < items[j].Namespace
		}
		return items[i].Name < items[j].Name
	})
	w := tabwriter.NewWriter(l.Out, 0, 0, 2, ' ', 0)
	header := "NAME\tSTATUS\tAGE"
	if l.AllNamespaces {
		header = "NAMESPACE\t" + header
	}
	fmt.Fprintln(w, header)
	for _, exp := range items {
		phase := string(exp.Status.Phase)
		if phase == "" {
			phase = string(v1alpha1.AnalysisPhasePending)
		}
		line := fmt.Sprintf("%s\t%s\t%s", exp.Name, phase, duration.HumanDuration(l.Now().Sub(exp.CreationTimestamp.Time)))
		if l.AllNamespaces {
			line = exp.Namespace + "\t" + line
		}
		fmt.Fprintln(w, line)
	}
	return w.Flush()
}
