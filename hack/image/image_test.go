package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func testOptions(t *testing.T) Options {
	t.Helper()
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	ca := "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(ca); err != nil {
		// Any PEM file does: the test is about the image, not about these certificates.
		ca = filepath.Join(t.TempDir(), "ca.crt")
		if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Options{
		Go:        goCmd,
		Dir:       "../..",
		Package:   "./cmd/tern-controller",
		Repo:      "ghcr.io/tern-rollouts/tern",
		Version:   "v0.0.0-imagetest",
		Revision:  "0123456789abcdef0123456789abcdef01234567",
		Source:    "https://github.com/tern-rollouts/tern",
		Created:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		CACerts:   ca,
		Platforms: []Platform{{OS: "linux", Arch: runtime.GOARCH}},
	}
}

// Two builds of the same source are the same image, byte for byte, and it is the image the
// Deployment expects: entrypoint, non-root user, labels, a static binary that runs.
func TestImageIsReproducibleAndWellFormed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tern-controller twice")
	}
	o := testOptions(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")
	da, err := Build(context.Background(), o, a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Build(context.Background(), o, b)
	if err != nil {
		t.Fatal(err)
	}
	if da != db {
		t.Errorf("same source, different digests: %s and %s", da, db)
	}
	ta, _ := os.ReadFile(a)
	tb, _ := os.ReadFile(b)
	if !bytes.Equal(ta, tb) {
		t.Errorf("same source, different tarballs (%d and %d bytes)", len(ta), len(tb))
	}

	idx, ref := openLayout(t, a)
	if len(ref.Annotations) == 0 || ref.Annotations[RefName] != o.Version || ref.Annotations[ContainerdRefName] != o.Repo+":"+o.Version {
		t.Errorf("index.json annotations = %v, want the tag and full name", ref.Annotations)
	}
	if ref.Digest != da {
		t.Errorf("index.json points at %s, Build returned %s", ref.Digest, da)
	}
	img, err := idx.Image(ref.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Config.Entrypoint; !reflect.DeepEqual(got, []string{"/tern-controller"}) {
		t.Errorf("entrypoint %v", got)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("user %q", cfg.Config.User)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.source":   o.Source,
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.created":  "2026-01-02T03:04:05Z",
		"org.opencontainers.image.title":    "tern-controller",
	}
	if !reflect.DeepEqual(cfg.Config.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", cfg.Config.Labels, wantLabels)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH || !cfg.Created.Time.Equal(o.Created) {
		t.Errorf("config os/arch/created = %s/%s/%s", cfg.OS, cfg.Architecture, cfg.Created)
	}
	mt, _ := img.MediaType()
	if mt != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("manifest media type %s, want OCI", mt)
	}

	files := layerFiles(t, img)
	for name, mode := range map[string]int64{
		"tern-controller": 0o755, "etc/ssl/certs/ca-certificates.crt": 0o644, "etc/passwd": 0o644, "tmp/": 0o1777,
	} {
		h, ok := files[name]
		switch {
		case !ok:
			t.Errorf("image lacks /%s", name)
		case h.Mode != mode || !h.ModTime.Equal(o.Created):
			t.Errorf("/%s: mode %o, mtime %s", name, h.Mode, h.ModTime)
		}
	}
	if len(files) != 10 {
		t.Errorf("%d files in the image, want only the 10 it is built with", len(files))
	}

	// The binary is static and stamped: it runs here, with nothing from the image around it.
	if runtime.GOOS != "linux" {
		return // a linux binary; nothing to run it on
	}
	bin := filepath.Join(dir, "tern-controller")
	extract(t, img, "tern-controller", bin)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "tern-controller "+o.Version {
		t.Errorf("tern-controller --version: %q, %v", out, err)
	}
	if ldd, err := exec.LookPath("ldd"); err == nil {
		out, _ := exec.Command(ldd, bin).CombinedOutput()
		if !strings.Contains(string(out), "not a dynamic executable") && !strings.Contains(string(out), "statically linked") {
			t.Errorf("tern-controller is not static: %s", out)
		}
	}
}

// openLayout unpacks an OCI layout tarball and returns its index and the one descriptor of
// index.json.
func openLayout(t *testing.T, tarball string) (v1.ImageIndex, v1.Descriptor) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"oci-layout", "index.json"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Fatalf("not an OCI layout: %v", err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("index.json has %d manifests, want 1", len(m.Manifests))
	}
	return idx, m.Manifests[0]
}

func layerFiles(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h
	}
}

func extract(t *testing.T, img v1.Image, name, to string) {
	t.Helper()
	layers, _ := img.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in the layer: %v", name, err)
		}
		if h.Name == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(to, data, 0o755); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}
