package plan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
)

// The analysis a rollout runs (compat.md §3.4): a canary's step and background analysis,
// a blue-green's pre- and post-promotion analysis. Each is one AnalysisRun at a time,
// named after the version and revision it judges; the rollout's status records which run
// it follows, so that the next decision follows the same one. Whatever a run says, it can
// only hold the rollout, pause it or abort it: promotion is for the strategy to decide,
// and it waits for a Successful run (design invariant 5).

// runKind is one of the places analysis runs.
type runKind int

const (
	kindStep runKind = iota
	kindBackground
	kindPre
	kindPost
	numKinds
)

// label is the rollout-type label value of a kind, also used in event messages.
func (k runKind) label() string {
	return [...]string{
		v1alpha1.RolloutTypeStepLabel, v1alpha1.RolloutTypeBackgroundRunLabel,
		v1alpha1.RolloutTypePrePromotionLabel, v1alpha1.RolloutTypePostPromotionLabel,
	}[k]
}

// runsFollowed is what one decision did with the analysis runs.
type runsFollowed struct {
	// followed records the kinds whose run this decision followed or started.
	followed [numKinds]bool
	// resumeUsed is true when a user's resume started a run again.
	resumeUsed bool
}

// record is where the status keeps the run of a kind.
func record(st *v1alpha1.RolloutStatus, k runKind) **v1alpha1.RolloutAnalysisRunStatus {
	switch k {
	case kindStep:
		return &st.Canary.CurrentStepAnalysisRunStatus
	case kindBackground:
		return &st.Canary.CurrentBackgroundAnalysisRunStatus
	case kindPre:
		return &st.BlueGreen.PrePromotionAnalysisRunStatus
	default:
		return &st.BlueGreen.PostPromotionAnalysisRunStatus
	}
}

// runName is the name of the first run of a kind for the current version and revision:
// <rollout>-<hash>-<revision>, then -<step>, -pre or -post. Reruns add ".N".
func (p *planner) runName(k runKind, step int) string {
	name := fmt.Sprintf("%s-%s-%d", p.ro.Name, p.st.CurrentPodHash, p.newRev)
	switch k {
	case kindStep:
		name += "-" + strconv.Itoa(step)
	case kindPre:
		name += "-pre"
	case kindPost:
		name += "-post"
	}
	return name
}

// runOf reports whether arName is the run called name or a rerun of it.
func runOf(arName, name string) bool {
	return arName == name || retryNumber(arName, name) > 0
}

