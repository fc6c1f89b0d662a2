package analysis

import (
	"fmt"
	"maps"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/validation"
)

// TaskKind says which provider call a Task asks for.
type TaskKind int

// Kinds of tasks.
const (
	// Measure takes a new measurement.
	Measure TaskKind = iota
	// Resume looks again at a measurement still in flight (a Job still running).
	Resume
	// Terminate stops a measurement still in flight because the run is ending.
	Terminate
)

func (k TaskKind) String() string {
	switch k {
	case Measure:
		return "Measure"
	case Resume:
		return "Resume"
	case Terminate:
		return "Terminate"
	}
	return fmt.Sprintf("TaskKind(%d)", int(k))
}

// Task is one provider call the caller must make before Fold.
type Task struct {
	Kind TaskKind
	// Metric has its {{args.*}} placeholders resolved, secrets included: never log or
	// store it.
	Metric v1alpha1.Metric
	// InFlight is the measurement to resume or terminate (a copy).
	InFlight *v1alpha1.Measurement
	// DryRun metrics are measured but do not decide the run's phase.
	DryRun bool
}

// Outcome is what a provider returned for a Task.
type Outcome struct {
	Metric      string
	Kind        TaskKind
	Measurement v1alpha1.Measurement
	// Metadata is stored on the metric's result when its first measurement is folded in
	// (e.g. the resolved Prometheus query); secrets are redacted.
	Metadata map[string]string
}

// Event is a phase transition worth an Event on the run: of a metric, or of the run itself
// when Metric is empty. Only transitions to completed phases are reported.
type Event struct {
	Metric  string
	Phase   v1alpha1.AnalysisPhase
	Message string
}

// Result is the run's new status and when to look at it again.
type Result struct {
	Status v1alpha1.AnalysisRunStatus
	// NextAt is when the run must be reconciled again; zero when only a watch event (a Job
	// finishing, the run's spec changing) can move it.
	NextAt time.Time
	Events []Event
	// Trimmed names the metrics whose old measurements were dropped, with how many were
	// kept, so that providers can delete what those measurements left behind (Jobs).
	Trimmed map[string]int
}

// Round is what a run needs at one point in time: the measurements to take, resume or
// terminate. Build it with NewRound, carry out Tasks, then fold the outcomes in with Fold.
// (It is a round of measuring, not a Rollout decision: that is plan.Plan.)
type Round struct {
	Tasks []Task

	run       *v1alpha1.AnalysisRun
	args      Args
	metrics   []v1alpha1.Metric
	dryRun    map[string]bool
	retention map[string]int
	// invalid is why the run cannot be measured at all; Fold ends it in Error.
	invalid string
	done    bool
}

// NewRound resolves the run's arguments into its metrics and decides which metrics are due
// at now. It does not modify run.
func NewRound(run *v1alpha1.AnalysisRun, args Args, now time.Time) *Round {
	p := &Round{run: run, args: args}
	if run.Status.Phase.Completed() {
		p.done = true
		return p
	}
	if err := p.prepare(); err != nil {
		p.invalid = args.Redact(err.Error())
		return p
	}
	terminating := isTerminating(run.Spec.Terminate, &run.Status, p.dryRun)
	startedAt := now
	if run.Status.StartedAt != nil {
		startedAt = run.Status.StartedAt.Time
	}
	for i := range p.metrics {
		m := &p.metrics[i]
		n, ok := next(m, result(&run.Status, m.Name), startedAt, terminating)
		if !ok || now.Before(n.at) {
			continue
		}
		p.Tasks = append(p.Tasks, Task{Kind: n.kind, Metric: *m, InFlight: n.inFlight, DryRun: p.dryRun[m.Name]})
	}
	return p
}

