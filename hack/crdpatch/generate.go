package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// crdGenerator is the controller-gen generator spec for the CRDs, shared by `make
// manifests` and the staleness test so that both always produce the same bytes.
//
// maxDescLen=0 drops field descriptions, as upstream does: they would make up about 60% of
// the schemas (the Rollout CRD goes from ~700 KB to ~250 KB before patching), and every
// CRD is re-read by every client that fetches discovery/OpenAPI data.
const crdGenerator = "crd:maxDescLen=0"

// apiPaths is what controller-gen loads, relative to the module root.
const apiPaths = "paths=./api/..."

// Generate runs controller-gen into a scratch directory, patches every CRD and writes the
// results to outDir, removing CRD files of kinds that no longer exist.
func Generate(controllerGen, moduleRoot, outDir string) error {
	scratch, err := os.MkdirTemp("", "crdpatch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if err := run(moduleRoot, controllerGen, crdGenerator, apiPaths, "output:crd:artifacts:config="+scratch); err != nil {
		return err
	}
	generated, err := yamlFiles(scratch)
	if err != nil {
		return err
	}
	if len(generated) == 0 {
		return errors.New("controller-gen wrote no CRDs")
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for _, name := range generated {
		if err := patchFile(filepath.Join(scratch, name), filepath.Join(outDir, name)); err != nil {
			return err
		}
	}
	existing, err := yamlFiles(outDir)
	if err != nil {
		return err
	}
	for _, name := range existing {
		if !slices.Contains(generated, name) {
			if err := os.Remove(filepath.Join(outDir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// PatchDir patches every CRD file of dir in place; patching is idempotent.
func PatchDir(dir string) error {
	names, err := yamlFiles(dir)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("no CRD files in %s", dir)
	}
	for _, name := range names {
		p := filepath.Join(dir, name)
		if err := patchFile(p, p); err != nil {
			return err
		}
	}
	return nil
}

func patchFile(from, to string) error {
	in, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	out, err := PatchCRD(in)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(from), err)
	}
	return os.WriteFile(to, out, 0o644)
}

// GenerateDeepCopy writes zz_generated.deepcopy.go for the API packages into outDir
// (when it is not empty) instead of next to the types, for comparisons.
func GenerateDeepCopy(controllerGen, moduleRoot, outDir string) error {
	args := []string{"object", apiPaths}
	if outDir != "" {
		args = append(args, "output:object:dir="+outDir)
	}
	return run(moduleRoot, controllerGen, args...)
}

// yamlFiles lists the *.yaml files of dir, sorted; a missing dir has none.
func yamlFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// ControllerGenVersion reads the controller-tools version pinned by hack/tools/go.mod, so
// that the cached binary's name changes whenever the pin does.
func ControllerGenVersion(moduleRoot string) (string, error) {
	f, err := os.Open(filepath.Join(moduleRoot, "hack", "tools", "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i := 0; i+1 < len(fields); i++ {
			if fields[i] == "sigs.k8s.io/controller-tools" {
				return fields[i+1], nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("hack/tools/go.mod does not require sigs.k8s.io/controller-tools")
}

// EnsureControllerGen returns the cached controller-gen binary, building it from the tools
// module first when it is missing. The build goes to a temporary name and is renamed, so a
// concurrent `make manifests` never runs a half-written binary.
func EnsureControllerGen(moduleRoot, cacheDir string, progress io.Writer) (string, error) {
	version, err := ControllerGenVersion(moduleRoot)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(cacheDir, "controller-gen-"+version)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(progress, "building controller-gen %s into %s\n", version, cacheDir)
	tmp := fmt.Sprintf("%s.tmp-%d", bin, os.Getpid())
	defer os.Remove(tmp)
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	cmd := exec.Command(goTool, "build", "-o", tmp, "sigs.k8s.io/controller-tools/cmd/controller-gen")
	cmd.Dir = filepath.Join(moduleRoot, "hack", "tools")
	cmd.Stdout, cmd.Stderr = progress, progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building controller-gen %s: %w", version, err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}

func run(dir, name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
	}
	return nil
}