// retryNumber is N of a "<name>.N" run, 0 for the first run or another name.
func retryNumber(arName, name string) int {
	rest, ok := strings.CutPrefix(arName, name+".")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// ownRuns are the AnalysisRuns the Rollout controls, in name order (so that decisions do
// not depend on the order of the cache).
func (p *planner) ownRuns() []*v1alpha1.AnalysisRun {
	var out []*v1alpha1.AnalysisRun
	for _, ar := range p.s.AnalysisRuns {
		if owner := metav1.GetControllerOf(ar); owner != nil && owner.UID == p.ro.UID {
			out = append(out, ar)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (p *planner) ownRun(name string) *v1alpha1.AnalysisRun {
	for _, ar := range p.ownRuns() {
		if ar.Name == name {
			return ar
		}
	}
	return nil
}

// runOutcome is what a run means for the rollout now.
type runOutcome int

const (
	// runWaiting: the run is starting or measuring, or the rollout is paused on it.
	runWaiting runOutcome = iota
	runSucceeded
	// runAborted: the run failed or errored and the rollout is aborted.
	runAborted
)

// followRun makes sure the analysis of kind k runs for the current version, and says
// what its result means: a run is started when there is none (or a user resumed the
// rollout after an inconclusive one); Failed and Error abort the rollout; Inconclusive
// pauses it until a user decides.
func (p *planner) followRun(k runKind, a *v1alpha1.RolloutAnalysis, step int) runOutcome {
	p.runs.followed[k] = true
	base := p.runName(k, step)
	ar, name := p.currentRun(k, base)
	if ar == nil {
		p.startRun(k, a, step, name)
		return runWaiting
	}
	prev := *record(p.old, k)
	p.runEvent(k, prev, ar)
	phase := ar.Status.Phase
	*record(&p.st, k) = &v1alpha1.RolloutAnalysisRunStatus{Name: ar.Name, Status: phase, Message: ar.Status.Message}
	switch phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		return runSucceeded
	case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError:
		p.abortFor(k, ar)
		return runAborted
	case v1alpha1.AnalysisPhaseInconclusive:
		if findPause(p.st.PauseConditions, v1alpha1.PauseReasonInconclusiveAnalysis) != nil {
			return runWaiting
		}
		if prev != nil && prev.Name == ar.Name && prev.Status == v1alpha1.AnalysisPhaseInconclusive {
			// The rollout paused on this run already and a user cleared the pause: they
			// want the analysis run again (a promote moves past a step instead).
			p.startRun(k, a, step, p.nextRunName(base))
			return runWaiting
		}
		p.addPause(v1alpha1.PauseReasonInconclusiveAnalysis)
		return runWaiting
	default:
		return runWaiting
	}
}

// currentRun finds the run of a kind the rollout follows: the one its status records,
// else the newest run of that name still measuring, which a decision whose status write
// was lost had started. When there is none it returns the name a new run takes.
func (p *planner) currentRun(k runKind, base string) (*v1alpha1.AnalysisRun, string) {
	if p.retried {
		// A retry judges the version afresh; earlier runs belong to the aborted attempt.
		return nil, p.nextRunName(base)
	}
	if rec := *record(&p.st, k); rec != nil && runOf(rec.Name, base) {
		if ar := p.ownRun(rec.Name); ar != nil && ar.DeletionTimestamp == nil {
			return ar, ""
		}
		if p.ownRun(rec.Name) == nil {
			// Created but not in the cache yet, or deleted by someone: creating it again
			// is right in both cases, since creation tolerates our own run.
			return nil, rec.Name
		}
	}
	var newest *v1alpha1.AnalysisRun
	for _, ar := range p.ownRuns() {
		if !runOf(ar.Name, base) || ar.Spec.Terminate || ar.Status.Phase.Completed() || ar.DeletionTimestamp != nil {
			continue
		}
		if newest == nil || newest.CreationTimestamp.Before(&ar.CreationTimestamp) ||
			newest.CreationTimestamp.Equal(&ar.CreationTimestamp) && retryNumber(newest.Name, base) < retryNumber(ar.Name, base) {
			newest = ar
		}
	}
	if newest != nil {
		return newest, ""
	}
	return nil, p.nextRunName(base)
}

// nextRunName is base if no run has that name yet, else base.N past every rerun.
func (p *planner) nextRunName(base string) string {
	taken, n := false, 0
	for _, ar := range p.ownRuns() {
		if ar.Name == base {
			taken = true
		}
		n = max(n, retryNumber(ar.Name, base))
	}
	if !taken && n == 0 {
		return base
	}
	return fmt.Sprintf("%s.%d", base, n+1)
}

// startRun plans the creation of a run and records it as the one to follow.
func (p *planner) startRun(k runKind, a *v1alpha1.RolloutAnalysis, step int, name string) {
	run, err := p.buildRun(k, a, step, name)
	if err != nil {
		// validate() builds every run before planning, with the same inputs but the
		// hashes, so this does not happen; holding is the safe reading if it does.
		*record(&p.st, k) = &v1alpha1.RolloutAnalysisRunStatus{Name: name, Message: err.Error()}
		return
	}
	p.add(CreateAnalysisRun{Run: run})
	*record(&p.st, k) = &v1alpha1.RolloutAnalysisRunStatus{Name: name}
	if p.st.ControllerPause && len(p.st.PauseConditions) == 0 {
		p.runs.resumeUsed = true
	}
}

// buildRun makes the AnalysisRun of a kind from its templates, with the labels,
// annotations and owner that tie it to the rollout and the version it judges.
func (p *planner) buildRun(k runKind, a *v1alpha1.RolloutAnalysis, step int, name string) (*v1alpha1.AnalysisRun, error) {
	templates, err := analysis.FlattenTemplates(a.Templates, p.lookupTemplate)
	if err != nil {
		return nil, err
	}
	args, err := analysis.ResolveRolloutArgs(a.Args, p.ro, p.st.StableRS, p.st.CurrentPodHash)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		v1alpha1.RolloutTypeLabel: k.label(),
		hashKey:                   p.st.CurrentPodHash,
	}
	if k == kindStep {
		labels[v1alpha1.RolloutCanaryStepIndexLabel] = strconv.Itoa(step)
	}
	for key, v := range a.AnalysisRunMetadata.Labels {
		labels[key] = v
	}
	if sel := p.ro.Spec.Selector; sel != nil {
		for key, v := range sel.MatchLabels {
			labels[key] = v
		}
	}
	// The run is measured by the controller instance that handles the rollout, whatever
	// the metadata says.
	delete(labels, v1alpha1.LabelKeyControllerInstanceID)
	if id, ok := p.ro.Labels[v1alpha1.LabelKeyControllerInstanceID]; ok {
		labels[v1alpha1.LabelKeyControllerInstanceID] = id
	}
	annotations := map[string]string{}
	for key, v := range a.AnalysisRunMetadata.Annotations {
		annotations[key] = v
	}
	annotations[v1alpha1.RevisionAnnotation] = strconv.FormatInt(p.newRev, 10)
	isController := true
	return analysis.NewRunFromTemplates(templates, analysis.RunOptions{
		Name:        name,
		Namespace:   p.ro.Namespace,
		Labels:      labels,
		Annotations: annotations,
		Owners: []metav1.OwnerReference{{
			APIVersion:         v1alpha1.GroupVersion.String(),
			Kind:               "Rollout",
			Name:               p.ro.Name,
			UID:                p.ro.UID,
			Controller:         &isController,
			BlockOwnerDeletion: &isController,
		}},
		Args:                 args,
		DryRun:               a.DryRun,
		MeasurementRetention: a.MeasurementRetention,
	})
}

// templateNotFound is a referenced template that does not exist, worded as the API
// server's NotFound, as upstream's InvalidSpec messages are.
type templateNotFound struct{ ref v1alpha1.AnalysisTemplateRef }

func (e templateNotFound) Error() string {
	if e.ref.ClusterScope {
		return fmt.Sprintf("clusteranalysistemplates.argoproj.io %q not found", e.ref.TemplateName)
	}
	return fmt.Sprintf("analysistemplates.argoproj.io %q not found", e.ref.TemplateName)
}

func (p *planner) lookupTemplate(ref v1alpha1.AnalysisTemplateRef) (*v1alpha1.AnalysisTemplateSpec, error) {
	if ref.ClusterScope {
		if t := p.s.ClusterAnalysisTemplates[ref.TemplateName]; t != nil {
			return &t.Spec, nil
		}
		if p.s.ClusterTemplatesUnreadable {
			return nil, fmt.Errorf("clusteranalysistemplates.argoproj.io %q cannot be read: this controller watches only its namespace "+
				"and is not granted cluster-scoped templates; use an AnalysisTemplate in namespace %s, or a cluster-wide install", ref.TemplateName, p.ro.Namespace)
		}
		return nil, templateNotFound{ref}
	}
	if t := p.s.AnalysisTemplates[ref.TemplateName]; t != nil {
		return &t.Spec, nil
	}
	return nil, templateNotFound{ref}
}

// abortFor aborts the rollout because of a run that failed or errored, saying why in
// the words of the run.
func (p *planner) abortFor(k runKind, ar *v1alpha1.AnalysisRun) {
	msg := ar.Status.Message
	if msg == "" {
		msg = fmt.Sprintf("AnalysisRun %q ended %s", ar.Name, ar.Status.Phase)
	}
	switch k {
	case kindPre:
		msg = "Blue/green pre-promotion analysis phase error/failed: " + msg
	case kindPost:
		msg = "Blue/green post-promotion analysis phase error/failed: " + msg
	}
	p.st.Abort = true
	p.abortMessage = msg
}

// runEvent reports a change of phase of the run a rollout follows, as upstream does: an
// event named after the new phase (AnalysisRunFailed, AnalysisRunSuccessful...), a
// warning when the run failed or errored.
func (p *planner) runEvent(k runKind, prev *v1alpha1.RolloutAnalysisRunStatus, ar *v1alpha1.AnalysisRun) {
	phase := ar.Status.Phase
	if phase == "" || prev != nil && (prev.Name != ar.Name || prev.Status == phase) {
		return
	}
	before := "NoPreviousStatus"
	if prev != nil {
		before = string(prev.Status)
	}
	ev := normalEvent("AnalysisRun"+string(phase), "%s Analysis Run '%s' Status New: '%s' Previous: '%s'", k.label(), ar.Name, phase, before)
	if phase == v1alpha1.AnalysisPhaseFailed || phase == v1alpha1.AnalysisPhaseError {
		ev.Type = corev1.EventTypeWarning
	}
	p.add(ev)
}

// finishAnalysis ends what no longer applies once the strategy decided: it forgets runs
// of other versions, steps or attempts, stops every run the rollout no longer follows
// (all of them once aborted), and deletes old runs beyond the history limits.
func (p *planner) finishAnalysis() {
	if p.runs.resumeUsed && len(p.st.PauseConditions) == 0 && p.ro.Spec.Strategy.Canary != nil {
		// The resume is used up (the canary's steps had their say first): a later pause
		// step must pause. A blue-green keeps the flag, which also says its promotion
		// pause is over.
		p.st.ControllerPause = false
	}
	for k := runKind(0); k < numKinds; k++ {
		rec := record(&p.st, k)
		if *rec == nil || p.st.Abort {
			// An aborted rollout keeps showing the runs that led to the abort.
			continue
		}
		step := 0
		if k == kindStep {
			step = p.stepIndex()
		}
		stale := !runOf((*rec).Name, p.runName(k, step)) || !p.configured(k)
		done := p.st.StableRS != "" && p.st.StableRS == p.st.CurrentPodHash
		if stale || done || p.st.PromoteFull || p.retried && !p.runs.followed[k] {
			*rec = nil
		}
	}
	current := map[string]bool{}
	if !p.st.Abort {
		for k := runKind(0); k < numKinds; k++ {
			if rec := *record(&p.st, k); rec != nil {
				current[rec.Name] = true
			}
		}
	}
	deleted := p.collectRuns(current)
	for _, ar := range p.ownRuns() {
		if current[ar.Name] || deleted[ar.Name] || ar.Spec.Terminate || ar.Status.Phase.Completed() || ar.DeletionTimestamp != nil {
			continue
		}
		p.add(TerminateAnalysisRun{Name: ar.Name})
	}
}

// collectRuns deletes the runs the rollout no longer follows whose version's ReplicaSet
// is gone, and the oldest completed ones beyond analysis.successfulRunHistoryLimit and
// unsuccessfulRunHistoryLimit. It returns the names it deletes.
func (p *planner) collectRuns(current map[string]bool) map[string]bool {
	keepOK, keepBad := v1alpha1.DefaultAnalysisRunSuccessfulHistory, v1alpha1.DefaultAnalysisRunUnsuccessfulHistory
	if h := p.ro.Spec.Analysis; h != nil {
		if h.SuccessfulRunHistoryLimit != nil {
			keepOK = *h.SuccessfulRunHistoryLimit
		}
		if h.UnsuccessfulRunHistoryLimit != nil {
			keepBad = *h.UnsuccessfulRunHistoryLimit
		}
	}
	versions := map[string]bool{p.st.CurrentPodHash: true}
	for _, rs := range p.all {
		if rs.DeletionTimestamp == nil {
			versions[rs.Labels[hashKey]] = true
		}
	}
	var old []*v1alpha1.AnalysisRun
	for _, ar := range p.ownRuns() {
		if !current[ar.Name] && ar.DeletionTimestamp == nil {
			old = append(old, ar)
		}
	}
	// Newest first: the history keeps the latest runs.
	sort.SliceStable(old, func(i, j int) bool {
		a, b := old[i].CreationTimestamp, old[j].CreationTimestamp
		if !a.Equal(&b) {
			return b.Before(&a)
		}
		return old[i].Name > old[j].Name
	})
	deleted := map[string]bool{}
	var ok, bad int32
	for _, ar := range old {
		h, labelled := ar.Labels[hashKey]
		drop := !labelled || !versions[h]
		if !drop && ar.Status.Phase.Completed() {
			if ar.Status.Phase == v1alpha1.AnalysisPhaseSuccessful {
				ok++
				drop = ok > keepOK
			} else {
				bad++
				drop = bad > keepBad
			}
		}
		if drop {
			deleted[ar.Name] = true
			p.add(DeleteAnalysisRun{Name: ar.Name, UID: string(ar.UID)})
		}
	}
	return deleted
}

// configured reports whether the spec still asks for the analysis of a kind (for a step,
// at the current step): a run whose analysis was edited away is not followed.
func (p *planner) configured(k runKind) bool {
	bg, c := p.ro.Spec.Strategy.BlueGreen, p.ro.Spec.Strategy.Canary
	switch k {
	case kindStep:
		i := p.stepIndex()
		return c != nil && i < len(c.Steps) && c.Steps[i].Analysis != nil
	case kindBackground:
		return c != nil && c.Analysis != nil
	case kindPre:
		return bg != nil && bg.PrePromotionAnalysis != nil
	default:
		return bg != nil && bg.PostPromotionAnalysis != nil
	}
}