// prepare resolves the metrics and checks what a run needs before it can be measured.
func (p *Round) prepare() error {
	p.metrics = make([]v1alpha1.Metric, 0, len(p.run.Spec.Metrics))
	for _, m := range p.run.Spec.Metrics {
		r, err := ResolveMetric(m, p.args.Values)
		if err != nil {
			return fmt.Errorf("Unable to resolve metric arguments: %w", err)
		}
		p.metrics = append(p.metrics, r)
	}
	errs := validation.ValidateMetrics(p.metrics, field.NewPath("spec", "metrics"))
	if len(p.metrics) == 0 {
		errs = append(errs, field.Required(field.NewPath("spec", "metrics"), "at least one metric is required"))
	}
	for i := range p.metrics {
		l := limitsOf(&p.metrics[i])
		if l.failure < 0 && l.consecutiveSuccess <= 0 {
			errs = append(errs, field.Invalid(field.NewPath("spec", "metrics").Index(i).Child("failureLimit"), l.failure,
				"failureLimit -1 turns failures off, so consecutiveSuccessLimit must be set (> 0) for the metric to ever end"))
		}
	}
	var err error
	if p.dryRun, err = dryRunMetrics(p.run.Spec.DryRun, p.metrics); err != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec", "dryRun"), "", err.Error()))
	}
	if p.retention, err = retentionLimits(p.run.Spec.MeasurementRetention, p.metrics); err != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec", "measurementRetention"), "", err.Error()))
	}
	if len(errs) > 0 {
		return fmt.Errorf("Analysis spec invalid: %v", errs.ToAggregate())
	}
	return nil
}

func dryRunMetrics(dryRun []v1alpha1.DryRun, metrics []v1alpha1.Metric) (map[string]bool, error) {
	out := map[string]bool{}
	for i, d := range dryRun {
		if d.MetricName == "*" {
			for _, m := range metrics {
				out[m.Name] = true
			}
			continue
		}
		if !hasMetric(metrics, d.MetricName) {
			return nil, fmt.Errorf("dryRun[%d]: the run has no metric %q", i, d.MetricName)
		}
		out[d.MetricName] = true
	}
	return out, nil
}

func retentionLimits(ret []v1alpha1.MeasurementRetention, metrics []v1alpha1.Metric) (map[string]int, error) {
	out := map[string]int{}
	for i, r := range ret {
		if r.MetricName == "*" {
			for _, m := range metrics {
				out[m.Name] = int(r.Limit)
			}
			continue
		}
		if !hasMetric(metrics, r.MetricName) {
			return nil, fmt.Errorf("measurementRetention[%d]: the run has no metric %q", i, r.MetricName)
		}
		out[r.MetricName] = int(r.Limit)
	}
	return out, nil
}

func hasMetric(metrics []v1alpha1.Metric, name string) bool {
	for _, m := range metrics {
		if m.Name == name {
			return true
		}
	}
	return false
}

// isTerminating reports whether the run must take no new measurements: it was told to
// stop, or a metric that counts already failed, errored or was inconclusive.
func isTerminating(terminate bool, s *v1alpha1.AnalysisRunStatus, dryRun map[string]bool) bool {
	if terminate {
		return true
	}
	for _, r := range s.MetricResults {
		if failing(r.Phase) && !dryRun[r.Name] && !r.DryRun {
			return true
		}
	}
	return false
}

// due is what a metric needs next and from when.
type due struct {
	kind     TaskKind
	at       time.Time // zero: now
	timer    bool      // false: due at every reconcile, but only an event triggers one
	inFlight *v1alpha1.Measurement
}

// next says what a metric needs next, if anything.
func next(m *v1alpha1.Metric, r *v1alpha1.MetricResult, startedAt time.Time, terminating bool) (due, bool) {
	if r != nil && r.Phase.Completed() {
		return due{}, false
	}
	var last *v1alpha1.Measurement
	if r != nil && len(r.Measurements) > 0 {
		last = r.Measurements[len(r.Measurements)-1].DeepCopy()
	}
	if last != nil && !last.Phase.Completed() {
		switch {
		case terminating:
			return due{kind: Terminate, timer: true, inFlight: last}, true
		case last.ResumeAt != nil:
			return due{kind: Resume, at: last.ResumeAt.Time, timer: true, inFlight: last}, true
		default:
			return due{kind: Resume, inFlight: last}, true
		}
	}
	if terminating {
		return due{}, false
	}
	if last == nil {
		delay, _ := parseDuration(m.InitialDelay)
		return due{kind: Measure, at: startedAt.Add(delay), timer: true}, true
	}
	if limitsOf(m).countReached(r) {
		return due{}, false
	}
	interval, _ := parseDuration(m.Interval)
	if last.Phase == v1alpha1.AnalysisPhaseError {
		interval = ErrorRetryInterval
	} else if interval <= 0 {
		return due{}, false
	}
	finished := time.Time{}
	if last.FinishedAt != nil {
		finished = last.FinishedAt.Time
	}
	return due{kind: Measure, at: finished.Add(interval), timer: true}, true
}

