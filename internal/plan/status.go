package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/phase"
)

// finishStatus derives the status of the decision (calculateStatus) and places the
// events of the transitions it sees.
func (p *planner) finishStatus() {
	res := calculateStatus(&statusInput{
		ro: p.ro, old: p.old, decided: &p.st, now: p.now,
		all: p.all, scaled: p.scaled, newRS: p.newRS, created: p.created, newRev: p.newRev,
		selects: p.selects, completionReason: p.completionReason, abortMessage: p.abortMessage,
		notCompletedSent: p.notCompletedSent, retried: p.retried, openEndedWait: p.openEndedWait,
	})
	p.st = res.status
	p.tail = append(p.tail, res.events...)
	if res.resumed {
		// The resumption is what the writes of this decision follow from.
		p.actions = slices.Insert(p.actions, p.resumeAt, Action(normalEvent(v1alpha1.EventReasonRolloutResumed, "Rollout is resumed")))
	}
	if !res.checkDeadlineAt.IsZero() {
		p.requeueAt(res.checkDeadlineAt)
	}
}

// statusInput is what calculateStatus derives the status from: the old status, what the
// decision decided and the ReplicaSets it observed.
type statusInput struct {
	ro  *v1alpha1.Rollout
	old *v1alpha1.RolloutStatus
	// decided is the status as the decision recorded it: the stable version, the step,
	// pauses, an abort, the analysis runs. Its counts, conditions and phase are redone.
	decided *v1alpha1.RolloutStatus
	now     metav1.Time

	all []*appsv1.ReplicaSet
	// scaled is the size the decision gives a ReplicaSet, where it sizes it.
	scaled map[string]int32
	// newRS is the ReplicaSet of the template; created is true when the decision creates
	// it; newRev is its revision.
	newRS   *appsv1.ReplicaSet
	created bool
	newRev  int64
	// selects is what the strategy's Services select once the decision's writes ran.
	selects serviceHashes
	// completionReason says why a promotion this decision made happened.
	completionReason string
	// abortMessage says why the controller itself aborted in this decision.
	abortMessage string
	// notCompletedSent: the decision reported the update's start already.
	notCompletedSent bool
	// retried: the decision cleared an earlier abort.
	retried bool
	// openEndedWait: the rollout waits on something with no end of its own.
	openEndedWait bool
}

// statusResult is the status a decision writes and the transitions it reports.
type statusResult struct {
	status v1alpha1.RolloutStatus
	// events report the transitions; they follow the decision's writes.
	events []Action
	// resumed: the rollout resumes. Its event goes where the strategy placed the cause.
	resumed bool
	// checkDeadlineAt is when the progress deadline falls due, if it is running.
	checkDeadlineAt time.Time
}

// calculateStatus fills in the counts, conditions and phase of the status once the
// strategy decided, as the Deployment controller's calculateStatus does, and lists the
// events of the transitions it sees. It reads its input only.
func calculateStatus(in *statusInput) statusResult {
	st := *in.decided
	st.Conditions = slices.Clone(st.Conditions)
	c := statusCalc{in: in, st: &st}
	c.counts()
	if in.ro.Spec.Strategy.BlueGreen != nil {
		st.BlueGreen.ActiveSelector = in.selects.active
		st.BlueGreen.PreviewSelector = in.selects.preview
	}
	st.Selector = selectorString(in.ro, in.selects.active)
	c.progressing()
	c.completedCondition()
	c.pausedCondition()
	c.availableCondition()
	st.Phase, st.Message = phase.Of(in.ro, &st)
	if st.Phase == v1alpha1.RolloutPhaseHealthy {
		setCondition(&st, in.now, v1alpha1.RolloutHealthy, corev1.ConditionTrue, v1alpha1.RolloutHealthyReason, v1alpha1.RolloutHealthyMessage)
	} else {
		setCondition(&st, in.now, v1alpha1.RolloutHealthy, corev1.ConditionFalse, v1alpha1.RolloutHealthyReason, v1alpha1.RolloutNotHealthyMessage)
	}
	c.res.status = st
	return c.res
}

