package plan

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/traffic"
)

// The blue-green strategy runs the new version beside the stable one behind the
// preview Service, and moves the active Service to it once it is fully available and
// promotion is due. classify.go picks which of the handlers below acts.

// observeBlueGreen reads what the active and preview Services select now.
func (p *planner) observeBlueGreen(bg *v1alpha1.BlueGreenStrategy) {
	p.selects.active = p.s.Traffic.Hash(bg.ActiveService)
	p.selects.preview = p.s.Traffic.Hash(bg.PreviewService)
}

// blueGreenPaused: a manual pause freezes every workload object where it is, but for
// their size.
func (p *planner) blueGreenPaused() {
	p.blueGreenPausedScale(p.ro.Spec.Strategy.BlueGreen)
}

// blueGreenInitialDeploy: no pause, no analysis; the first version is stable at once
// and the Services follow as soon as its pods are available.
func (p *planner) blueGreenInitialDeploy() {
	bg, replicas, cur := p.ro.Spec.Strategy.BlueGreen, p.ro.GetReplicas(), p.st.CurrentPodHash
	p.ensureNewRS(replicas, bg.ActiveMetadata)
	p.st.StableRS = cur
	p.completionReason = "Initial deploy"
	if !p.created && saturated(p.newRS, replicas) {
		p.switchActive(bg, cur)
		p.switchPreview(bg, cur)
	}
	p.bgScaleDownOld(bg)
}

// blueGreenAtStable: back on the stable version (steady state, or a rollback during an
// update), there is nothing to promote; whatever the update brought up goes away.
func (p *planner) blueGreenAtStable() {
	bg, replicas, cur := p.ro.Spec.Strategy.BlueGreen, p.ro.GetReplicas(), p.st.CurrentPodHash
	if p.st.Abort || p.st.AbortedAt != nil {
		p.st.Abort, p.st.AbortedAt = false, nil
	}
	p.clearPause()
	p.ensureNewRS(replicas, bg.ActiveMetadata)
	if available(p.newRS) > 0 {
		p.switchActive(bg, cur)
		p.switchPreview(bg, cur)
	}
	if findCondition(p.old.Conditions, v1alpha1.RolloutCompleted) != nil {
		p.completionReason = "Fast rollback"
	}
	p.bgScaleDownOld(bg)
}

// blueGreenAborted: traffic goes back to the stable version (bgAbort).
func (p *planner) blueGreenAborted() {
	p.bgAbort(p.ro.Spec.Strategy.BlueGreen, p.byHash(p.st.StableRS))
}

// blueGreenUpdate brings the new version up behind the preview Service, switches the
// active Service to it once promotion is due, and makes it stable. Each step below
// either lets the next follow, holds the update where it is, or aborts it.
func (p *planner) blueGreenUpdate() {
	u := p.beginBlueGreenUpdate()
	p.bgScalePreview(&u)
	next := bgGoOn
	if p.selects.active != u.cur {
		if next = p.bgPrePromotionGate(&u); next == bgGoOn {
			next = p.bgSwitchActive(&u)
		}
	}
	if next == bgGoOn {
		next = p.bgPostPromotion(&u)
	}
	switch next {
	case bgAbortNow:
		p.bgAbort(u.bg, u.stable)
	case bgHold:
		p.bgScaleDownOld(u.bg)
	default:
		p.bgPromote(&u)
	}
}

// bgUpdate is what the steps of one blue-green update decision share.
type bgUpdate struct {
	bg       *v1alpha1.BlueGreenStrategy
	replicas int32
	// cur is the hash of the new version; stable the ReplicaSet of the stable one.
	cur    string
	stable *appsv1.ReplicaSet
	// fastTrack: a rollback to a version still inside its scale-down delay is fully up
	// already, and goes straight back to active (no pause, no analysis).
	fastTrack bool
	// previewSize is the size of the new version until its promotion is due.
	previewSize int32
}

// bgStep is how a step of a blue-green update ends.
type bgStep int

