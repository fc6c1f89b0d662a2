package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/phase"
)

// finishStatus fills in the counts, conditions and phase once the strategy decided, and
// queues the events of the transitions it sees.
func (p *planner) finishStatus() {
	p.finishCounts()
	if p.ro.Spec.Strategy.BlueGreen != nil {
		p.st.BlueGreen.ActiveSelector = p.selects.active
		p.st.BlueGreen.PreviewSelector = p.selects.preview
	}
	p.st.Selector = p.selectorString()
	p.updateProgressing()
	p.updateCompleted()
	p.updatePaused()
	p.updateAvailable()
	p.setPhase()
	healthy := p.st.Phase == v1alpha1.RolloutPhaseHealthy
	if healthy {
		p.setCondition(v1alpha1.RolloutHealthy, corev1.ConditionTrue, v1alpha1.RolloutHealthyReason, v1alpha1.RolloutHealthyMessage)
	} else {
		p.setCondition(v1alpha1.RolloutHealthy, corev1.ConditionFalse, v1alpha1.RolloutHealthyReason, v1alpha1.RolloutNotHealthyMessage)
	}
}

// finishCounts sums the replica counts of the ReplicaSets as they are observed.
func (p *planner) finishCounts() {
	var replicas, ready, avail int32
	for _, rs := range p.all {
		replicas += rs.Status.Replicas
		ready += rs.Status.ReadyReplicas
		avail += rs.Status.AvailableReplicas
	}
	p.st.Replicas, p.st.ReadyReplicas, p.st.AvailableReplicas = replicas, ready, avail
	p.st.UpdatedReplicas = 0
	if p.newRS != nil && !p.created {
		p.st.UpdatedReplicas = p.newRS.Status.Replicas
	}
	if p.ro.Spec.Strategy.BlueGreen != nil && p.selects.active != "" {
		// For blue-green, only the active version counts as available to users.
		p.st.AvailableReplicas = available(p.byHash(p.selects.active))
	}
	p.st.HPAReplicas = p.st.Replicas
}

