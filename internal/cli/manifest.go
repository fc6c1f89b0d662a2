package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	ternscheme "github.com/tern-rollouts/tern/internal/scheme"
	"github.com/tern-rollouts/tern/internal/validation"
)

// document is one object of a manifest file, decoded and checked.
type document struct {
	// index is the 1-based position of the document in its file.
	index      int
	apiVersion string
	kind       string
	name       string
	// obj is the typed object, nil when the document is not of this API (a Service
	// beside a Rollout, say) or could not be decoded.
	obj client.Object
	// raw is the document as written.
	raw      []byte
	problems []problem
}

// problem is one thing to fix in a document, at a field path ("" for the whole
// document).
type problem struct {
	field   string
	message string
}

// ours reports whether the document belongs to the argoproj.io API.
func (d *document) ours() bool {
	gv, err := schema.ParseGroupVersion(d.apiVersion)
	return err == nil && gv.Group == v1alpha1.GroupVersion.Group
}

// label names the document in messages: "Rollout/web", or its position when it has no
// name.
func (d *document) label() string {
	kind := d.kind
	if kind == "" {
		kind = "<no kind>"
	}
	if d.name == "" {
		return fmt.Sprintf("%s (document %d)", kind, d.index)
	}
	return kind + "/" + d.name
}

// newObject returns an empty object of a kind this plugin reads from files.
func newObject(kind string) client.Object {
	switch kind {
	case "Rollout":
		return &v1alpha1.Rollout{}
	case "AnalysisTemplate":
		return &v1alpha1.AnalysisTemplate{}
	case "ClusterAnalysisTemplate":
		return &v1alpha1.ClusterAnalysisTemplate{}
	case "AnalysisRun":
		return &v1alpha1.AnalysisRun{}
	case "Experiment":
		return &v1alpha1.Experiment{}
	}
	return nil
}

var supportedKinds = []string{"Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Experiment"}

// readManifest reads a file, or standard input for "-".
func readManifest(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(stdin)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such file", path)
	}
	return data, err
}

// decodeManifest splits a multi-document YAML (or JSON) manifest and checks each
// document of this API: a strict decode against our types (unknown and duplicate fields
// are problems, with their path) and then the same validation the controller runs.
// Documents of other APIs are returned unchecked, with a nil obj.
func decodeManifest(data []byte) ([]document, error) {
	scheme, err := ternscheme.New()
	if err != nil {
		return nil, err
	}
	strict := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
		kjson.SerializerOptions{Yaml: true, Strict: true})
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []document
	for n := 1; ; n++ {
		raw, err := reader.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if isEmptyDocument(raw) {
			n--
			continue
		}
		docs = append(docs, decodeDocument(strict, n, raw))
	}
	return docs, nil
}

// isEmptyDocument reports whether a document holds nothing but comments and blanks.
func isEmptyDocument(raw []byte) bool {
	var v any
	return yaml.Unmarshal(raw, &v) == nil && v == nil
}

func decodeDocument(strict runtime.Decoder, index int, raw []byte) document {
	d := document{index: index, raw: raw}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name         string `json:"name"`
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(raw, &head); err != nil {
		d.problems = append(d.problems, problem{message: "not a YAML object: " + err.Error()})
		return d
	}
	d.apiVersion, d.kind, d.name = head.APIVersion, head.Kind, head.Metadata.Name
	if d.kind == "" || d.apiVersion == "" {
		d.problems = append(d.problems, problem{message: "apiVersion and kind must be set"})
		return d
	}
	if !d.ours() {
		return d
	}
	if d.apiVersion != v1alpha1.GroupVersion.String() {
		d.problems = append(d.problems, fieldProblem(field.NotSupported(field.NewPath("apiVersion"), d.apiVersion, []string{v1alpha1.GroupVersion.String()})))
		return d
	}
	obj := newObject(d.kind)
	if obj == nil {
		d.problems = append(d.problems, fieldProblem(field.NotSupported(field.NewPath("kind"), d.kind, supportedKinds)))
		return d
	}
	if _, _, err := strict.Decode(raw, nil, obj); err != nil {
		strictErr, ok := runtime.AsStrictDecodingError(err)
		if !ok {
			// The document does not fit the types (a string for a number, say): what
			// was decoded is partial, so it is not validated further.
			d.problems = append(d.problems, decodeProblem(err))
			return d
		}
		for _, e := range strictErr.Errors() {
			d.problems = append(d.problems, decodeProblem(e))
		}
	}
	d.obj = obj
	if head.Metadata.Name == "" && head.Metadata.GenerateName == "" {
		d.problems = append(d.problems, fieldProblem(field.Required(field.NewPath("metadata", "name"), "set metadata.name (or metadata.generateName)")))
	}
	for _, e := range validate(obj) {
		d.problems = append(d.problems, fieldProblem(e))
	}
	return d
}

// validate runs the controller's validation of obj.
func validate(obj client.Object) field.ErrorList {
	spec := field.NewPath("spec")
	switch o := obj.(type) {
	case *v1alpha1.Rollout:
		return validation.ValidateRollout(o)
	case *v1alpha1.AnalysisTemplate:
		return validation.ValidateAnalysisTemplateSpec(&o.Spec, spec)
	case *v1alpha1.ClusterAnalysisTemplate:
		return validation.ValidateAnalysisTemplateSpec(&o.Spec, spec)
	case *v1alpha1.AnalysisRun:
		return validation.ValidateAnalysisRunSpec(&o.Spec, spec)
	case *v1alpha1.Experiment:
		return validation.ValidateExperiment(o)
	}
	return nil
}

func fieldProblem(e *field.Error) problem {
	return problem{field: e.Field, message: e.ErrorBody()}
}

// typeError matches the decoder's message for a value of the wrong type, which carries
// the field's path after the name of the Go struct holding it.
var typeError = regexp.MustCompile(`cannot unmarshal (.+) into Go struct field [^ .]+\.(\S+) of type (\S+)`)

// duplicateKey matches the YAML parser's message for a key given twice in one mapping;
// its line number counts from the start of the document.
var duplicateKey = regexp.MustCompile(`line (\d+): key ("[^"]*") already set in map`)

// decodeProblem turns a decoding error into a problem at the field it names.
func decodeProblem(err error) problem {
	var fe interface{ FieldPath() string }
	if errors.As(err, &fe) {
		msg := err.Error()
		// "unknown field \"spec.x\"" and "duplicate field \"spec.x\"": the kind of
		// problem is the text before the quoted path.
		if i := strings.Index(msg, ` "`); i > 0 {
			msg = msg[:i]
		}
		return problem{field: fe.FieldPath(), message: msg}
	}
	if m := typeError.FindStringSubmatch(err.Error()); m != nil {
		return problem{field: m[2], message: fmt.Sprintf("Invalid type: must be %s, got %s", m[3], m[1])}
	}
	msg := err.Error()
	if m := duplicateKey.FindStringSubmatch(msg); m != nil {
		return problem{message: fmt.Sprintf("duplicate key %s at line %s of the document", m[2], m[1])}
	}
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	return problem{message: strings.Join(strings.Fields(msg), " ")}
}
