package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const staleMessage = "CRDs are stale: run make manifests"

var (
	controllerGenOnce sync.Once
	controllerGenBin  string
	controllerGenErr  error
)

// controllerGen returns the cached controller-gen, building it when missing. A build
// failure fails the test: a staleness check that skips itself would pass on exactly the
// machines where nobody can regenerate.
func controllerGen(t *testing.T) (bin, root string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	controllerGenOnce.Do(func() {
		cache := os.Getenv("CACHE_DIR")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				controllerGenErr = err
				return
			}
			cache = filepath.Join(home, ".cache", "tern")
		}
		controllerGenBin, controllerGenErr = EnsureControllerGen(root, cache, testWriter{t})
	})
	if controllerGenErr != nil {
		t.Fatalf("cannot build controller-gen to check the CRDs: %v", controllerGenErr)
	}
	return controllerGenBin, root
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestCRDsUpToDate(t *testing.T) {
	bin, root := controllerGen(t)
	fresh := t.TempDir()
	if err := Generate(bin, root, fresh); err != nil {
		t.Fatalf("regenerating the CRDs: %v", err)
	}
	committed := filepath.Join(root, "config", "crd", "bases")
	if diffs := compareDirs(t, fresh, committed); len(diffs) > 0 {
		t.Fatalf("%s\n%s", staleMessage, strings.Join(diffs, "\n"))
	}
}

func TestDeepCopyUpToDate(t *testing.T) {
	bin, root := controllerGen(t)
	fresh := t.TempDir()
	if err := GenerateDeepCopy(bin, root, fresh); err != nil {
		t.Fatalf("regenerating deepcopy: %v", err)
	}
	const name = "zz_generated.deepcopy.go"
	want, err := os.ReadFile(filepath.Join(fresh, name))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "api", "v1alpha1", name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("api/v1alpha1/%s is stale: run make manifests\n%s", name, firstDifference(want, got))
	}
}

// TestKustomizationListsEveryCRD keeps config/crd/kustomization.yaml in step with bases/.
func TestKustomizationListsEveryCRD(t *testing.T) {
	var k struct {
		Resources []string `json:"resources"`
	}
	mustUnmarshal(t, "../../config/crd/kustomization.yaml", &k)
	var want []string
	for _, name := range crdFiles(t) {
		want = append(want, "bases/"+name)
	}
	got := slices.Clone(k.Resources)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("config/crd/kustomization.yaml resources = %v, want %v", k.Resources, want)
	}
}

func TestCompareDirsReportsEveryKindOfDrift(t *testing.T) {
	fresh, committed := t.TempDir(), t.TempDir()
	write := func(dir, name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(fresh, "same.yaml", "a: 1\n")
	write(committed, "same.yaml", "a: 1\n")
	write(fresh, "changed.yaml", "a: 1\nb: 2\n")
	write(committed, "changed.yaml", "a: 1\nb: 3\n")
	write(fresh, "new.yaml", "a: 1\n")
	write(committed, "old.yaml", "a: 1\n")
	got := compareDirs(t, fresh, committed)
	want := []string{
		"changed.yaml differs: line 2: generated \"b: 2\", committed \"b: 3\"",
		"new.yaml is generated but not committed",
		"old.yaml is committed but no longer generated",
	}
	if !slices.Equal(got, want) {
		t.Errorf("compareDirs = %q\nwant %q", got, want)
	}
}

// compareDirs describes every difference between the YAML files of two directories.
func compareDirs(t *testing.T, fresh, committed string) []string {
	t.Helper()
	a, err := yamlFiles(fresh)
	if err != nil {
		t.Fatal(err)
	}
	b, err := yamlFiles(committed)
	if err != nil {
		t.Fatal(err)
	}
	var diffs []string
	for _, name := range a {
		if !slices.Contains(b, name) {
			diffs = append(diffs, name+" is generated but not committed")
			continue
		}
		want, _ := os.ReadFile(filepath.Join(fresh, name))
		got, _ := os.ReadFile(filepath.Join(committed, name))
		if !bytes.Equal(want, got) {
			diffs = append(diffs, name+" differs: "+firstDifference(want, got))
		}
	}
	for _, name := range b {
		if !slices.Contains(a, name) {
			diffs = append(diffs, name+" is committed but no longer generated")
		}
	}
	slices.Sort(diffs)
	return diffs
}

func firstDifference(want, got []byte) string {
	wl := strings.Split(string(want), "\n")
	gl := strings.Split(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d: generated %q, committed %q", i+1, clip(w), clip(g))
		}
	}
	return "same lines, different bytes"
}

// clip keeps diff lines readable: CRD lines can be long and deeply indented.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}
