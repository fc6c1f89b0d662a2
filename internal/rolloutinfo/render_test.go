package rolloutinfo_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/rolloutinfo"
	"github.com/tern-rollouts/tern/internal/rolloutinfo/fixture"
)

var update = flag.Bool("update", false, "rewrite goldens that are not copied from compat.md")

// verbatim goldens come from compat.md §2.5 and must never be regenerated.
var verbatim = map[string]bool{"bluegreen-paused": true, "canary-aborted": true}

// goldens are the fixtures with a rendering in testdata; the name's prefix says which
// renderer: experiment-*, analysisrun-* or a rollout.
var goldens = []string{"bluegreen-paused", "canary-aborted", "canary-paused", "rollout-invalid", "experiment-running", "analysisrun-failed"}

func render(t *testing.T, name string, color bool) string {
	t.Helper()
	objs, err := fixture.Load(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	in := fixture.Collect(objs)
	o := rolloutinfo.RenderOptions{Now: fixture.Now, Color: color}
	var buf bytes.Buffer
	switch {
	case strings.HasPrefix(name, "experiment-"):
		err = rolloutinfo.RenderExperiment(&buf, rolloutinfo.NewExperiment(&in.Experiments[0], in), o)
	case strings.HasPrefix(name, "analysisrun-"):
		err = rolloutinfo.RenderRun(&buf, rolloutinfo.NewRun(&in.AnalysisRuns[0]), o)
	default:
		if in.Rollout == nil {
			t.Fatalf("%s: no Rollout in the fixture", name)
		}
		err = rolloutinfo.Render(&buf, rolloutinfo.New(in), o)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestRenderGoldens(t *testing.T) {
	for _, name := range goldens {
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
	for _, name := range goldens {
		coloured := render(t, name, true)
		want := "\x1b[32m✔\x1b[0m"
		if name == "rollout-invalid" {
			// Nothing is healthy there: the status is a red ✖.
			want = "\x1b[31m✖\x1b[0m"
		}
		if !strings.Contains(coloured, want) {
			t.Errorf("%s: expected %q in coloured output", name, want)
		}
		plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(coloured, "")
		if want := render(t, name, false); plain != want {
			t.Errorf("%s: coloured output misaligned\n%s", name, plain)
		}
	}
}

// A run's arguments from Secrets show as <secret>: neither the Secret's name, nor its
// key, nor anything resolved from it appears.
func TestRenderRunHidesSecrets(t *testing.T) {
	out := render(t, "analysisrun-failed", false)
	if !strings.Contains(out, "api-token="+rolloutinfo.SecretValue) {
		t.Errorf("secret argument not shown as %s:\n%s", rolloutinfo.SecretValue, out)
	}
	for _, leak := range []string{"prometheus-token", "token\n", "secretKeyRef"} {
		if strings.Contains(out, leak) {
			t.Errorf("output contains %q:\n%s", leak, out)
		}
	}
}

// A run the controller has not picked up yet shows every metric as Pending.
func TestRenderRunBeforeFirstMeasurement(t *testing.T) {
	objs, err := fixture.Load(filepath.Join("testdata", "analysisrun-failed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	run := fixture.Collect(objs).AnalysisRuns[0]
	run.Status = v1alpha1.AnalysisRunStatus{}
	var buf bytes.Buffer
	if err := rolloutinfo.RenderRun(&buf, rolloutinfo.NewRun(&run), rolloutinfo.RenderOptions{Now: fixture.Now}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if got := strings.Count(out, "  Status:        ◷ Pending"); got != 3 {
		t.Errorf("%d pending metrics, want 3:\n%s", got, out)
	}
	if !strings.Contains(out, "Status:          ◷ Pending\n") || strings.Contains(out, "Started:") || strings.Contains(out, "STATUS") {
		t.Errorf("unexpected rendering of a new run:\n%s", out)
	}
}

// An experiment no controller has picked up yet is Pending, as `list experiments` says.
func TestRenderNewExperimentIsPending(t *testing.T) {
	exp := &v1alpha1.Experiment{}
	exp.Name, exp.Namespace = "new", "shop"
	exp.CreationTimestamp.Time = fixture.Now
	var buf bytes.Buffer
	if err := rolloutinfo.RenderExperiment(&buf, rolloutinfo.NewExperiment(exp, rolloutinfo.Objects{}), rolloutinfo.RenderOptions{Now: fixture.Now}); err != nil {
		t.Fatal(err)
	}
	want := "Name:            new\nNamespace:       shop\nStatus:          ◷ Pending\n\n" +
		"NAME   KIND        STATUS     AGE  INFO\nΣ new  Experiment  ◷ Pending  0s\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
