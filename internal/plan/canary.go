package plan

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/hash"
	"github.com/tern-rollouts/tern/internal/traffic"
	"github.com/tern-rollouts/tern/internal/validation"
)

// The canary strategy runs a basic canary: the new version takes a share of the pods
// that follows the setWeight steps (there is no traffic router, so pods are the
// weight), pausing and waiting for analysis where the steps say, and becomes stable
// once every step is done. classify.go picks which of the handlers below acts.

// observeCanary reads what the canary and stable Services select now, and lines the
// steps up with the template (syncSteps).
func (p *planner) observeCanary(c *v1alpha1.CanaryStrategy) {
	p.selects.canary = p.serviceHash(c.CanaryService)
	p.selects.stable = p.serviceHash(c.StableService)
	p.syncSteps(c)
}

// canaryPaused: a manual pause freezes every workload object where it is, but for
// their size.
func (p *planner) canaryPaused() {
	p.canaryPausedScale(p.ro.Spec.Strategy.Canary)
}

// canaryInitialDeploy: no steps, no analysis; the first version is stable at once.
func (p *planner) canaryInitialDeploy() {
	p.st.StableRS = p.st.CurrentPodHash
	p.completionReason = "Initial deploy"
	p.canaryAtStable(p.ro.Spec.Strategy.Canary)
}

// canaryBackAtStable: steady state, or a return to the stable template mid-update.
func (p *planner) canaryBackAtStable() {
	if findCondition(p.old.Conditions, v1alpha1.RolloutCompleted) != nil {
		p.completionReason = "Fast rollback"
	}
	p.canaryAtStable(p.ro.Spec.Strategy.Canary)
}

// canaryAborted sends everything back to the stable version (canaryAbort).
func (p *planner) canaryAborted() {
	p.canaryAbort(p.ro.Spec.Strategy.Canary, p.byHash(p.st.StableRS))
}

// syncSteps records the steps hash and starts the steps over when an update begins or
// the steps change under it; going back to the stable template skips them all.
func (p *planner) syncSteps(c *v1alpha1.CanaryStrategy) {
	n := len(c.Steps)
	stepHash := hash.Steps(c.Steps)
	p.st.CurrentStepHash = stepHash
	podChanged := p.old.CurrentPodHash != p.st.CurrentPodHash
	// An empty recorded hash is a status written before steps were hashed, not a change.
	stepsChanged := p.old.CurrentStepHash != "" && p.old.CurrentStepHash != stepHash
	if !podChanged && !stepsChanged {
		i := min(max(p.stepIndex(), 0), n)
		p.st.CurrentStepIndex = indexPtr(i, n)
		return
	}
	p.st.CurrentStepIndex = indexPtr(0, n)
	p.clearPause()
	p.st.Abort, p.st.AbortedAt, p.st.PromoteFull = false, nil, false
	p.st.Canary.CurrentStepAnalysisRunStatus = nil
	wasUpdating := p.old.CurrentPodHash != "" && p.old.CurrentPodHash != p.old.StableRS
	if podChanged && wasUpdating && p.st.CurrentPodHash == p.st.StableRS && n > 0 {
		p.st.CurrentStepIndex = indexPtr(n, n)
		p.add(normalEvent(v1alpha1.EventReasonSkipSteps, "Rollback to stable ReplicaSets"))
	}
	// A pause this reset ends because of the update, so it is reported after it.
	p.resumeAt = len(p.actions)
}

// canaryAtStable runs the stable version alone: steady state, initial deploy, a
// promotion made by this decision, or a return to the stable template mid-update.
func (p *planner) canaryAtStable(c *v1alpha1.CanaryStrategy) {
	cur := p.st.CurrentPodHash
	p.st.Abort, p.st.AbortedAt, p.st.PromoteFull = false, nil, false
	p.clearPause()
	p.st.CurrentStepIndex = indexPtr(len(c.Steps), len(c.Steps))
	p.st.Canary.CurrentStepAnalysisRunStatus = nil
	p.applyCounts(c, p.ro.GetReplicas(), nil, 0, c.StableMetadata, cur, cur)
}

