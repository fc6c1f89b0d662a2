package rolloutinfo_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tern-rollouts/tern/internal/rolloutinfo"
	"github.com/tern-rollouts/tern/internal/rolloutinfo/fixture"
)

var update = flag.Bool("update", false, "rewrite goldens that are not copied from compat.md")

// verbatim goldens come from compat.md §2.5 and must never be regenerated.
var verbatim = map[string]bool{"bluegreen-paused": true, "canary-aborted": true}

func render(t *testing.T, name string, color bool) string {
	t.Helper()
	objs, err := fixture.Load(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := fixture.Objects(objs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rolloutinfo.Render(&buf, rolloutinfo.New(in), rolloutinfo.RenderOptions{Now: fixture.Now, Color: color}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestRenderGoldens(t *testing.T) {
	for _, name := range []string{"bluegreen-paused", "canary-aborted", "canary-paused"} {
		t.Run(name, func(t *testing.T) {
			got := render(t, name, false)
			path := filepath.Join("testdata", name+".golden")
			if *update && !verbatim[name] {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
			}
		})
	}
}

// Colour must not change the layout: once the escapes are removed the text is the
// same as without colour.
func TestRenderColourKeepsAlignment(t *testing.T) {
	for _, name := range []string{"bluegreen-paused", "canary-aborted", "canary-paused"} {
		coloured := render(t, name, true)
		if !strings.Contains(coloured, "\x1b[32m✔\x1b[0m") {
			t.Errorf("%s: expected a green ✔ in coloured output", name)
		}
		plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(coloured, "")
		if want := render(t, name, false); plain != want {
			t.Errorf("%s: coloured output misaligned\n%s", name, plain)
		}
	}
}