func result(s *v1alpha1.AnalysisRunStatus, name string) *v1alpha1.MetricResult {
	for i := range s.MetricResults {
		if s.MetricResults[i].Name == name {
			return &s.MetricResults[i]
		}
	}
	return nil
}

// Fold folds the outcomes of the round's tasks into a copy of the run's status, judges every
// metric and the run, trims old measurements, and says when the run is next due. now is
// the time the outcomes were collected.
func (p *Round) Fold(outcomes []Outcome, now time.Time) Result {
	status := *p.run.Status.DeepCopy()
	if p.done {
		return Result{Status: status}
	}
	mnow := metav1.NewTime(now)
	if status.StartedAt == nil {
		status.StartedAt = &mnow
	}
	if p.invalid != "" {
		status.Phase, status.Message, status.CompletedAt = v1alpha1.AnalysisPhaseError, p.invalid, &mnow
		return Result{Status: status, Events: []Event{{Phase: v1alpha1.AnalysisPhaseError, Message: p.invalid}}}
	}
	for _, o := range outcomes {
		if hasMetric(p.metrics, o.Metric) {
			p.fold(&status, o, mnow)
		}
	}
	res := Result{}
	terminating := p.judgeAll(&status, &res)
	res.Trimmed = p.trim(&status)
	if status.Phase.Completed() {
		if p.run.Status.Phase != status.Phase {
			status.CompletedAt = &mnow
			res.Events = append(res.Events, Event{Phase: status.Phase, Message: status.Message})
		}
	} else {
		res.NextAt = p.nextAt(&status, terminating, now)
	}
	res.Status = status
	return res
}

// fold records one provider outcome in the metric's result and updates its counters.
func (p *Round) fold(s *v1alpha1.AnalysisRunStatus, o Outcome, now metav1.Time) {
	r := result(s, o.Metric)
	if r == nil {
		s.MetricResults = append(s.MetricResults, v1alpha1.MetricResult{
			Name:     o.Metric,
			Phase:    v1alpha1.AnalysisPhaseRunning,
			DryRun:   p.dryRun[o.Metric],
			Metadata: p.redactMap(o.Metadata),
		})
		r = &s.MetricResults[len(s.MetricResults)-1]
	}
	m := *o.Measurement.DeepCopy()
	if m.Phase == "" {
		m.Phase, m.Message = v1alpha1.AnalysisPhaseError, "metric provider returned a measurement without a phase"
	}
	if o.Kind == Terminate && m.Phase == v1alpha1.AnalysisPhaseSuccessful {
		m.Message = "Metric Terminated"
	}
	m.Message = p.args.Redact(m.Message)
	m.Value = p.args.Redact(m.Value)
	m.Metadata = p.redactMap(m.Metadata)
	if m.StartedAt == nil {
		m.StartedAt = &now
	}
	if m.Phase.Completed() {
		if m.FinishedAt == nil {
			m.FinishedAt = &now
		}
		m.ResumeAt = nil
		tallyMeasurement(r, m.Phase)
	}
	inFlight := len(r.Measurements) > 0 && !r.Measurements[len(r.Measurements)-1].Phase.Completed()
	if o.Kind != Measure && inFlight {
		r.Measurements[len(r.Measurements)-1] = m
	} else {
		r.Measurements = append(r.Measurements, m)
	}
}

