// Package version holds the build information of the plugin. The variables are
// stamped at link time with -ldflags "-X github.com/tern-rollouts/tern/internal/cli/version.gitCommit=..."
// (see mk/cli.mk); a plain `go build` leaves the defaults, which mark the build as
// unreleased.
package version

import (
	"fmt"
	"runtime"
)

var (
	version      = "99.99.99"
	buildDate    = "1970-01-01T00:00:00Z"
	gitCommit    = ""
	gitTag       = ""
	gitTreeState = ""
)

// Info is the build information printed by `version`.
type Info struct {
	Version      string
	BuildDate    string
	GitCommit    string
	GitTag       string
	GitTreeState string
	GoVersion    string
	Compiler     string
	Platform     string
}

// Get returns the build information. The version is the git tag only for a build of a
// clean, tagged tree; anything else is v<version>+<short commit>[.dirty], or
// v99.99.99+unknown when nothing was stamped, so an unreleased build never passes for a
// release.
func Get() Info {
	v := gitTag
	if gitCommit == "" || gitTag == "" || gitTreeState != "clean" {
		v = "v" + version
		if len(gitCommit) >= 7 {
			v += "+" + gitCommit[:7]
			if gitTreeState != "clean" {
				v += ".dirty"
			}
		} else {
			v += "+unknown"
		}
	}
	return Info{
		Version:      v,
		BuildDate:    buildDate,
		GitCommit:    gitCommit,
		GitTag:       gitTag,
		GitTreeState: gitTreeState,
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}