// statusCalc is the working state of one calculateStatus.
type statusCalc struct {
	in  *statusInput
	st  *v1alpha1.RolloutStatus
	res statusResult
}

// counts sums the replica counts of the ReplicaSets as they are observed.
func (c *statusCalc) counts() {
	countReplicas(c.st, c.in.ro, c.in.all, c.in.newRS, c.in.created, c.in.selects.active)
}

// countReplicas sums the replica counts of the ReplicaSets as they are observed; for a
// blue-green, only the version behind the active Service (activeHash) counts as
// available to users.
func countReplicas(st *v1alpha1.RolloutStatus, ro *v1alpha1.Rollout, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, created bool, activeHash string) {
	var replicas, ready, avail int32
	for _, rs := range all {
		replicas += rs.Status.Replicas
		ready += rs.Status.ReadyReplicas
		avail += rs.Status.AvailableReplicas
	}
	st.Replicas, st.ReadyReplicas, st.AvailableReplicas = replicas, ready, avail
	st.UpdatedReplicas = 0
	if newRS != nil && !created {
		st.UpdatedReplicas = newRS.Status.Replicas
	}
	if ro.Spec.Strategy.BlueGreen != nil && activeHash != "" {
		st.AvailableReplicas = available(findByHash(all, activeHash))
	}
	st.HPAReplicas = st.Replicas
}

