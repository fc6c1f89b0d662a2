package plan

import "github.com/tern-rollouts/tern/api/v1alpha1"

// The analyses of a canary update: its background analysis and its analysis steps, on
// the run-following of analysis.go.

// canaryBackground follows the background analysis of a canary update: started once the
// update reaches startingStep, it runs across the steps until the update is promoted.
func (p *planner) canaryBackground(c *v1alpha1.CanaryStrategy) {
	bg := c.Analysis
	if bg == nil || p.newRS == nil || p.created {
		return
	}
	start := 0
	if bg.StartingStep != nil {
		start = int(*bg.StartingStep)
	}
	i := p.stepIndex()
	if i < start {
		return
	}
	rec := *record(&p.st, kindBackground)
	if len(c.Steps) > 0 && i >= len(c.Steps) && (rec == nil || !runOf(rec.Name, p.runName(kindBackground, 0))) {
		// The steps are done: the update is promoted now, with nothing left to judge.
		return
	}
	p.followRun(kindBackground, &bg.RolloutAnalysis, 0)
}

// heldByBackground reports whether an inconclusive background run paused the update: it
// stays at its step until a user decides.
func (p *planner) heldByBackground() bool {
	rec := p.st.Canary.CurrentBackgroundAnalysisRunStatus
	return rec != nil && rec.Status == v1alpha1.AnalysisPhaseInconclusive &&
		findPause(p.st.PauseConditions, v1alpha1.PauseReasonInconclusiveAnalysis) != nil
}

// stepAnalysisDone follows the AnalysisRun of an analysis step (analysis.go): success
// completes the step, failure or error aborts, inconclusive pauses until a user decides.
func (p *planner) stepAnalysisDone(i int) bool {
	switch p.followRun(kindStep, p.ro.Spec.Strategy.Canary.Steps[i].Analysis, i) {
	case runSucceeded:
		return true
	case runWaiting:
		p.openEndedWait = true
	}
	return false
}