const (
	bgGoOn     bgStep = iota // the next step follows
	bgHold                   // the update waits here; old versions go as they are due to
	bgAbortNow               // the step aborted the update
)

// beginBlueGreenUpdate clears what an earlier attempt left (a retry after an abort, or
// a new update) and decides how the new version runs.
func (p *planner) beginBlueGreenUpdate() bgUpdate {
	bg, replicas := p.ro.Spec.Strategy.BlueGreen, p.ro.GetReplicas()
	u := bgUpdate{bg: bg, replicas: replicas, cur: p.st.CurrentPodHash, stable: p.byHash(p.st.StableRS)}
	if p.st.AbortedAt != nil {
		p.st.AbortedAt = nil
		p.retried = true
	}
	if p.newRS == nil {
		// A fresh update starts with no pause decided yet.
		p.st.ControllerPause = false
		p.st.PauseConditions = nil
		p.st.BlueGreen.ScaleUpPreviewCheckPoint = false
	}
	if p.newRS != nil {
		if deadline, ok := scaleDownDeadline(p.newRS); ok && p.now.Time.Before(deadline) && saturated(p.newRS, replicas) {
			u.fastTrack = true
		}
	}
	u.previewSize = replicas
	if bg.PreviewReplicaCount != nil && !p.st.BlueGreen.ScaleUpPreviewCheckPoint && !p.st.PromoteFull && !u.fastTrack {
		u.previewSize = *bg.PreviewReplicaCount
	}
	return u
}

// bgScalePreview sizes the new version, keeps the stable one up while it is active,
// and points the preview Service at the new version once it has an available pod.
func (p *planner) bgScalePreview(u *bgUpdate) {
	p.ensureNewRS(u.previewSize, u.bg.PreviewMetadata)
	if u.stable != nil && p.selects.active == u.stable.Labels[hashKey] {
		p.keepUp(u.stable, u.replicas)
		p.syncMetadata(u.stable, u.bg.ActiveMetadata)
	}
	if !p.created && available(p.newRS) > 0 {
		p.switchPreview(u.bg, u.cur)
	}
}

// bgPrePromotionGate holds the update until the preview is fully up, the pause before
// promotion is over and the pre-promotion analysis succeeded; then it brings a preview
// run at a reduced size to full size before the switch.
func (p *planner) bgPrePromotionGate(u *bgUpdate) bgStep {
	if p.created || !saturated(p.newRS, u.previewSize) {
		return bgHold
	}
	pauseDone := p.bgPauseDone(u.bg, u.fastTrack)
	preDone := p.bluePrePromotion(u.bg, u.fastTrack)
	if p.st.Abort {
		return bgAbortNow
	}
	if !pauseDone || !preDone {
		return bgHold
	}
	if u.previewSize != u.replicas {
		p.st.BlueGreen.ScaleUpPreviewCheckPoint = true
		p.scale(p.newRS, u.replicas)
		return bgHold
	}
	return bgGoOn
}

// bgSwitchActive points the active Service at the new version, once it may select it.
// The old version's deadline is written before the switch, so that a crash in between
// cannot leave it unmarked and scaled down at once.
func (p *planner) bgSwitchActive(u *bgUpdate) bgStep {
	if !p.canSelect(p.selects.active, u.cur) {
		return bgHold
	}
	if old := p.byHash(p.selects.active); old != nil && old != p.newRS && (old != u.stable || !p.postPromotionDue(u.bg, u.fastTrack)) {
		p.delayScaleDown(old, u.bg.ScaleDownDelaySecondsOrDefault())
	}
	p.switchActive(u.bg, u.cur)
	return bgGoOn
}

// bgPostPromotion holds the new version, active now, until its post-promotion analysis
// succeeded; the stable version stays up to be switched back to should it fail.
func (p *planner) bgPostPromotion(u *bgUpdate) bgStep {
	if !p.postPromotionDue(u.bg, u.fastTrack) || p.bluePostPromotion(u.bg, u.fastTrack) {
		return bgGoOn
	}
	if p.st.Abort {
		return bgAbortNow
	}
	if u.stable != nil {
		p.keepUp(u.stable, u.replicas)
		p.holdStable = true
	}
	return bgHold
}