// tallyMeasurement updates a metric's counters with one completed measurement. Errors are not
// measurements of the metric: they do not count towards count, only towards
// consecutiveError.
func tallyMeasurement(r *v1alpha1.MetricResult, phase v1alpha1.AnalysisPhase) {
	switch phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		r.Successful++
		r.Count++
		r.ConsecutiveError = 0
		r.ConsecutiveSuccess++
	case v1alpha1.AnalysisPhaseFailed:
		r.Failed++
		r.Count++
		r.ConsecutiveError = 0
		r.ConsecutiveSuccess = 0
	case v1alpha1.AnalysisPhaseInconclusive:
		r.Inconclusive++
		r.Count++
		r.ConsecutiveError = 0
		r.ConsecutiveSuccess = 0
	case v1alpha1.AnalysisPhaseError:
		r.Error++
		r.ConsecutiveError++
		r.ConsecutiveSuccess = 0
	}
}

func (p *Round) redactMap(in map[string]string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := maps.Clone(in)
	for k, v := range out {
		out[k] = p.args.Redact(v)
	}
	return out
}

// judgeAll sets every metric's phase and the run's phase, message and summaries. It
// returns whether the run is terminating.
func (p *Round) judgeAll(s *v1alpha1.AnalysisRunStatus, res *Result) bool {
	verdicts, terminating := p.judgeMetrics(s)
	t := p.recordVerdicts(s, verdicts, res)
	s.RunSummary = t.summary
	s.DryRunSummary = &t.dry
	setRunPhase(s, t.runPhase(terminating), t.message)
	return terminating
}

// verdict is the judgement of one metric: its phase, and why when a limit decided it.
type verdict struct {
	phase  v1alpha1.AnalysisPhase
	reason string
}

// judgeMetrics judges every metric that has a result (the others get a zero verdict) and
// says whether the run is terminating. A counted metric that just failed makes it so at
// once, and the others are judged again as stopping where they are instead of waiting for
// their next measurement.
func (p *Round) judgeMetrics(s *v1alpha1.AnalysisRunStatus) ([]verdict, bool) {
	terminating := isTerminating(p.run.Spec.Terminate, s, p.dryRun)
	verdicts := p.judgeEach(s, terminating)
	if !terminating && p.anyCountedFailing(verdicts) {
		terminating = true
		verdicts = p.judgeEach(s, terminating)
	}
	return verdicts, terminating
}

func (p *Round) judgeEach(s *v1alpha1.AnalysisRunStatus, terminating bool) []verdict {
	verdicts := make([]verdict, len(p.metrics))
	for i := range p.metrics {
		if r := result(s, p.metrics[i].Name); r != nil {
			verdicts[i].phase, verdicts[i].reason = judge(&p.metrics[i], r, terminating)
		}
	}
	return verdicts
}

func (p *Round) anyCountedFailing(verdicts []verdict) bool {
	for i := range p.metrics {
		if failing(verdicts[i].phase) && !p.dryRun[p.metrics[i].Name] {
			return true
		}
	}
	return false
}

// runTally is what the verdicts of the metrics add up to for the run.
type runTally struct {
	summary, dry v1alpha1.RunSummary
	// worst is the worst completed phase of a counted metric, "" when none completed.
	worst v1alpha1.AnalysisPhase
	// message explains the run's phase once it completes.
	message string
	// incomplete: a metric has not completed; inFlight: one has a measurement in flight.
	incomplete, inFlight bool
}

// recordVerdicts sets each metric's phase (and its message and event when it changes)
// and adds the verdicts up for the run.
func (p *Round) recordVerdicts(s *v1alpha1.AnalysisRunStatus, verdicts []verdict, res *Result) runTally {
	var t runTally
	if p.run.Spec.Terminate {
		t.message = "Run Terminated"
	}
	for i := range p.metrics {
		m, v := &p.metrics[i], verdicts[i]
		isDry := p.dryRun[m.Name]
		if isDry {
			t.dry.Count++
		} else {
			t.summary.Count++
		}
		r := result(s, m.Name)
		if r == nil {
			t.incomplete = true
			continue
		}
		if setMetricPhase(r, v.phase) && v.phase.Completed() {
			res.Events = append(res.Events, Event{Metric: m.Name, Phase: v.phase, Message: r.Message})
		}
		switch {
		case !v.phase.Completed():
			t.incomplete = true
			if last := lastMeasurement(r); last != nil && !last.Phase.Completed() {
				t.inFlight = true
			}
		case isDry:
			if v.reason != "" {
				r.Message = fmt.Sprintf("Metric assessed %s due to %s", v.phase, v.reason)
			}
			tally(&t.dry, v.phase)
		default:
			tally(&t.summary, v.phase)
			t.countWorst(m.Name, v, r.Message)
		}
	}
	return t
}

