package rolloutinfo

import (
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis/metricsource"
)

// SecretValue is shown in place of an argument taken from a Secret. The run only holds
// the reference, but printing even that invites pasting the Secret's name and key next
// to a value someone then looks up; the placeholder says enough.
const SecretValue = "<secret>"

// Run is the detailed view of one AnalysisRun: what `get analysisrun` shows so that a
// user sees why it ended the way it did.
type Run struct {
	Name      string
	Namespace string
	Created   time.Time
	Phase     v1alpha1.AnalysisPhase
	Icon      string
	Message   string
	Started   time.Time
	Completed time.Time
	// Terminated is spec.terminate: someone (or the rollout) asked the run to stop.
	Terminated bool
	Args       []RunArg
	Counts     Counts
	Metrics    []RunMetric
}

// RunArg is an argument of the run with the value it shows.
type RunArg struct {
	Name, Value string
}

// Counts are measurement counts by outcome.
type Counts struct {
	Successful, Failed, Inconclusive, Error int32
}

func (c *Counts) add(o Counts) {
	c.Successful += o.Successful
	c.Failed += o.Failed
	c.Inconclusive += o.Inconclusive
	c.Error += o.Error
}

// RunMetric is one metric of a run: its spec side and what has been measured.
type RunMetric struct {
	Name     string
	DryRun   bool
	Phase    v1alpha1.AnalysisPhase
	Icon     string
	Message  string
	Provider string
	// SuccessCondition and FailureCondition are the expressions judged on each value.
	SuccessCondition, FailureCondition string
	Count                              int32
	Counts                             Counts
	ConsecutiveError                   int32
	Measurements                       []RunMeasurement
}

// RunMeasurement is one measurement of a metric.
type RunMeasurement struct {
	Phase    v1alpha1.AnalysisPhase
	Icon     string
	Value    string
	Message  string
	Started  time.Time
	Finished time.Time
}

// NewRun builds the view of run. Metrics come in the order of the spec, each with its
// result; a metric not measured yet is Pending.
func NewRun(run *v1alpha1.AnalysisRun) *Run {
	r := &Run{
		Name:       run.Name,
		Namespace:  run.Namespace,
		Created:    run.CreationTimestamp.Time,
		Phase:      run.Status.Phase,
		Message:    run.Status.Message,
		Terminated: run.Spec.Terminate,
	}
	if r.Phase == "" {
		r.Phase = v1alpha1.AnalysisPhasePending
	}
	r.Icon = analysisIcon(r.Phase)
	r.Started = timeOf(run.Status.StartedAt)
	r.Completed = timeOf(run.Status.CompletedAt)
	for _, a := range run.Spec.Args {
		r.Args = append(r.Args, RunArg{Name: a.Name, Value: argValue(a)})
	}
	results := map[string]*v1alpha1.MetricResult{}
	for i := range run.Status.MetricResults {
		results[run.Status.MetricResults[i].Name] = &run.Status.MetricResults[i]
	}
	dryRun := map[string]bool{}
	for _, d := range run.Spec.DryRun {
		dryRun[d.MetricName] = true
	}
	for i := range run.Spec.Metrics {
		m := &run.Spec.Metrics[i]
		rm := RunMetric{
			Name:             m.Name,
			DryRun:           dryRun[m.Name] || dryRun["*"],
			Phase:            v1alpha1.AnalysisPhasePending,
			Provider:         providerName(&m.Provider),
			SuccessCondition: m.SuccessCondition,
			FailureCondition: m.FailureCondition,
		}
		if res := results[m.Name]; res != nil {
			fillResult(&rm, res)
			delete(results, m.Name)
		}
		rm.Icon = analysisIcon(rm.Phase)
		r.Counts.add(rm.Counts)
		r.Metrics = append(r.Metrics, rm)
	}
	// A result whose metric left the spec still tells what was measured.
	for i := range run.Status.MetricResults {
		res := &run.Status.MetricResults[i]
		if results[res.Name] == nil {
			continue
		}
		rm := RunMetric{Name: res.Name}
		fillResult(&rm, res)
		rm.Icon = analysisIcon(rm.Phase)
		r.Counts.add(rm.Counts)
		r.Metrics = append(r.Metrics, rm)
	}
	return r
}

func fillResult(rm *RunMetric, res *v1alpha1.MetricResult) {
	if res.Phase != "" {
		rm.Phase = res.Phase
	}
	rm.DryRun = rm.DryRun || res.DryRun
	rm.Message = res.Message
	rm.Count = res.Count
	rm.Counts = Counts{Successful: res.Successful, Failed: res.Failed, Inconclusive: res.Inconclusive, Error: res.Error}
	rm.ConsecutiveError = res.ConsecutiveError
	for _, m := range res.Measurements {
		rm.Measurements = append(rm.Measurements, RunMeasurement{
			Phase:    m.Phase,
			Icon:     analysisIcon(m.Phase),
			Value:    m.Value,
			Message:  m.Message,
			Started:  timeOf(m.StartedAt),
			Finished: timeOf(m.FinishedAt),
		})
	}
}

