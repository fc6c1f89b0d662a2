// Command installmanifest renders Tern's install manifests (`make install-manifest`):
// `kubectl kustomize` of manifests/base and manifests/namespace-install into dist/ and into
// the checked-in manifests/install.yaml and manifests/namespace-install.yaml, and the copies
// the Helm chart takes of the CRDs and the RBAC rules. With -image-tag it first writes the
// release's image tag into manifests/base/kustomization.yaml and the chart's appVersion, so
// that the two installs never disagree on the image.
//
// The same rendering backs the tests that fail when a checked-in copy is stale.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	kubectl := flag.String("kubectl", "kubectl", "kubectl with `kustomize` built in (make passes $BIN_DIR/kubectl)")
	root := flag.String("root", ".", "root of the repository")
	dist := flag.String("dist", "dist", "where to write install.yaml and namespace-install.yaml as release assets (relative to -root)")
	tag := flag.String("image-tag", "", "set this image tag (e.g. v1.2.3) in manifests/base and the Helm chart before rendering")
	flag.Parse()
	if err := run(*kubectl, *root, *dist, *tag); err != nil {
		fmt.Fprintln(os.Stderr, "installmanifest:", err)
		os.Exit(1)
	}
}

func run(kubectl, root, dist, tag string) error {
	if tag != "" {
		if err := setImageTag(root, tag); err != nil {
			return err
		}
	}
	files, err := Render(kubectl, root)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := writeFile(filepath.Join(root, p), files[p]); err != nil {
			return err
		}
		fmt.Printf("   %8d  %s\n", len(files[p]), p)
	}
	for _, name := range []string{InstallYAML, NamespaceInstallYAML} {
		p := filepath.Join(dist, filepath.Base(name))
		if err := writeFile(filepath.Join(root, p), files[name]); err != nil {
			return err
		}
		fmt.Printf("   %8d  %s\n", len(files[name]), p)
	}
	return nil
}

// writeFile replaces path's content, creating its directory; files whose content is
// unchanged are left alone so that their mtimes do not move.
func writeFile(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