// setMetricPhase moves a metric to phase, taking its message from its last measurement;
// it reports whether the phase changed.
func setMetricPhase(r *v1alpha1.MetricResult, phase v1alpha1.AnalysisPhase) bool {
	if r.Phase == phase {
		return false
	}
	if last := lastMeasurement(r); last != nil {
		r.Message = last.Message
	}
	r.Phase = phase
	return true
}

// countWorst keeps the worst completed phase of the counted metrics, and the message
// of the metric that set it.
func (t *runTally) countWorst(metric string, v verdict, metricMessage string) {
	if t.worst != "" && !Worse(v.phase, t.worst) {
		return
	}
	t.worst = v.phase
	if v.reason != "" {
		t.message = fmt.Sprintf("Metric %q assessed %s due to %s", metric, v.phase, v.reason)
		if metricMessage != "" {
			t.message += fmt.Sprintf(": \"Error Message: %s\"", metricMessage)
		}
	}
}

// runPhase is the run's phase by its metrics' verdicts.
func (t *runTally) runPhase(terminating bool) v1alpha1.AnalysisPhase {
	switch {
	case terminating && t.inFlight:
		// Measurements still in flight are terminated first (next plan), so that a
		// completed run never leaves a Job behind.
		return v1alpha1.AnalysisPhaseRunning
	case terminating && t.worst == "":
		return v1alpha1.AnalysisPhaseSuccessful
	case terminating:
		return t.worst
	case t.incomplete:
		return v1alpha1.AnalysisPhaseRunning
	case t.worst == "":
		// Every metric is a completed dry run: nothing counted against the run.
		return v1alpha1.AnalysisPhaseSuccessful
	}
	return t.worst
}

// setRunPhase moves the run to phase; a completed run says why with message.
func setRunPhase(s *v1alpha1.AnalysisRunStatus, phase v1alpha1.AnalysisPhase, message string) {
	if phase == s.Phase {
		return
	}
	s.Phase = phase
	s.Message = ""
	if phase.Completed() {
		s.Message = message
	}
}

func tally(s *v1alpha1.RunSummary, phase v1alpha1.AnalysisPhase) {
	switch phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		s.Successful++
	case v1alpha1.AnalysisPhaseFailed:
		s.Failed++
	case v1alpha1.AnalysisPhaseInconclusive:
		s.Inconclusive++
	case v1alpha1.AnalysisPhaseError:
		s.Error++
	}
}

func lastMeasurement(r *v1alpha1.MetricResult) *v1alpha1.Measurement {
	if len(r.Measurements) == 0 {
		return nil
	}
	return &r.Measurements[len(r.Measurements)-1]
}

// trim keeps the newest measurements of each metric: measurementRetention's limit when
// positive, else DefaultMeasurementRetention.
func (p *Round) trim(s *v1alpha1.AnalysisRunStatus) map[string]int {
	var trimmed map[string]int
	for i := range s.MetricResults {
		r := &s.MetricResults[i]
		limit := DefaultMeasurementRetention
		if n := p.retention[r.Name]; n > 0 {
			limit = n
		}
		if len(r.Measurements) <= limit {
			continue
		}
		r.Measurements = append([]v1alpha1.Measurement(nil), r.Measurements[len(r.Measurements)-limit:]...)
		if trimmed == nil {
			trimmed = map[string]int{}
		}
		trimmed[r.Name] = limit
	}
	return trimmed
}

// nextAt is the earliest time a metric of an incomplete run is due, not before now.
func (p *Round) nextAt(s *v1alpha1.AnalysisRunStatus, terminating bool, now time.Time) time.Time {
	var at time.Time
	started := now
	if s.StartedAt != nil {
		started = s.StartedAt.Time
	}
	for i := range p.metrics {
		n, ok := next(&p.metrics[i], result(s, p.metrics[i].Name), started, terminating)
		if !ok || !n.timer {
			continue
		}
		t := n.at
		if t.Before(now) {
			t = now
		}
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	return at
}