func (p *planner) selectorString() string {
	if p.ro.Spec.Selector == nil {
		return ""
	}
	sel := p.ro.Spec.Selector.DeepCopy()
	if p.ro.Spec.Strategy.BlueGreen != nil && p.selects.active != "" {
		// The scale subresource (and so an HPA) should count the active pods only.
		sel.MatchLabels = withLabel(sel.MatchLabels, hashKey, p.selects.active)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}

func (p *planner) completed() bool {
	return p.st.StableRS != "" && p.st.StableRS == p.st.CurrentPodHash && !p.st.Abort
}

func (p *planner) paused() bool {
	return p.ro.Spec.Paused || len(p.st.PauseConditions) > 0
}

// updateProgressing keeps the Progressing condition, which also carries the time of the
// last progress that the progress deadline counts from.
func (p *planner) updateProgressing() {
	name := ""
	if p.newRS != nil {
		name = p.newRS.Name
	}
	revision := p.newRev
	switch {
	case p.st.Abort && !p.completed():
		msg := fmt.Sprintf(v1alpha1.RolloutAbortedMessageFormat, revision)
		prev := findCondition(p.st.Conditions, v1alpha1.RolloutProgressing)
		switch {
		case p.abortMessage != "":
			msg += ": " + p.abortMessage
		case prev != nil && prev.Reason == v1alpha1.RolloutAbortedReason && strings.HasPrefix(prev.Message, msg+": "):
			// Why the controller aborted is known only in the decision that aborted.
			msg = prev.Message
		case prev != nil && prev.Reason == v1alpha1.TimedOutReason && p.ro.Spec.ProgressDeadlineAbort:
			msg += ": " + prev.Message
		}
		if p.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.RolloutAbortedReason, msg) {
			p.tail = append(p.tail, warningEvent(v1alpha1.EventReasonRolloutAborted, "%s", msg))
		}
		return
	case p.paused():
		p.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionUnknown, v1alpha1.PausedRolloutReason, v1alpha1.RolloutPausedMessage)
		return
	case p.completed() && p.newRS != nil && !p.created && p.newRS.Status.AvailableReplicas >= p.ro.GetReplicas() && p.oldScaledDown():
		p.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionTrue, v1alpha1.NewRSAvailableReason, fmt.Sprintf("ReplicaSet %q has successfully progressed.", name))
		return
	}

	prev := findCondition(p.old.Conditions, v1alpha1.RolloutProgressing)
	if p.created {
		p.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionTrue, v1alpha1.NewReplicaSetReason, fmt.Sprintf("Created new replica set %q", name))
		return
	}
	if prev != nil && prev.Reason == v1alpha1.TimedOutReason && p.completed() {
		return
	}
	progressed := p.st.UpdatedReplicas != p.old.UpdatedReplicas || p.st.ReadyReplicas != p.old.ReadyReplicas ||
		p.st.AvailableReplicas != p.old.AvailableReplicas || p.st.Replicas != p.old.Replicas || p.stepsProgressed()
	if prev == nil || progressed || prev.Reason == v1alpha1.PausedRolloutReason || prev.Reason == v1alpha1.RolloutAbortedReason {
		reason, msg := v1alpha1.ReplicaSetUpdatedReason, fmt.Sprintf("ReplicaSet %q is progressing.", name)
		switch {
		case p.retried:
			reason, msg = v1alpha1.RolloutRetryReason, "Retrying Rollout after abort"
		case prev != nil && prev.Reason == v1alpha1.PausedRolloutReason:
			reason, msg = v1alpha1.ResumedRolloutReason, v1alpha1.RolloutResumedMessage
		}
		p.setConditionAt(v1alpha1.RolloutProgressing, corev1.ConditionTrue, reason, msg, true)
		return
	}
	if prev.Reason == v1alpha1.TimedOutReason || p.openEndedWait {
		// A step with no end of its own (an analysis running) is not a lack of progress.
		return
	}
	// No progress since the last update: check the deadline.
	deadline := prev.LastUpdateTime.Add(time.Duration(p.ro.GetProgressDeadlineSeconds()) * time.Second)
	if p.now.Time.Before(deadline) {
		p.requeueAt(deadline.Add(time.Second))
		return
	}
	msg := fmt.Sprintf(v1alpha1.TimedOutMessageFormat, name)
	if p.setCondition(v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.TimedOutReason, msg) {
		p.tail = append(p.tail, warningEvent(v1alpha1.EventReasonProgressDeadline, "%s", msg))
	}
	if p.ro.Spec.ProgressDeadlineAbort && !p.st.Abort {
		p.st.Abort = true
		p.abortMessage = msg
	}
}

// oldScaledDown reports whether every other version is at zero once the actions ran.
func (p *planner) oldScaledDown() bool {
	for _, rs := range p.all {
		if rs != p.newRS && p.replicasOf(rs) > 0 && rs.Labels[hashKey] != p.selects.active {
			if _, waiting := scaleDownDeadline(rs); waiting {
				// Waiting out a scale-down delay is not a lack of progress.
				continue
			}
			return false
		}
	}
	return true
}

func (p *planner) updateCompleted() {
	if p.completed() {
		head := fmt.Sprintf("Rollout completed update to revision %d (%s): ", p.newRev, p.st.CurrentPodHash)
		msg := head + p.completionReasonOr()
		prev := findCondition(p.old.Conditions, v1alpha1.RolloutCompleted)
		if prev != nil && prev.Status == corev1.ConditionTrue && strings.HasPrefix(prev.Message, head) {
			// Keep the message of the completion that happened, not a restated one.
			return
		}
		p.setCondition(v1alpha1.RolloutCompleted, corev1.ConditionTrue, v1alpha1.RolloutCompletedReason, msg)
		p.tail = append(p.tail, normalEvent(v1alpha1.EventReasonRolloutCompleted, "%s", msg))
		return
	}
	msg := fmt.Sprintf("Rollout not completed, started update to revision %d (%s)", p.newRev, p.st.CurrentPodHash)
	if p.setCondition(v1alpha1.RolloutCompleted, corev1.ConditionFalse, v1alpha1.RolloutNotCompletedReason, msg) && !p.notCompletedSent {
		p.tail = append(p.tail, normalEvent(v1alpha1.EventReasonRolloutNotCompleted, "%s", msg))
	}
}

