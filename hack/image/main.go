// Command image builds the tern-controller container image without Docker (`make image`):
// a static binary on an empty base plus CA certificates, run as 65532:65532, written as an
// OCI image layout tarball that `crane push`, `skopeo copy oci-archive:...`, `ctr images
// import` or `podman load` take as is. The same source (and CA bundle) gives the same
// digest: the binary is built reproducibly and every timestamp is -created.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"
)

type platformsFlag []Platform

func (p *platformsFlag) String() string {
	var s []string
	for _, x := range *p {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

func (p *platformsFlag) Set(v string) error {
	os, arch, ok := strings.Cut(v, "/")
	if !ok || os == "" || arch == "" {
		return fmt.Errorf("platform %q is not os/arch", v)
	}
	*p = append(*p, Platform{OS: os, Arch: arch})
	return nil
}

func main() {
	o := Options{Go: os.Getenv("GO"), Package: "./cmd/tern-controller", Dir: "."}
	var platforms platformsFlag
	var created int64
	var out string
	flag.StringVar(&out, "out", "dist/tern-controller-image.tar", "the OCI image layout tarball to write")
	flag.StringVar(&o.Dir, "dir", o.Dir, "root of the module to build from")
	flag.StringVar(&o.Repo, "repo", "ghcr.io/tern-rollouts/tern", "image repository, recorded with the tag in the layout's index")
	flag.StringVar(&o.Version, "version", "", "version: the image tag, the binary's -X main.version and the version label")
	flag.StringVar(&o.Revision, "revision", "", "source revision (git commit) for the revision label")
	flag.StringVar(&o.Source, "source", "https://github.com/tern-rollouts/tern", "source repository URL for the source label")
	flag.Int64Var(&created, "created", 0, "creation time of the image and its files, in Unix seconds (make passes the commit's time)")
	flag.StringVar(&o.CACerts, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to install as /etc/ssl/certs/ca-certificates.crt")
	flag.Var(&platforms, "platform", "os/arch to build for; repeat for a multi-platform image (default linux/amd64)")
	flag.Parse()
	o.Created = time.Unix(created, 0).UTC()
	o.Platforms = platforms
	if len(o.Platforms) == 0 {
		o.Platforms = []Platform{{OS: "linux", Arch: "amd64"}}
	}
	if o.Go == "" {
		o.Go = "go"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	digest, err := Build(ctx, o, out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf(">> %s: %s:%s (%s)\n", out, o.Repo, o.Version, o.platformList())
	fmt.Printf("digest: %s\n", digest)
}
