package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image facts other code and tests rely on.
const (
	Entrypoint = "/tern-controller"
	// User is distroless' "nonroot": not root, and not a UID that might own host files.
	User = "65532:65532"

	LabelSource   = "org.opencontainers.image.source"
	LabelVersion  = "org.opencontainers.image.version"
	LabelRevision = "org.opencontainers.image.revision"
	LabelCreated  = "org.opencontainers.image.created"
	LabelTitle    = "org.opencontainers.image.title"
	// RefName is the tag of the image in the layout's index.json; containerd reads the
	// full name from its own annotation.
	RefName           = "org.opencontainers.image.ref.name"
	ContainerdRefName = "io.containerd.image.name"
)

// Platform is an os/arch pair to build for.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Options say what to build and how to label it.
type Options struct {
	Go        string // the go command
	Dir       string // module root
	Package   string // the main package, relative to Dir
	Repo      string
	Version   string
	Revision  string
	Source    string
	Created   time.Time
	CACerts   string
	Platforms []Platform
}

func (o Options) platformList() string {
	var s []string
	for _, p := range o.Platforms {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// tag is a valid image tag (the OCI distribution spec's grammar).
var tag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// Build compiles the binary for every platform, assembles the image (an image index when
// there is more than one platform) and writes it as an OCI image layout tarball to out. It
// returns the digest of what the layout's index.json points at.
func Build(ctx context.Context, o Options, out string) (v1.Hash, error) {
	if !tag.MatchString(o.Version) {
		return v1.Hash{}, fmt.Errorf("-version %q is not a valid image tag", o.Version)
	}
	ca, err := os.ReadFile(o.CACerts)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("CA certificates: %w", err)
	}
	tmp, err := os.MkdirTemp("", "tern-image-")
	if err != nil {
		return v1.Hash{}, err
	}
	defer os.RemoveAll(tmp)

	var images []mutate.IndexAddendum
	for _, p := range o.Platforms {
		bin := filepath.Join(tmp, "tern-controller-"+p.OS+"-"+p.Arch)
		if err := buildBinary(ctx, o, p, bin); err != nil {
			return v1.Hash{}, err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return v1.Hash{}, err
		}
		img, err := Image(o, p, data, ca)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("%s: %w", p, err)
		}
		images = append(images, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch},
		}})
	}

	dir := filepath.Join(tmp, "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	refs := layout.WithAnnotations(map[string]string{
		RefName:           o.Version,
		ContainerdRefName: o.Repo + ":" + o.Version,
	})
	// One platform: index.json points at the image itself, which every tool can load. More:
	// at an image index, from which runtimes pick their platform.
	var digest v1.Hash
	if len(images) == 1 {
		img := images[0].Add.(v1.Image)
		if digest, err = img.Digest(); err == nil {
			err = lp.AppendImage(img, refs, layout.WithPlatform(*images[0].Descriptor.Platform))
		}
	} else {
		idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, images...), types.OCIImageIndex)
		idx = mutate.Annotations(idx, o.annotations()).(v1.ImageIndex)
		if digest, err = idx.Digest(); err == nil {
			err = lp.AppendIndex(idx, refs)
		}
	}
	if err != nil {
		return v1.Hash{}, fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return v1.Hash{}, err
	}
	if err := tarDir(dir, out, o.Created); err != nil {
		return v1.Hash{}, err
	}
	return digest, nil
}

// buildBinary is the one place the controller's release build flags are written down:
// static (no cgo, so no libc in the image), no local paths, no VCS stamp (the version
// comes from -X), no symbol tables.
func buildBinary(ctx context.Context, o Options, p Platform, out string) error {
	cmd := exec.CommandContext(ctx, o.Go, "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X main.version="+o.Version, "-o", out, o.Package)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", o.Package, p, err, stderr.String())
	}
	return nil
}

func (o Options) labels() map[string]string {
	return map[string]string{
		LabelSource:   o.Source,
		LabelVersion:  o.Version,
		LabelRevision: o.Revision,
		LabelCreated:  o.Created.Format(time.RFC3339),
		LabelTitle:    "tern-controller",
	}
}

// annotations of the manifest repeat the labels, for registries that show only those.
func (o Options) annotations() map[string]string { return o.labels() }

// Image assembles the image of one platform: a single layer with the binary, the CA
// bundle and the passwd/group entries of the user it runs as.
func Image(o Options, p Platform, binary, ca []byte) (v1.Image, error) {
	layerTar, err := rootfs(binary, ca, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   v1.Time{Time: o.Created},
		CreatedBy: "hack/image: tern-controller " + o.Version + " and CA certificates",
	}})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = p.OS, p.Arch
	cfg.Created = v1.Time{Time: o.Created}
	cfg.Config = v1.Config{
		Entrypoint: []string{Entrypoint},
		User:       User,
		WorkingDir: "/",
		Env:        []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Labels:     o.labels(),
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	img, ok := mutate.Annotations(img, o.annotations()).(v1.Image)
	if !ok {
		return nil, errors.New("annotated image is not an image")
	}
	return img, nil
}

// rootfs is the image's only layer. Every entry has the same timestamp and root ownership,
// in a fixed order, so that the layer's bytes depend on its contents alone.
func rootfs(binary, ca []byte, created time.Time) ([]byte, error) {
	type entry struct {
		name string
		mode int64
		data []byte // nil for a directory
	}
	entries := []entry{
		{"etc/", 0o755, nil},
		{"etc/group", 0o644, []byte("root:x:0:\nnonroot:x:65532:\n")},
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{"etc/ssl/", 0o755, nil},
		{"etc/ssl/certs/", 0o755, nil},
		{"etc/ssl/certs/ca-certificates.crt", 0o644, ca},
		{"home/", 0o755, nil},
		{"home/nonroot/", 0o700, nil},
		{"tern-controller", 0o755, binary},
		// Go's os.TempDir; the controller writes nothing, but libraries may.
		{"tmp/", 0o1777, nil},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: created, Format: tar.FormatPAX, Typeflag: tar.TypeDir}
		if e.data != nil {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if e.name == "home/nonroot/" {
			h.Uid, h.Gid = 65532, 65532
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tarDir packs the layout directory in name order, with fixed times and ownership.
func tarDir(dir, out string, mtime time.Time) error {
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		names = append(names, path)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	tw := tar.NewWriter(f)
	for _, path := range names {
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: mtime, Format: tar.FormatPAX}
		if fi.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
		} else {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, fi.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.IsDir() {
			src, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			if err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