// bgPromote makes the new version stable: the old stable one starts its scale-down
// delay if the post-promotion analysis kept it up, and the preview follows.
func (p *planner) bgPromote(u *bgUpdate) {
	bg, stable := u.bg, u.stable
	if bg.PostPromotionAnalysis != nil && stable != nil && stable != p.newRS && !p.delayed[stable.Name] && p.replicasOf(stable) > 0 {
		if _, ok := scaleDownDeadline(stable); !ok {
			p.delayScaleDown(stable, bg.ScaleDownDelaySecondsOrDefault())
		}
	}
	p.st.StableRS = u.cur
	switch {
	case p.old.PromoteFull:
		p.completionReason = "Full promotion requested"
	case u.fastTrack:
		p.completionReason = "Fast rollback"
	default:
		p.completionReason = "Completed blue-green update"
	}
	p.st.PromoteFull = false
	p.st.BlueGreen.ScaleUpPreviewCheckPoint = false
	p.clearPause()
	p.syncMetadata(p.newRS, bg.ActiveMetadata)
	p.switchPreview(bg, u.cur)
	p.bgScaleDownOld(bg)
}

// bgAbort sends traffic back to the stable version and scales the new one down once
// the abort scale-down delay has passed.
func (p *planner) bgAbort(bg *v1alpha1.BlueGreenStrategy, stable *appsv1.ReplicaSet) {
	if p.st.AbortedAt == nil {
		at := p.now
		p.st.AbortedAt = &at
	}
	p.clearPause()
	replicas := p.ro.GetReplicas()
	if stable != nil {
		p.keepUp(stable, replicas)
		if available(stable) > 0 {
			p.switchActive(bg, stable.Labels[hashKey])
			p.switchPreview(bg, stable.Labels[hashKey])
		}
	}
	if p.newRS != nil && specReplicas(p.newRS) > 0 {
		delay := bg.AbortScaleDownDelaySecondsOrDefault()
		deadline := p.st.AbortedAt.Add(time.Duration(delay) * time.Second)
		servesTraffic := p.selects.active == p.st.CurrentPodHash || p.selects.preview == p.st.CurrentPodHash
		switch {
		case delay == 0:
			// 0 keeps the aborted version up for inspection.
		case servesTraffic:
			// A Service still selects it (the stable has no available pod yet).
		case !p.now.Time.Before(deadline):
			p.scale(p.newRS, 0)
		default:
			p.requeueAt(deadline)
		}
	}
	p.bgScaleDownOld(bg)
}

// bgPauseDone applies the pause before promotion and reports whether it is over.
func (p *planner) bgPauseDone(bg *v1alpha1.BlueGreenStrategy, fastTrack bool) bool {
	if p.st.PromoteFull || fastTrack {
		p.clearPause()
		return true
	}
	auto := bg.AutoPromotionEnabledOrDefault()
	if auto && bg.AutoPromotionSeconds <= 0 {
		return true
	}
	if pc := findPause(p.st.PauseConditions, v1alpha1.PauseReasonBlueGreenPause); pc != nil {
		if auto {
			end := pc.StartTime.Add(time.Duration(bg.AutoPromotionSeconds) * time.Second)
			if !p.now.Time.Before(end) {
				p.st.PauseConditions = removePause(p.st.PauseConditions, v1alpha1.PauseReasonBlueGreenPause)
				return true
			}
			p.requeueAt(end)
		}
		return false
	}
	if p.st.ControllerPause {
		// The controller paused and the pause conditions are gone: a user resumed.
		return true
	}
	p.addPause(v1alpha1.PauseReasonBlueGreenPause)
	return false
}

// switchActive points the active Service at hash once that is safe (canSelect).
func (p *planner) switchActive(bg *v1alpha1.BlueGreenStrategy, h string) {
	p.switchService(traffic.RoleActive, bg.ActiveService, &p.selects.active, h)
}