func (p *planner) completionReasonOr() string {
	if p.completionReason != "" {
		return p.completionReason
	}
	return "Completed"
}

func (p *planner) updatePaused() {
	if p.paused() {
		p.setCondition(v1alpha1.RolloutPaused, corev1.ConditionTrue, v1alpha1.PausedRolloutReason, v1alpha1.RolloutPausedMessage)
		if p.ro.Spec.Paused && !p.old.ControllerPause && findCondition(p.old.Conditions, v1alpha1.RolloutPaused) == nil {
			p.tail = append(p.tail, normalEvent(v1alpha1.EventReasonRolloutPaused, "Rollout is paused (manually paused)"))
		}
		return
	}
	if c := findCondition(p.st.Conditions, v1alpha1.RolloutPaused); c != nil && c.Status == corev1.ConditionTrue {
		p.setCondition(v1alpha1.RolloutPaused, corev1.ConditionFalse, v1alpha1.ResumedRolloutReason, v1alpha1.RolloutResumedMessage)
		if !p.st.Abort {
			// The resumption is what the writes of this decision follow from.
			p.actions = slices.Insert(p.actions, p.resumeAt, Action(normalEvent(v1alpha1.EventReasonRolloutResumed, "Rollout is resumed")))
		}
	}
}

func (p *planner) updateAvailable() {
	need := p.ro.GetReplicas()
	if p.ro.Spec.Strategy.Canary != nil {
		need -= p.maxUnavailable()
	}
	if p.st.AvailableReplicas >= need {
		p.setCondition(v1alpha1.RolloutAvailable, corev1.ConditionTrue, v1alpha1.AvailableReason, v1alpha1.AvailableMessage)
	} else {
		p.setCondition(v1alpha1.RolloutAvailable, corev1.ConditionFalse, v1alpha1.AvailableReason, v1alpha1.NotAvailableMessage)
	}
}

// setPhase derives phase and message from the status, in the contract's precedence.
func (p *planner) setPhase() {
	p.st.Phase, p.st.Message = phase.Of(p.ro, &p.st)
}

func findCondition(list []v1alpha1.RolloutCondition, t v1alpha1.RolloutConditionType) *v1alpha1.RolloutCondition {
	for i := range list {
		if list[i].Type == t {
			return &list[i]
		}
	}
	return nil
}

// setCondition sets a condition and reports whether its status or reason changed.
// Times move only with a real change, so an unchanged rollout writes no status.
func (p *planner) setCondition(t v1alpha1.RolloutConditionType, status corev1.ConditionStatus, reason, msg string) bool {
	return p.setConditionAt(t, status, reason, msg, false)
}

func (p *planner) setConditionAt(t v1alpha1.RolloutConditionType, status corev1.ConditionStatus, reason, msg string, touch bool) bool {
	c := findCondition(p.st.Conditions, t)
	if c == nil {
		p.st.Conditions = append(p.st.Conditions, v1alpha1.RolloutCondition{
			Type: t, Status: status, Reason: reason, Message: msg, LastUpdateTime: p.now, LastTransitionTime: p.now,
		})
		return true
	}
	changed := c.Status != status || c.Reason != reason
	if c.Status != status {
		c.LastTransitionTime = p.now
	}
	if changed || c.Message != msg || touch {
		c.LastUpdateTime = p.now
	}
	c.Status, c.Reason, c.Message = status, reason, msg
	return changed
}

func (p *planner) clearCondition(t v1alpha1.RolloutConditionType) {
	var out []v1alpha1.RolloutCondition
	for _, c := range p.st.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	p.st.Conditions = out
}
