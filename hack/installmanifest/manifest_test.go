package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// repoRoot is two directories up: tests run in hack/installmanifest.
const repoRoot = "../.."

// tool returns the path of a binary the test needs. When it is absent the test is skipped,
// unless TERN_E2E_REQUIRED=1 (as in `make test`), which makes a missing tool a failure.
func tool(t *testing.T, path, how string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not found: %s", path, how)
	if os.Getenv("TERN_E2E_REQUIRED") == "1" {
		t.Fatal(msg + " (TERN_E2E_REQUIRED=1 forbids skipping)")
	}
	t.Skip(msg)
	return ""
}

// kubectlPath is $BIN_DIR/kubectl, the kubectl `make install-manifest` renders with.
func kubectlPath(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BIN_DIR")
	if dir == "" {
		dir = os.ExpandEnv("$HOME/.cache/tern/bin-v1.37.2")
	}
	return tool(t, filepath.Join(dir, "kubectl"), "run make cluster-build, or set BIN_DIR")
}

// The checked-in manifests and chart copies are what the sources render to now.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	files, err := Render(kubectlPath(t), repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(repoRoot, path))
		if err != nil {
			t.Errorf("%s: %v: run make install-manifest", path, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale (%s): run make install-manifest", path, firstDifference(got, want))
		}
	}
	// A CRD removed from config/crd/bases must leave the chart too.
	copies, _ := filepath.Glob(filepath.Join(repoRoot, ChartCRDDir, "*.yaml"))
	for _, c := range copies {
		rel := ChartCRDDir + "/" + filepath.Base(c)
		if _, ok := files[rel]; !ok {
			t.Errorf("%s has no source in %s: delete it", rel, CRDDir)
		}
	}
}

func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d is %q, should be %q", i+1, gl, wl)
		}
	}
	return "same lines, different bytes"
}

// Both installs must run the same image.
func TestImageTagsAgree(t *testing.T) {
	k, a, err := ImageTags(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if k != a {
		t.Errorf("image tag %q in %s but appVersion %q in %s: run make install-manifest IMAGE_TAG=<tag>", k, BaseKustomize, a, ChartYAML)
	}
}

func readRules(t *testing.T, path string) []rbacv1.PolicyRule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	// ClusterRole also decodes a Role: the two share their fields.
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &role); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return role.Rules
}

// The namespaced Role grants what the ClusterRole grants, except what only a ClusterRole can:
// the two must not drift apart when a rule is added to one of them.
func TestRoleMatchesClusterRole(t *testing.T) {
	cluster := readRules(t, "config/rbac/cluster_role.yaml")
	var want []rbacv1.PolicyRule
	for _, r := range cluster {
		r = *r.DeepCopy()
		var res []string
		for _, name := range r.Resources {
			if name != "clusteranalysistemplates" {
				res = append(res, name)
			}
		}
		r.Resources = res
		want = append(want, r)
	}
	got := readRules(t, "config/rbac/namespaced/role.yaml")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config/rbac/namespaced/role.yaml rules differ from cluster_role.yaml's minus clusteranalysistemplates:\n got: %+v\nwant: %+v", got, want)
	}
}

// Least privilege, mechanically: no wildcards, no escalation verbs, nothing on RBAC objects,
// and Secrets only read one at a time.
func TestRulesStayNarrow(t *testing.T) {
	for _, path := range []string{"config/rbac/cluster_role.yaml", "config/rbac/namespaced/role.yaml", "config/rbac/leader_election_role.yaml"} {
		for _, r := range readRules(t, path) {
			all := append(append(append([]string{}, r.APIGroups...), r.Resources...), r.Verbs...)
			for _, s := range all {
				if s == "*" {
					t.Errorf("%s: wildcard in %+v", path, r)
				}
			}
			for _, v := range r.Verbs {
				switch v {
				case "escalate", "bind", "impersonate", "deletecollection":
					t.Errorf("%s: verb %s in %+v", path, v, r)
				}
			}
			for _, g := range r.APIGroups {
				if g == "rbac.authorization.k8s.io" {
					t.Errorf("%s: RBAC objects in %+v", path, r)
				}
			}
			for _, res := range r.Resources {
				if res == "secrets" && !reflect.DeepEqual(r.Verbs, []string{"get"}) {
					t.Errorf("%s: secrets with verbs %v, want only get (no informer over every Secret)", path, r.Verbs)
				}
			}
		}
	}
}
