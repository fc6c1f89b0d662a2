package cli

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/actions"
)

// CreateAnalysisRunOptions are the options of `create analysisrun`.
type CreateAnalysisRunOptions struct {
	*Options
	From         string
	FromFile     string
	Global       bool
	Args         []string
	Name         string
	GenerateName string
	InstanceID   string

	run    actions.RunFromTemplate
	client client.WithWatch
}

// NewCmdCreateAnalysisRun returns the `create analysisrun` command.
func NewCmdCreateAnalysisRun(o *Options) *cobra.Command {
	c := &CreateAnalysisRunOptions{Options: o}
	cmd := &cobra.Command{
		Use:     "analysisrun --from TEMPLATE | --from-file FILE",
		Aliases: []string{"ar"},
		Short:   "Create an AnalysisRun from an AnalysisTemplate or ClusterAnalysisTemplate",
		Long: `Create an AnalysisRun by hand from a template: an AnalysisTemplate of the namespace
(--from), a ClusterAnalysisTemplate (--from with --global), or a template in a file
(--from-file). Templates the template references are merged in, read from the cluster.
Arguments without a default value in the templates must be given with -a NAME=VALUE.
Without --name the run is named after the template with a random suffix.`,
		Example: o.Example(`
  # Create an AnalysisRun from the AnalysisTemplate success-rate
  %[1]s create analysisrun --from success-rate -a service=web

  # Create an AnalysisRun from a ClusterAnalysisTemplate, with a fixed name
  %[1]s create analysisrun --global --from smoke --name smoke-web

  # Create an AnalysisRun from a template in a file
  %[1]s create analysisrun --from-file success-rate.yaml -a service=web`),
		Args: exactArgs(),
		RunE: runVerb(c),
	}
	f := cmd.Flags()
	f.StringVar(&c.From, "from", "", "Name of the AnalysisTemplate (with --global, ClusterAnalysisTemplate) to create the run from")
	f.StringVar(&c.FromFile, "from-file", "", "File holding the AnalysisTemplate or ClusterAnalysisTemplate to create the run from")
	f.BoolVar(&c.Global, "global", false, "With --from, use a ClusterAnalysisTemplate instead of an AnalysisTemplate")
	f.StringArrayVarP(&c.Args, "argument", "a", nil, "Argument of the templates as NAME=VALUE; may be repeated")
	f.StringVar(&c.Name, "name", "", "Name of the AnalysisRun")
	f.StringVar(&c.GenerateName, "generate-name", "", "Prefix of a generated name of the AnalysisRun")
	f.StringVar(&c.InstanceID, "instance-id", "", "Label the AnalysisRun for the controller of this --instance-id")
	return cmd
}

// Complete reads the arguments and builds the client.
func (c *CreateAnalysisRunOptions) Complete([]string) error {
	ns, err := c.Namespace()
	if err != nil {
		return err
	}
	c.run = actions.RunFromTemplate{
		Namespace:    ns,
		TemplateName: c.From,
		ClusterScope: c.Global,
		Name:         c.Name,
		GenerateName: c.GenerateName,
		InstanceID:   c.InstanceID,
	}
	for _, a := range c.Args {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return fmt.Errorf("invalid argument %q: use -a NAME=VALUE", a)
		}
		c.run.Args = append(c.run.Args, v1alpha1.Argument{Name: name, Value: &value})
	}
	c.client, err = c.NewClient()
	return err
}

// readTemplate reads the one template of --from-file, checked as lint checks it.
func (c *CreateAnalysisRunOptions) readTemplate() error {
	data, err := readManifest(c.FromFile, c.In)
	if err != nil {
		return err
	}
	docs, err := decodeManifest(data)
	if err != nil {
		return fmt.Errorf("%s: %w", c.FromFile, err)
	}
	var found []*document
	for i := range docs {
		if docs[i].kind == "AnalysisTemplate" || docs[i].kind == "ClusterAnalysisTemplate" {
			found = append(found, &docs[i])
		}
	}
	if len(found) != 1 {
		return fmt.Errorf("%s: --from-file needs exactly one AnalysisTemplate or ClusterAnalysisTemplate, found %d", c.FromFile, len(found))
	}
	d := found[0]
	if len(d.problems) > 0 {
		for _, p := range d.problems {
			printProblem(c.ErrOut, c.FromFile, d, p)
		}
		return fmt.Errorf("%s: %s has %d problem(s)", c.FromFile, d.label(), len(d.problems))
	}
	c.run.TemplateName = d.name
	c.run.ClusterScope = d.kind == "ClusterAnalysisTemplate"
	switch t := d.obj.(type) {
	case *v1alpha1.AnalysisTemplate:
		c.run.Spec = &t.Spec
	case *v1alpha1.ClusterAnalysisTemplate:
		c.run.Spec = &t.Spec
	}
	return nil
}

// Validate checks that the flags name one template and at most one way to name the run.
func (c *CreateAnalysisRunOptions) Validate() error {
	switch {
	case c.From == "" && c.FromFile == "":
		return fmt.Errorf("name the template: --from TEMPLATE, or --from-file FILE")
	case c.From != "" && c.FromFile != "":
		return fmt.Errorf("--from and --from-file cannot be used together: pick one template")
	case c.Name != "" && c.GenerateName != "":
		return fmt.Errorf("--name and --generate-name cannot be used together")
	}
	return nil
}

// unresolved matches the builder's error for an argument left without a value.
var unresolved = regexp.MustCompile(`^args\.(\S+) was not resolved`)

// Run reads the template of --from-file, if any, builds the run and creates it.
func (c *CreateAnalysisRunOptions) Run(ctx context.Context) error {
	if c.FromFile != "" {
		if err := c.readTemplate(); err != nil {
			return err
		}
	}
	run, err := actions.BuildAnalysisRun(ctx, c.client, c.run)
	if err != nil {
		if m := unresolved.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("%w: pass it with -a %s=VALUE", err, m[1])
		}
		return err
	}
	if err := c.client.Create(ctx, run); err != nil {
		return fmt.Errorf("creating the AnalysisRun from %q: %w", c.run.TemplateName, err)
	}
	fmt.Fprintf(c.Out, "analysisrun.%s/%s created\n", v1alpha1.GroupVersion.Group, run.Name)
	return nil
}