// canaryUpdate moves an update along its steps, or aborts it when its analysis fails.
func (p *planner) canaryUpdate() {
	c, replicas := p.ro.Spec.Strategy.Canary, p.ro.GetReplicas()
	stable := p.byHash(p.st.StableRS)
	if p.st.AbortedAt != nil {
		// Retry: the abort reset the steps, so the update starts over.
		p.st.AbortedAt = nil
		p.retried = true
	}

	fast := p.rollbackWithinWindow(stable)
	switch {
	case p.st.PromoteFull || fast:
		p.clearPause()
		p.st.CurrentStepIndex = indexPtr(len(c.Steps), len(c.Steps))
	case p.newRS != nil:
		p.canaryBackground(c)
		if !p.st.Abort && !p.heldByBackground() {
			p.runSteps(c, stable)
		}
		if p.st.Abort {
			p.canaryAbort(c, stable)
			return
		}
	}

	if p.newRS != nil && !p.created && available(p.newRS) >= replicas && !p.heldByBackground() {
		reason := ""
		switch {
		case p.st.PromoteFull:
			reason = "Full promotion requested"
		case fast:
			reason = "Rollback within window"
		case p.stepIndex() >= len(c.Steps):
			reason = fmt.Sprintf("Completed all %d canary steps", len(c.Steps))
		}
		if reason != "" {
			p.completionReason = reason
			p.st.StableRS = p.st.CurrentPodHash
			p.canaryAtStable(c)
			return
		}
	}

	canaryTarget := ""
	if p.newRS != nil && !p.created {
		canaryTarget = p.st.CurrentPodHash
	}
	if stable == nil {
		// Nothing to share the pods with: the new version takes them all.
		p.applyCounts(c, replicas, nil, 0, c.CanaryMetadata, "", canaryTarget)
		return
	}
	surge, _ := p.canaryLimits()
	dn, ds := canaryCounts(replicas, p.canaryWeight(c), surge)
	p.applyCounts(c, dn, stable, ds, c.CanaryMetadata, p.st.StableRS, canaryTarget)
}

// canaryAbort sends everything back to the stable version: the canary's pods go as fast
// as availability allows, and the steps start over on a retry.
func (p *planner) canaryAbort(c *v1alpha1.CanaryStrategy, stable *appsv1.ReplicaSet) {
	if p.st.AbortedAt == nil {
		at := p.now
		p.st.AbortedAt = &at
	}
	p.clearPause()
	p.st.CurrentStepIndex = indexPtr(0, len(c.Steps))
	if stable == nil {
		// No known-good version to fall back to: leave the pods where they are.
		return
	}
	p.applyCounts(c, 0, stable, p.ro.GetReplicas(), c.CanaryMetadata, p.st.StableRS, p.st.StableRS)
}

// canaryWeight is the share of pods the canary should have now: the weight of the
// nearest setWeight at or before the current step, 100 once the steps are done.
func (p *planner) canaryWeight(c *v1alpha1.CanaryStrategy) int32 {
	i := p.stepIndex()
	if i >= len(c.Steps) {
		return 100
	}
	for ; i >= 0; i-- {
		if w := c.Steps[i].SetWeight; w != nil {
			return *w
		}
	}
	return 0
}

// canaryLimits resolves maxSurge and maxUnavailable against spec.replicas.
func (p *planner) canaryLimits() (surge, unavailable int32) {
	c := p.ro.Spec.Strategy.Canary
	return surgeAndUnavailable(p.ro.GetReplicas(), c.MaxSurgeOrDefault(), c.MaxUnavailableOrDefault())
}