func selectorString(ro *v1alpha1.Rollout, activeHash string) string {
	if ro.Spec.Selector == nil {
		return ""
	}
	sel := ro.Spec.Selector.DeepCopy()
	if ro.Spec.Strategy.BlueGreen != nil && activeHash != "" {
		// The scale subresource (and so an HPA) should count the active pods only.
		sel.MatchLabels = withLabel(sel.MatchLabels, hashKey, activeHash)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}

func (c *statusCalc) completed() bool {
	return c.st.StableRS != "" && c.st.StableRS == c.st.CurrentPodHash && !c.st.Abort
}

func (c *statusCalc) paused() bool {
	return c.in.ro.Spec.Paused || len(c.st.PauseConditions) > 0
}

func (c *statusCalc) set(t v1alpha1.RolloutConditionType, status corev1.ConditionStatus, reason, msg string) bool {
	return setCondition(c.st, c.in.now, t, status, reason, msg)
}

func (c *statusCalc) event(e Event) { c.res.events = append(c.res.events, e) }

// progressing keeps the Progressing condition, which also carries the time of the
// last progress that the progress deadline counts from.
func (c *statusCalc) progressing() {
	in, st := c.in, c.st
	name := ""
	if in.newRS != nil {
		name = in.newRS.Name
	}
	revision := in.newRev
	switch {
	case st.Abort && !c.completed():
		msg := fmt.Sprintf(v1alpha1.RolloutAbortedMessageFormat, revision)
		prev := findCondition(st.Conditions, v1alpha1.RolloutProgressing)
		switch {
		case in.abortMessage != "":
			msg += ": " + in.abortMessage
		case prev != nil && prev.Reason == v1alpha1.RolloutAbortedReason && strings.HasPrefix(prev.Message, msg+": "):
			// Why the controller aborted is known only in the decision that aborted.
			msg = prev.Message
		case prev != nil && prev.Reason == v1alpha1.TimedOutReason && in.ro.Spec.ProgressDeadlineAbort:
			msg += ": " + prev.Message
		}
		if c.set(v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.RolloutAbortedReason, msg) {
			c.event(warningEvent(v1alpha1.EventReasonRolloutAborted, "%s", msg))
		}
		return
	case c.paused():
		c.set(v1alpha1.RolloutProgressing, corev1.ConditionUnknown, v1alpha1.PausedRolloutReason, v1alpha1.RolloutPausedMessage)
		return
	case c.completed() && in.newRS != nil && !in.created && in.newRS.Status.AvailableReplicas >= in.ro.GetReplicas() && c.oldScaledDown():
		c.set(v1alpha1.RolloutProgressing, corev1.ConditionTrue, v1alpha1.NewRSAvailableReason, fmt.Sprintf("ReplicaSet %q has successfully progressed.", name))
		return
	}

	prev := findCondition(in.old.Conditions, v1alpha1.RolloutProgressing)
	if in.created {
		c.set(v1alpha1.RolloutProgressing, corev1.ConditionTrue, v1alpha1.NewReplicaSetReason, fmt.Sprintf("Created new replica set %q", name))
		return
	}
	if prev != nil && prev.Reason == v1alpha1.TimedOutReason && c.completed() {
		return
	}
	old := in.old
	progressed := st.UpdatedReplicas != old.UpdatedReplicas || st.ReadyReplicas != old.ReadyReplicas ||
		st.AvailableReplicas != old.AvailableReplicas || st.Replicas != old.Replicas || stepsProgressed(in.ro, old, st)
	if prev == nil || progressed || prev.Reason == v1alpha1.PausedRolloutReason || prev.Reason == v1alpha1.RolloutAbortedReason {
		reason, msg := v1alpha1.ReplicaSetUpdatedReason, fmt.Sprintf("ReplicaSet %q is progressing.", name)
		switch {
		case in.retried:
			reason, msg = v1alpha1.RolloutRetryReason, "Retrying Rollout after abort"
		case prev != nil && prev.Reason == v1alpha1.PausedRolloutReason:
			reason, msg = v1alpha1.ResumedRolloutReason, v1alpha1.RolloutResumedMessage
		}
		setConditionAt(st, in.now, v1alpha1.RolloutProgressing, corev1.ConditionTrue, reason, msg, true)
		return
	}
	if prev.Reason == v1alpha1.TimedOutReason || in.openEndedWait {
		// A step with no end of its own (an analysis running) is not a lack of progress.
		return
	}
	// No progress since the last update: check the deadline.
	deadline := prev.LastUpdateTime.Add(time.Duration(in.ro.GetProgressDeadlineSeconds()) * time.Second)
	if in.now.Time.Before(deadline) {
		c.res.checkDeadlineAt = deadline.Add(time.Second)
		return
	}
	msg := fmt.Sprintf(v1alpha1.TimedOutMessageFormat, name)
	if c.set(v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.TimedOutReason, msg) {
		c.event(warningEvent(v1alpha1.EventReasonProgressDeadline, "%s", msg))
	}
	if in.ro.Spec.ProgressDeadlineAbort && !st.Abort {
		st.Abort = true
	}
}

// oldScaledDown reports whether every other version is at zero once the actions ran.
func (c *statusCalc) oldScaledDown() bool {
	for _, rs := range c.in.all {
		if rs == c.in.newRS || rs.Labels[hashKey] == c.in.selects.active {
			continue
		}
		n, ok := c.in.scaled[rs.Name]
		if !ok {
			n = specReplicas(rs)
		}
		if n > 0 {
			if _, waiting := scaleDownDeadline(rs); waiting {
				// Waiting out a scale-down delay is not a lack of progress.
				continue
			}
			return false
		}
	}
	return true
}

// stepsProgressed reports whether a canary moved to another step or promoted: for the
// progress deadline that is progress just as a change of replica counts is.
func stepsProgressed(ro *v1alpha1.Rollout, old, st *v1alpha1.RolloutStatus) bool {
	if ro.Spec.Strategy.Canary == nil {
		return false
	}
	a, b := old.CurrentStepIndex, st.CurrentStepIndex
	sameStep := a == nil && b == nil || a != nil && b != nil && *a == *b
	return !sameStep || old.StableRS != st.StableRS
}

func (c *statusCalc) completedCondition() {
	in, st := c.in, c.st
	if c.completed() {
		head := fmt.Sprintf("Rollout completed update to revision %d (%s): ", in.newRev, st.CurrentPodHash)
		reason := in.completionReason
		if reason == "" {
			reason = "Completed"
		}
		msg := head + reason
		prev := findCondition(in.old.Conditions, v1alpha1.RolloutCompleted)
		if prev != nil && prev.Status == corev1.ConditionTrue && strings.HasPrefix(prev.Message, head) {
			// Keep the message of the completion that happened, not a restated one.
			return
		}
		c.set(v1alpha1.RolloutCompleted, corev1.ConditionTrue, v1alpha1.RolloutCompletedReason, msg)
		c.event(normalEvent(v1alpha1.EventReasonRolloutCompleted, "%s", msg))
		return
	}
	msg := fmt.Sprintf("Rollout not completed, started update to revision %d (%s)", in.newRev, st.CurrentPodHash)
	if c.set(v1alpha1.RolloutCompleted, corev1.ConditionFalse, v1alpha1.RolloutNotCompletedReason, msg) && !in.notCompletedSent {
		c.event(normalEvent(v1alpha1.EventReasonRolloutNotCompleted, "%s", msg))
	}
}

func (c *statusCalc) pausedCondition() {
	in, st := c.in, c.st
	if c.paused() {
		c.set(v1alpha1.RolloutPaused, corev1.ConditionTrue, v1alpha1.PausedRolloutReason, v1alpha1.RolloutPausedMessage)
		if in.ro.Spec.Paused && !in.old.ControllerPause && findCondition(in.old.Conditions, v1alpha1.RolloutPaused) == nil {
			c.event(normalEvent(v1alpha1.EventReasonRolloutPaused, "Rollout is paused (manually paused)"))
		}
		return
	}
	if cond := findCondition(st.Conditions, v1alpha1.RolloutPaused); cond != nil && cond.Status == corev1.ConditionTrue {
		c.set(v1alpha1.RolloutPaused, corev1.ConditionFalse, v1alpha1.ResumedRolloutReason, v1alpha1.RolloutResumedMessage)
		c.res.resumed = !st.Abort
	}
}

func (c *statusCalc) availableCondition() {
	need := c.in.ro.GetReplicas() - maxUnavailable(c.in.ro)
	if c.st.AvailableReplicas >= need {
		c.set(v1alpha1.RolloutAvailable, corev1.ConditionTrue, v1alpha1.AvailableReason, v1alpha1.AvailableMessage)
	} else {
		c.set(v1alpha1.RolloutAvailable, corev1.ConditionFalse, v1alpha1.AvailableReason, v1alpha1.NotAvailableMessage)
	}
}

func findCondition(list []v1alpha1.RolloutCondition, t v1alpha1.RolloutConditionType) *v1alpha1.RolloutCondition {
	for i := range list {
		if list[i].Type == t {
			return &list[i]
		}
	}
	return nil
}

// setCondition sets a condition of the decision's status (setCondition).
func (p *planner) setCondition(t v1alpha1.RolloutConditionType, status corev1.ConditionStatus, reason, msg string) bool {
	return setCondition(&p.st, p.now, t, status, reason, msg)
}

// setCondition sets a condition and reports whether its status or reason changed.
// Times move only with a real change, so an unchanged rollout writes no status.
func setCondition(st *v1alpha1.RolloutStatus, now metav1.Time, t v1alpha1.RolloutConditionType, status corev1.ConditionStatus, reason, msg string) bool {
	return setConditionAt(st, now, t, status, reason, msg, false)
}

func setConditionAt(st *v1alpha1.RolloutStatus, now metav1.Time, t v1alpha1.RolloutConditionType, status corev1.ConditionStatus, reason, msg string, touch bool) bool {
	c := findCondition(st.Conditions, t)
	if c == nil {
		st.Conditions = append(st.Conditions, v1alpha1.RolloutCondition{
			Type: t, Status: status, Reason: reason, Message: msg, LastUpdateTime: now, LastTransitionTime: now,
		})
		return true
	}
	changed := c.Status != status || c.Reason != reason
	if c.Status != status {
		c.LastTransitionTime = now
	}
	if changed || c.Message != msg || touch {
		c.LastUpdateTime = now
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
