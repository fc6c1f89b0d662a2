package routers

import (
	"context"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/traffic"
)

// repoRoot is the module's root, from this package's directory.
const repoRoot = "../../.."

const module = "github.com/tern-rollouts/tern/"

// Router packages are the directories under internal/traffic but for the interface
// (router) and this registry.
func routerPackages(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, "internal/traffic"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "router" && e.Name() != "routers" {
			out = append(out, "internal/traffic/"+e.Name())
		}
	}
	return out
}

// The registry is the one place routers are listed: every router package is imported by
// routers.go, and by no other code outside its own package, so that the snapshot, the
// executor and the controller can only reach routers through All.
func TestRegistryIsTheOnePlace(t *testing.T) {
	pkgs := routerPackages(t)
	if len(pkgs) == 0 {
		t.Fatal("no router packages found under internal/traffic")
	}
	fset := token.NewFileSet()
	registry, err := parser.ParseFile(fset, "routers.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, imp := range registry.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		listed = append(listed, strings.TrimPrefix(p, module))
	}
	for _, pkg := range pkgs {
		if !slices.Contains(listed, pkg) {
			t.Errorf("router package %s is not in the registry (internal/traffic/routers/routers.go)", pkg)
		}
	}

	err = filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && rel != "." {
				// Another module cannot import this one's internal packages.
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		if dir == "internal/traffic/routers" {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			p = strings.TrimPrefix(p, module)
			if slices.Contains(pkgs, p) && dir != p {
				t.Errorf("%s imports the router package %s: reach routers through internal/traffic/routers", rel, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	names := map[string]bool{}
	for _, r := range All {
		if r.Name() == "" || names[r.Name()] {
			t.Errorf("router name %q is empty or not unique", r.Name())
		}
		names[r.Name()] = true
	}
}

func readRules(t *testing.T, path string) []rbacv1.PolicyRule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	// A ClusterRole also decodes a Role: the two share their fields.
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return role.Rules
}

// granted reports whether rules allow verb on resource of group.
func granted(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if len(r.ResourceNames) == 0 && slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}

// A router cannot ship without its permissions: config/rbac, which the install manifests
// and the chart are generated from, grants every rule of every registered router, both
// cluster-wide and in the namespaced Role.
func TestRoutersGrantedByRBAC(t *testing.T) {
	for _, path := range []string{"config/rbac/cluster_role.yaml", "config/rbac/namespaced/role.yaml"} {
		rules := readRules(t, path)
		if len(rules) == 0 {
			t.Fatalf("%s: no rules read", path)
		}
		for _, r := range All {
			for _, want := range r.Rules() {
				if len(want.APIGroups) == 0 || len(want.Resources) == 0 || len(want.Verbs) == 0 {
					t.Errorf("%s router: rule %+v names no group, resource or verb", r.Name(), want)
				}
				for _, g := range want.APIGroups {
					for _, res := range want.Resources {
						for _, v := range want.Verbs {
							if !granted(rules, g, res, v) {
								t.Errorf("%s: the %s router needs %s on %q %s, which is not granted", path, r.Name(), v, g, res)
							}
						}
					}
				}
			}
		}
	}
}

// Observe and Apply go through every router that applies: the Service router's Services
// come back under their names, and a desired state reaches it.
func TestObserveAndApply(t *testing.T) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	active := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "active"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{v1alpha1.DefaultRolloutUniqueLabelKey: "old"}}}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(active).Build()
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "active", PreviewService: "preview"}}}}
	ctx := context.Background()

	obs, err := Observe(ctx, c, ro)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs.Services) != 1 || obs.Hash("active") != "old" || obs.Hash("preview") != "" {
		t.Fatalf("observed %+v", obs)
	}
	written, err := Apply(ctx, c, ro, traffic.Desired{Services: []traffic.Selection{{Service: "active", Role: traffic.RoleActive, Hash: "new"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 1 || written[0].GetName() != "active" {
		t.Fatalf("written %v", written)
	}
	if obs, err = Observe(ctx, c, ro); err != nil || obs.Hash("active") != "new" {
		t.Fatalf("after apply: observed %+v, %v", obs, err)
	}
	if _, err := Apply(ctx, c, ro, traffic.Desired{Services: []traffic.Selection{{Service: "preview", Hash: "new"}}}); err == nil {
		t.Fatal("a write to a missing Service did not fail")
	}
}
