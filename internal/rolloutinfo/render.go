package rolloutinfo

import (
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// RenderOptions says how to render. Now is what ages and scale-down delays are measured
// against; Color turns on ANSI colours.
type RenderOptions struct {
	Now   time.Time
	Color bool
}

// headerFormat is the label column of the header block.
const headerFormat = "%-17s%v\n"

// ANSI colour codes.
const (
	fgRed    = 31
	fgGreen  = 32
	fgYellow = 33
	fgHiBlue = 94
)

// colours maps icons, role tags and analysis phases to a colour. Paused and neutral
// icons stay in the terminal's foreground colour.
var colours = map[string]int{
	IconWaiting:     fgYellow,
	IconProgressing: fgHiBlue,
	IconWarning:     fgRed,
	IconUnknown:     fgYellow,
	IconOK:          fgGreen,
	IconBad:         fgRed,
	TagCanary:       fgYellow,
	TagStable:       fgGreen,
	TagActive:       fgGreen,
	TagPreview:      fgHiBlue,
	TagPing:         fgHiBlue,
	TagPong:         fgHiBlue,
	"Pending":       fgHiBlue,
	"Running":       fgHiBlue,
}

type painter bool

// paint colours s with the colour of key, if it has one.
func (p painter) paint(s, key string) string {
	code, ok := colours[key]
	if !bool(p) || !ok {
		return s
	}
	return fmt.Sprintf("\x1b[%dm%s\x1b[0m", code, s)
}

func (p painter) word(s string) string { return p.paint(s, s) }

// Render writes the header block, a blank line and the tree of r. Lines carry no
// trailing blanks, so the output is the same whether or not a column is empty.
func Render(w io.Writer, r *Rollout, o RenderOptions) error {
	var b strings.Builder
	p := painter(o.Color)
	writeHeader(&b, r, p)
	b.WriteByte('\n')
	writeTree(&b, r, o.Now, p)
	_, err := io.WriteString(w, trimLines(b.String()))
	return err
}

// RenderExperiment writes the header block of an experiment, a blank line and its tree:
// the experiment, its ReplicaSets with their pods, and its AnalysisRuns.
func RenderExperiment(w io.Writer, e *Experiment, o RenderOptions) error {
	var b strings.Builder
	p := painter(o.Color)
	fmt.Fprintf(&b, headerFormat, "Name:", e.Name)
	fmt.Fprintf(&b, headerFormat, "Namespace:", e.Namespace)
	fmt.Fprintf(&b, headerFormat, "Status:", p.word(e.Icon)+" "+e.Status)
	if e.Message != "" {
		fmt.Fprintf(&b, headerFormat, "Message:", e.Message)
	}
	writeImages(&b, e.Images(), p)
	b.WriteByte('\n')
	t := &tree{now: o.Now, p: p}
	t.t.add("NAME", "KIND", "STATUS", "AGE", "INFO")
	t.experiment(*e, "", "")
	t.t.write(&b)
	_, err := io.WriteString(w, trimLines(b.String()))
	return err
}

// RenderHeader writes only the header block.
func RenderHeader(w io.Writer, r *Rollout, color bool) error {
	var b strings.Builder
	writeHeader(&b, r, painter(color))
	_, err := io.WriteString(w, trimLines(b.String()))
	return err
}

func writeHeader(b *strings.Builder, r *Rollout, p painter) {
	fmt.Fprintf(b, headerFormat, "Name:", r.Name)
	fmt.Fprintf(b, headerFormat, "Namespace:", r.Namespace)
	fmt.Fprintf(b, headerFormat, "Status:", p.word(r.Icon)+" "+string(r.Phase))
	if r.Message != "" {
		fmt.Fprintf(b, headerFormat, "Message:", r.Message)
	}
	fmt.Fprintf(b, headerFormat, "Strategy:", r.Strategy)
	if r.Strategy == "Canary" {
		fmt.Fprintf(b, headerFormat, "  Step:", r.Step)
		fmt.Fprintf(b, headerFormat, "  SetWeight:", r.SetWeight)
		fmt.Fprintf(b, headerFormat, "  ActualWeight:", r.ActualWeight)
	}
	writeImages(b, r.Images(), p)
	b.WriteString("Replicas:\n")
	fmt.Fprintf(b, headerFormat, "  Desired:", r.Desired)
	fmt.Fprintf(b, headerFormat, "  Current:", r.Current)
	fmt.Fprintf(b, headerFormat, "  Updated:", r.Updated)
	fmt.Fprintf(b, headerFormat, "  Ready:", r.Ready)
	fmt.Fprintf(b, headerFormat, "  Available:", r.Available)
}

// writeImages lists images one a line, the first labelled "Images:".
func writeImages(b *strings.Builder, images []Image, p painter) {
	for i, img := range images {
		label := ""
		if i == 0 {
			label = "Images:"
		}
		fmt.Fprintf(b, headerFormat, label, formatImage(img, p))
	}
}

func formatImage(img Image, p painter) string {
	if len(img.Tags) == 0 {
		return img.Image
	}
	tags := make([]string, len(img.Tags))
	for i, t := range img.Tags {
		tags[i] = p.word(t)
	}
	return fmt.Sprintf("%s (%s)", img.Image, strings.Join(tags, ", "))
}

// tree renders the rows under the header line NAME KIND STATUS AGE INFO.
type tree struct {
	t   table
	now time.Time
	p   painter
}

func (t *tree) age(created time.Time) string {
	return duration.HumanDuration(t.now.Sub(created))
}

func (t *tree) row(prefix, icon, name, kind, statusIcon, status string, created time.Time, info string) {
	t.t.add(prefix+icon+" "+name, kind, t.p.word(statusIcon)+" "+status, t.age(created), info)
}

// branch returns the prefix of a child and the prefix its own children continue with.
func branch(last bool, indent string) (string, string) {
	if last {
		return indent + "└──", indent + "   "
	}
	return indent + "├──", indent + "│  "
}

func writeTree(b *strings.Builder, r *Rollout, now time.Time, p painter) {
	t := &tree{now: now, p: p}
	t.t.add("NAME", "KIND", "STATUS", "AGE", "INFO")
	t.row("", IconRollout, r.Name, "Rollout", r.Icon, string(r.Phase), r.Created, "")
	revs := r.Revisions()
	for i, rev := range revs {
		prefix, indent := branch(i == len(revs)-1, "")
		t.revision(r, rev, prefix, indent)
	}
	t.t.write(b)
}

func (t *tree) revision(r *Rollout, rev int, prefix, indent string) {
	t.t.add(fmt.Sprintf("%s%s revision:%d", prefix, IconRevision, rev), "", " ", "", "")
	var children []func(prefix, indent string)
	for _, rs := range r.ReplicaSets {
		if rs.Revision == rev {
			children = append(children, func(p, i string) { t.replicaSet(rs, p, i) })
		}
	}
	for _, e := range r.Experiments {
		if e.Revision == rev {
			children = append(children, func(p, i string) { t.experiment(e, p, i) })
		}
	}
	for _, ar := range r.AnalysisRuns {
		if ar.Revision == rev {
			children = append(children, func(p, i string) { t.analysisRun(ar, p, i) })
		}
	}
	for i, child := range children {
		child(branch(i == len(children)-1, indent))
	}
}

func (t *tree) replicaSet(rs ReplicaSet, prefix, indent string) {
	var info []string
	name := rs.Name
	// The name takes the colour of its first role, the info column lists them all.
	tag := func(on bool, s string) {
		if !on {
			return
		}
		if len(info) == 0 {
			name = t.p.paint(rs.Name, s)
		}
		info = append(info, t.p.word(s))
	}
	tag(rs.Stable, TagStable)
	switch {
	case rs.Canary:
		tag(true, TagCanary)
	case rs.Active:
		tag(true, TagActive)
	case rs.Preview:
		tag(true, TagPreview)
	}
	tag(rs.Ping, TagPing)
	tag(rs.Pong, TagPong)
	if rs.ScaleDownDeadline != "" {
		info = append(info, "delay:"+rs.ScaleDownDelay(t.now))
	}
	t.row(prefix, IconReplicaSet, name, "ReplicaSet", rs.Icon, rs.Status, rs.Created, strings.Join(info, ","))
	for i, pod := range rs.Pods {
		podPrefix, _ := branch(i == len(rs.Pods)-1, indent)
		podInfo := "ready:" + pod.Ready
		if pod.Restarts > 0 {
			podInfo += fmt.Sprintf(",restarts:%d", pod.Restarts)
		}
		t.row(podPrefix, IconPod, pod.Name, "Pod", pod.Icon, pod.Status, pod.Created, podInfo)
	}
}

func (t *tree) experiment(e Experiment, prefix, indent string) {
	t.row(prefix, IconExperiment, t.p.paint(e.Name, e.Status), "Experiment", e.Icon, e.Status, e.Created, "")
	total := len(e.ReplicaSets) + len(e.AnalysisRuns)
	n := 0
	for _, rs := range e.ReplicaSets {
		n++
		p, i := branch(n == total, indent)
		t.replicaSet(rs, p, i)
	}
	for _, ar := range e.AnalysisRuns {
		n++
		p, i := branch(n == total, indent)
		t.analysisRun(ar, p, i)
	}
}

func (t *tree) analysisRun(ar AnalysisRun, prefix, indent string) {
	var info []string
	for _, c := range []struct {
		n    int32
		icon string
	}{{ar.Successful, IconOK}, {ar.Failed, IconBad}, {ar.Inconclusive, IconUnknown}, {ar.Error, IconWarning}} {
		if c.n > 0 {
			info = append(info, fmt.Sprintf("%s %d", t.p.word(c.icon), c.n))
		}
	}
	t.row(prefix, IconAnalysis, t.p.paint(ar.Name, ar.Status), "AnalysisRun", ar.Icon, ar.Status, ar.Created, strings.Join(info, ","))
	for i, job := range ar.Jobs {
		p, _ := branch(i == len(ar.Jobs)-1, indent)
		t.row(p, IconJob, t.p.paint(job.Name, job.Status), "Job", job.Icon, job.Status, job.Created, "")
	}
}

// trimLines drops trailing blanks from every line.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