// applyCounts sizes the new ReplicaSet (desiredNew), the stable one (desiredStable; nil
// when the new one is the stable one) and drains every other, one safe step at a time.
// Scale-ups come first, then the Services (so traffic leaves a version before its pods
// do), then scale-downs.
func (p *planner) applyCounts(c *v1alpha1.CanaryStrategy, desiredNew int32, stable *appsv1.ReplicaSet, desiredStable int32,
	newMetadata *v1alpha1.PodTemplateMetadata, stableTarget, canaryTarget string) {
	surge, unavailable := p.canaryLimits()
	limits := scaleLimits{replicas: p.ro.GetReplicas(), maxSurge: surge, maxUnavailable: unavailable}

	var olds []*appsv1.ReplicaSet
	for _, rs := range p.all {
		if rs != p.newRS && rs != stable && specReplicas(rs) > 0 {
			olds = append(olds, rs)
		}
	}
	sortByRevision(olds)
	oldCounts := make([]rsCount, len(olds))
	for i, rs := range olds {
		oldCounts[i] = countOf(rs, 0)
	}
	newCount := rsCount{desired: desiredNew}
	if p.newRS != nil {
		newCount = countOf(p.newRS, desiredNew)
	}
	stableCount := rsCount{}
	if stable != nil {
		stableCount = countOf(stable, desiredStable)
	}
	nextNew, nextStable, nextOlds := nextCounts(limits, newCount, stableCount, oldCounts)

	if stable != nil && nextStable > stableCount.current {
		p.scale(stable, nextStable)
	}
	newDone := false
	if p.newRS == nil && !p.st.Abort || p.newRS != nil && nextNew > newCount.current {
		p.ensureNewRS(nextNew, newMetadata)
		newDone = true
	}

	if stable != nil && nextStable == 0 && stableTarget == stable.Labels[hashKey] && canaryTarget != "" {
		// The stable version's last pods are going (weight 100): its Service follows the
		// new version first, so that it never selects a version without pods.
		stableTarget = canaryTarget
	}
	p.switchService(traffic.RoleStable, c.StableService, &p.selects.stable, stableTarget)
	p.switchService(traffic.RoleCanary, c.CanaryService, &p.selects.canary, canaryTarget)

	for i, rs := range olds {
		if next := p.keepServed(rs, nextOlds[i]); next != oldCounts[i].current {
			p.scale(rs, next)
		}
	}
	if p.newRS != nil && !newDone {
		// Also refreshes the desired-replicas record and the ephemeral metadata.
		p.ensureNewRS(p.keepServed(p.newRS, nextNew), newMetadata)
	}
	if stable != nil {
		if nextStable <= stableCount.current {
			p.scale(stable, p.keepServed(stable, nextStable))
		}
		p.syncMetadata(stable, c.StableMetadata)
	}
}

// keepServed keeps one pod of a version that a Service still selects (it could not move
// yet): design invariant 1, a Service never selects a version without pods.
func (p *planner) keepServed(rs *appsv1.ReplicaSet, next int32) int32 {
	if next > 0 || specReplicas(rs) == 0 {
		return next
	}
	h := rs.Labels[hashKey]
	if h != "" && (h == p.selects.stable || h == p.selects.canary) {
		return 1
	}
	return next
}

func countOf(rs *appsv1.ReplicaSet, desired int32) rsCount {
	return rsCount{current: specReplicas(rs), available: available(rs), desired: desired}
}

// rollbackWithinWindow reports whether the update goes back to a version that was
// created before the stable one with fewer than rollbackWindow.revisions versions in
// between: such a rollback skips the steps. Creation times are compared, not revisions,
// because re-using a ReplicaSet bumps its revision.
func (p *planner) rollbackWithinWindow(stable *appsv1.ReplicaSet) bool {
	w := p.ro.Spec.RollbackWindow
	if w == nil || w.Revisions <= 0 || p.newRS == nil || p.created || stable == nil {
		return false
	}
	from, to := &p.newRS.CreationTimestamp, &stable.CreationTimestamp
	if !from.Before(to) {
		return false
	}
	var between int32
	for _, rs := range p.all {
		if rs.Annotations[v1alpha1.ExperimentNameAnnotation] != "" {
			continue
		}
		if from.Before(&rs.CreationTimestamp) && rs.CreationTimestamp.Before(to) {
			between++
		}
	}
	return between < w.Revisions
}

// indexPtr is the currentStepIndex to record: none for a canary without steps.
func indexPtr(i, n int) *int32 {
	if n == 0 {
		return nil
	}
	v := int32(i)
	return &v
}

// runSteps completes the steps that are done, in order, and starts the wait of the
// first one that is not.
func (p *planner) runSteps(c *v1alpha1.CanaryStrategy, stable *appsv1.ReplicaSet) {
	for i := p.stepIndex(); i < len(c.Steps); i = p.stepIndex() {
		step := &c.Steps[i]
		if step.Analysis == nil {
			// A promote may have moved past an analysis step: its run no longer applies.
			p.st.Canary.CurrentStepAnalysisRunStatus = nil
		}
		if p.created || !p.stepDone(c, i, step, stable) {
			return
		}
		next := int32(i + 1)
		p.st.CurrentStepIndex = &next
		p.add(normalEvent(v1alpha1.EventReasonRolloutStepCompleted, "Rollout step %d/%d completed (%s)", next, len(c.Steps), stepString(step)))
		if step.Pause != nil || step.Analysis != nil {
			p.st.PauseConditions = removePause(p.st.PauseConditions, v1alpha1.PauseReasonCanaryPauseStep)
			p.st.PauseConditions = removePause(p.st.PauseConditions, v1alpha1.PauseReasonInconclusiveAnalysis)
			p.st.ControllerPause = len(p.st.PauseConditions) > 0
			p.st.Canary.CurrentStepAnalysisRunStatus = nil
			// The end of this step is what resumes the rollout.
			p.resumeAt = len(p.actions)
		}
	}
}