func argValue(a v1alpha1.Argument) string {
	switch {
	case a.ValueFrom != nil && a.ValueFrom.SecretKeyRef != nil:
		return SecretValue
	case a.ValueFrom != nil && a.ValueFrom.FieldRef != nil:
		return "<fieldRef " + a.ValueFrom.FieldRef.FieldPath + ">"
	case a.Value != nil:
		return *a.Value
	}
	return "<unset>"
}

// providerName names the provider of a metric, or lists them when a (bad) metric sets
// several.
func providerName(mp *v1alpha1.MetricProvider) string {
	return strings.Join(metricsource.Names(mp), ", ")
}

// RenderRun writes the header block of a run, then a block per metric with its
// measurements, oldest first.
func RenderRun(w io.Writer, r *Run, o RenderOptions) error {
	var b strings.Builder
	p := painter(o.Color)
	fmt.Fprintf(&b, headerFormat, "Name:", r.Name)
	fmt.Fprintf(&b, headerFormat, "Namespace:", r.Namespace)
	fmt.Fprintf(&b, headerFormat, "Status:", p.word(r.Icon)+" "+string(r.Phase))
	if r.Message != "" {
		fmt.Fprintf(&b, headerFormat, "Message:", r.Message)
	}
	if r.Terminated {
		fmt.Fprintf(&b, headerFormat, "Terminated:", "true")
	}
	if !r.Started.IsZero() {
		fmt.Fprintf(&b, headerFormat, "Started:", stamp(r.Started, o.Now))
	}
	if !r.Completed.IsZero() {
		fmt.Fprintf(&b, headerFormat, "Completed:", stamp(r.Completed, o.Now))
	}
	for i, a := range r.Args {
		label := ""
		if i == 0 {
			label = "Args:"
		}
		fmt.Fprintf(&b, headerFormat, label, a.Name+"="+a.Value)
	}
	fmt.Fprintf(&b, headerFormat, "Measurements:", countsString(r.Counts, p))
	for _, m := range r.Metrics {
		b.WriteByte('\n')
		name := m.Name
		if m.DryRun {
			name += " (dry run)"
		}
		fmt.Fprintf(&b, headerFormat, "Metric:", name)
		fmt.Fprintf(&b, headerFormat, "  Status:", p.word(m.Icon)+" "+string(m.Phase))
		if m.Message != "" {
			fmt.Fprintf(&b, headerFormat, "  Message:", m.Message)
		}
		if m.Provider != "" {
			fmt.Fprintf(&b, headerFormat, "  Provider:", m.Provider)
		}
		if m.SuccessCondition != "" {
			fmt.Fprintf(&b, headerFormat, "  Success:", m.SuccessCondition)
		}
		if m.FailureCondition != "" {
			fmt.Fprintf(&b, headerFormat, "  Failure:", m.FailureCondition)
		}
		counts := countsString(m.Counts, p)
		if m.ConsecutiveError > 0 {
			counts += fmt.Sprintf(" (%d consecutive errors)", m.ConsecutiveError)
		}
		fmt.Fprintf(&b, headerFormat, "  Measurements:", counts)
		if len(m.Measurements) == 0 {
			continue
		}
		var t table
		t.add("    STATUS", "VALUE", "STARTED", "FINISHED", "MESSAGE")
		for _, ms := range m.Measurements {
			t.add("    "+p.word(ms.Icon)+" "+string(ms.Phase), orDash(ms.Value), orDash(rfc3339(ms.Started)), orDash(rfc3339(ms.Finished)), ms.Message)
		}
		t.write(&b)
	}
	_, err := io.WriteString(w, trimLines(b.String()))
	return err
}

// countsString is the counts as the tree shows them ("✔ 3,✖ 1"), or "none finished"
// before the first measurement ends.
func countsString(c Counts, p painter) string {
	var parts []string
	for _, n := range []struct {
		n    int32
		icon string
	}{{c.Successful, IconOK}, {c.Failed, IconBad}, {c.Inconclusive, IconUnknown}, {c.Error, IconWarning}} {
		if n.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p.word(n.icon), n.n))
		}
	}
	if len(parts) == 0 {
		return "none finished"
	}
	return strings.Join(parts, ",")
}

// stamp is an instant in UTC with how long ago it was, e.g. "2026-01-01T00:00:00Z (7d ago)".
func stamp(t, now time.Time) string {
	return fmt.Sprintf("%s (%s ago)", rfc3339(t), duration.HumanDuration(now.Sub(t)))
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
