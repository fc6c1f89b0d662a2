package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// CreateOptions are the options of `create`.
type CreateOptions struct {
	*Options
	Files   []string
	Watch   bool
	NoColor bool

	namespace string
	// explicitNamespace is set when -n was given, to refuse objects of another namespace.
	explicitNamespace bool
	client            client.WithWatch
}

// NewCmdCreate returns the `create` command with its `analysisrun` subcommand.
func NewCmdCreate(o *Options) *cobra.Command {
	c := &CreateOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Create a Rollout, Experiment, AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun",
		Long: `Create the objects of one or more manifests: Rollouts, Experiments, AnalysisTemplates,
ClusterAnalysisTemplates and AnalysisRuns. Every document is checked first, as 'lint'
does; when one has a problem nothing is created. Objects without a namespace go to the
namespace of -n or of the current context.

With --watch, the one Rollout, Experiment or AnalysisRun created is then shown as
'get ... --watch' shows it.`,
		Example: o.Example(`
  # Create an experiment and watch it
  %[1]s create -f my-experiment.yaml -w

  # Create an analysis run from a template in the cluster
  %[1]s create analysisrun --from my-template -a service=web`),
		Args: exactArgs(),
		RunE: runVerb(c),
	}
	cmd.Flags().StringArrayVarP(&c.Files, "filename", "f", nil, "File to create (- for standard input); may be repeated")
	cmd.Flags().BoolVarP(&c.Watch, "watch", "w", false, "Watch the created object")
	cmd.Flags().BoolVar(&c.NoColor, "no-color", false, "Do not colorize output")
	cmd.AddCommand(NewCmdCreateAnalysisRun(o))
	return cmd
}

// Complete resolves the namespace and builds the client.
func (c *CreateOptions) Complete([]string) error {
	ns, err := c.Namespace()
	if err != nil {
		return err
	}
	c.namespace = ns
	c.explicitNamespace = c.ConfigFlags.Namespace != nil && *c.ConfigFlags.Namespace != ""
	c.client, err = c.NewClient()
	return err
}

// Validate requires a file.
func (c *CreateOptions) Validate() error {
	if len(c.Files) == 0 {
		return fmt.Errorf("create needs a file: pass it with -f FILE, or use 'create analysisrun --from TEMPLATE'")
	}
	return nil
}

// toCreate is a checked document ready to send, as the user wrote it.
type toCreate struct {
	kind string
	obj  *unstructured.Unstructured
}

// Run checks every document, creates them in order and watches the one created.
func (c *CreateOptions) Run(ctx context.Context) error {
	objs, err := c.load()
	if err != nil {
		return err
	}
	if c.Watch {
		n := 0
		for _, o := range objs {
			if watchable(o.kind) {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("--watch shows one Rollout, Experiment or AnalysisRun, and the files hold %d: create without --watch, then use 'get'", n)
		}
	}
	var watched *toCreate
	for i := range objs {
		o := &objs[i]
		if err := c.client.Create(ctx, o.obj); err != nil {
			return createError(o, err)
		}
		fmt.Fprintf(c.Out, "%s.%s/%s created\n", strings.ToLower(o.kind), v1alpha1.GroupVersion.Group, o.obj.GetName())
		if watchable(o.kind) {
			watched = o
		}
	}
	if !c.Watch {
		return nil
	}
	fmt.Fprintln(c.Out)
	return c.watch(ctx, watched)
}

func watchable(kind string) bool {
	return kind == "Rollout" || kind == "Experiment" || kind == "AnalysisRun"
}

// load reads and checks every file; any problem stops everything before the first
// create, so that a half-applied set of objects is never left behind by a typo.
func (c *CreateOptions) load() ([]toCreate, error) {
	var out []toCreate
	problems := 0
	for _, path := range c.Files {
		data, err := readManifest(path, c.In)
		if err != nil {
			return nil, err
		}
		name := path
		if path == "-" {
			name = "<stdin>"
		}
		docs, err := decodeManifest(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for i := range docs {
			d := &docs[i]
			for _, p := range d.problems {
				printProblem(c.ErrOut, name, d, p)
				problems++
			}
			if len(d.problems) > 0 {
				continue
			}
			if d.obj == nil {
				return nil, fmt.Errorf("%s: %s (%s) is not one of the kinds create handles (%s): use kubectl apply for it",
					name, d.label(), d.apiVersion, strings.Join(supportedKinds, ", "))
			}
			u, err := c.unstructured(d)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", name, d.label(), err)
			}
			out = append(out, toCreate{kind: d.kind, obj: u})
		}
	}
	if problems > 0 {
		return nil, fmt.Errorf("found %d problem(s); nothing was created", problems)
	}
	return out, nil
}

// unstructured is the document as written, with its namespace settled. The typed
// decode was only for checking: sending the user's own fields keeps zero values and
// fields the user left out exactly as they were.
func (c *CreateOptions) unstructured(d *document) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(d.raw, &u.Object); err != nil {
		return nil, err
	}
	if d.kind == "ClusterAnalysisTemplate" {
		u.SetNamespace("")
		return u, nil
	}
	switch ns := u.GetNamespace(); {
	case ns == "":
		u.SetNamespace(c.namespace)
	case c.explicitNamespace && ns != c.namespace:
		return nil, fmt.Errorf("its namespace %q does not match --namespace %q: remove one of them", ns, c.namespace)
	}
	return u, nil
}

// createError names the object that could not be created and, for the usual causes,
// what to do.
func createError(o *toCreate, err error) error {
	what := fmt.Sprintf("%s %q", o.kind, o.obj.GetName())
	if o.obj.GetName() == "" {
		what = fmt.Sprintf("%s %q", o.kind, o.obj.GetGenerateName()+"*")
	}
	switch {
	case apierrors.IsAlreadyExists(err):
		return fmt.Errorf("creating %s: %w: delete it first, or change it with kubectl apply", what, err)
	case apierrors.IsNotFound(err) && o.obj.GetNamespace() != "":
		return fmt.Errorf("creating %s in namespace %q: %w: does the namespace exist?", what, o.obj.GetNamespace(), err)
	}
	return fmt.Errorf("creating %s: %w", what, err)
}

// watch shows the created object as `get <kind> -w` would.
func (c *CreateOptions) watch(ctx context.Context, o *toCreate) error {
	g := getOptions{Options: c.Options, Watch: true, NoColor: c.NoColor}
	if err := g.Complete([]string{o.obj.GetName()}); err != nil {
		return err
	}
	// The object's own namespace wins over the context's.
	g.key = types.NamespacedName{Namespace: o.obj.GetNamespace(), Name: o.obj.GetName()}
	switch o.kind {
	case "Rollout":
		return (&GetRolloutOptions{g}).Run(ctx)
	case "Experiment":
		return (&GetExperimentOptions{g}).Run(ctx)
	}
	return (&GetAnalysisRunOptions{g}).Run(ctx)
}