// stepDone reports whether a step is complete, starting its wait if it is not.
func (p *planner) stepDone(c *v1alpha1.CanaryStrategy, i int, step *v1alpha1.CanaryStep, stable *appsv1.ReplicaSet) bool {
	switch {
	case step.SetWeight != nil:
		return p.atWeight(*step.SetWeight, stable)
	case step.Pause != nil:
		return p.pauseDone(step.Pause)
	case step.Analysis != nil:
		return p.stepAnalysisDone(i)
	case step.Experiment != nil, step.Plugin != nil:
		// Run by engines of their own; until one reports success the step waits.
		p.openEndedWait = true
		if p.old.CurrentStepIndex == nil || int(*p.old.CurrentStepIndex) != i || p.old.CurrentPodHash != p.st.CurrentPodHash {
			// Nothing here runs them yet: say so once, on arrival, rather than wait unexplained.
			p.add(warningEvent(v1alpha1.EventReasonStepNotRun, "Rollout step %d/%d (%s) waits: this controller does not run %s steps yet; promote skips it",
				i+1, len(c.Steps), stepString(step), stepKind(step)))
		}
		return false
	default:
		// setCanaryScale, setHeaderRoute and setMirrorRoute only act on a traffic router;
		// without one (validation requires it) there is nothing to wait for.
		return true
	}
}

// atWeight reports whether the ReplicaSets run exactly the pods of a weight, all
// available, with every other version gone.
func (p *planner) atWeight(weight int32, stable *appsv1.ReplicaSet) bool {
	replicas := p.ro.GetReplicas()
	surge, _ := p.canaryLimits()
	dn, ds := canaryCounts(replicas, weight, surge)
	if stable == nil {
		dn, ds = replicas, 0
	}
	if !saturated(p.newRS, dn) || stable != nil && !saturated(stable, ds) {
		return false
	}
	for _, rs := range p.all {
		if rs != p.newRS && rs != stable && (specReplicas(rs) > 0 || rs.Status.AvailableReplicas > 0) {
			return false
		}
	}
	return true
}

// pauseDone starts a pause step, or reports that it ended: at startTime+duration, or
// when a user resumed (cleared the pause conditions the controller set).
func (p *planner) pauseDone(pause *v1alpha1.RolloutPause) bool {
	var d time.Duration
	if pause.Duration != nil {
		var err error
		if d, err = validation.ParsePauseDuration(*pause.Duration); err != nil {
			// Validation rejects this before planning; waiting is the safe reading.
			return false
		}
		if d <= 0 {
			return true
		}
	}
	pc := findPause(p.st.PauseConditions, v1alpha1.PauseReasonCanaryPauseStep)
	if pc == nil {
		if p.st.ControllerPause && len(p.st.PauseConditions) == 0 {
			return true
		}
		p.addPause(v1alpha1.PauseReasonCanaryPauseStep)
		pc = findPause(p.st.PauseConditions, v1alpha1.PauseReasonCanaryPauseStep)
	}
	if pause.Duration == nil {
		return false
	}
	end := pc.StartTime.Add(d)
	if !p.now.Time.Before(end) {
		return true
	}
	p.requeueAt(end)
	return false
}

// stepKind is the kind of an experiment or plugin step, for messages.
func stepKind(s *v1alpha1.CanaryStep) string {
	if s.Experiment != nil {
		return "experiment"
	}
	return "plugin"
}

// stepString names a step in events the way the contract spells it.
func stepString(s *v1alpha1.CanaryStep) string {
	switch {
	case s.SetWeight != nil:
		return fmt.Sprintf("setWeight: %d", *s.SetWeight)
	case s.Pause != nil:
		if s.Pause.Duration != nil {
			return "pause: " + s.Pause.Duration.String()
		}
		return "pause"
	case s.Analysis != nil:
		return "analysis"
	case s.Experiment != nil:
		return "experiment"
	case s.SetCanaryScale != nil:
		return "setCanaryScale"
	case s.SetHeaderRoute != nil:
		return "setHeaderRoute"
	case s.SetMirrorRoute != nil:
		return "setMirrorRoute"
	case s.Plugin != nil:
		return "plugin: " + s.Plugin.Name
	}
	return "invalid"
}