func (p *planner) switchPreview(bg *v1alpha1.BlueGreenStrategy, h string) {
	p.switchService(traffic.RolePreview, bg.PreviewService, &p.selects.preview, h)
}

// bgScaleDownOld scales down every version that neither is new nor serves traffic: at
// its scale-down deadline if it has one, at once otherwise, and at once beyond the
// scaleDownDelayRevisionLimit.
func (p *planner) bgScaleDownOld(bg *v1alpha1.BlueGreenStrategy) {
	var olds []*appsv1.ReplicaSet
	for _, rs := range p.all {
		h := rs.Labels[hashKey]
		if rs == p.newRS || h == p.selects.active || h == p.selects.preview || p.replicasOf(rs) == 0 || p.holdStable && h == p.st.StableRS {
			continue
		}
		olds = append(olds, rs)
	}
	sortByRevision(olds)
	limit := bg.ScaleDownDelayRevisionLimitOrDefault()
	waiting := int32(0)
	for i := len(olds) - 1; i >= 0; i-- {
		rs := olds[i]
		if p.delayed[rs.Name] {
			waiting++
			continue
		}
		deadline, ok := scaleDownDeadline(rs)
		if ok && p.now.Time.Before(deadline) && waiting < limit {
			waiting++
			p.requeueAt(deadline)
			continue
		}
		p.scale(rs, 0)
	}
}

// blueGreenPausedScale follows a change of spec.replicas during a manual pause, as users
// scale a paused Deployment: the version behind the active Service and the one being
// previewed take the new size (the preview its previewReplicaCount until promotion),
// and nothing else moves. A template changed under the pause waits for the unpause.
func (p *planner) blueGreenPausedScale(bg *v1alpha1.BlueGreenStrategy) {
	if !p.scalingEvent() {
		return
	}
	replicas := p.ro.GetReplicas()
	for _, rs := range p.all {
		h := rs.Labels[hashKey]
		switch {
		case specReplicas(rs) == 0:
			// Scaled away, or waiting out its scale-down delay at zero: not a size to keep.
		case h == p.selects.active:
			p.scale(rs, replicas)
		case rs == p.newRS:
			want := replicas
			if bg.PreviewReplicaCount != nil && !p.st.BlueGreen.ScaleUpPreviewCheckPoint && !p.st.PromoteFull {
				want = *bg.PreviewReplicaCount
			}
			p.scale(rs, want)
		}
	}
}

// bluePrePromotion follows the pre-promotion analysis of a blue-green update, once the
// new version is up behind the preview Service; it reports whether the active Service
// may switch as far as the analysis is concerned.
func (p *planner) bluePrePromotion(bg *v1alpha1.BlueGreenStrategy, fastTrack bool) bool {
	if bg.PrePromotionAnalysis == nil || fastTrack || p.st.PromoteFull {
		return true
	}
	switch p.followRun(kindPre, bg.PrePromotionAnalysis, 0) {
	case runSucceeded:
		return true
	case runWaiting:
		p.openEndedWait = true
	}
	return false
}

// bluePostPromotion follows the post-promotion analysis of a blue-green update, once the
// active Service selects the new version; it reports whether the new version may become
// stable.
func (p *planner) bluePostPromotion(bg *v1alpha1.BlueGreenStrategy, fastTrack bool) bool {
	if bg.PostPromotionAnalysis == nil || fastTrack || p.st.PromoteFull {
		return true
	}
	switch p.followRun(kindPost, bg.PostPromotionAnalysis, 0) {
	case runSucceeded:
		return true
	case runWaiting:
		p.openEndedWait = true
	}
	return false
}

// postPromotionDue reports whether a blue-green update still has its post-promotion
// analysis ahead: configured, not skipped, and the new version not stable yet.
func (p *planner) postPromotionDue(bg *v1alpha1.BlueGreenStrategy, fastTrack bool) bool {
	return bg.PostPromotionAnalysis != nil && !fastTrack && !p.st.PromoteFull && p.st.StableRS != p.st.CurrentPodHash
}
