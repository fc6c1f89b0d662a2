package plan

import (
	"strconv"
	"time"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/traffic"
	appsv1 "k8s.io/api/apps/v1"
)

// The helpers both strategies use: pause conditions, the Services that select a
// version, keeping a version up or giving it a scale-down deadline, the step index. A
// strategy file calls its own functions and these, never the other strategy's
// (strategy_test.go checks it), so that each strategy reads on its own.

// keepUp keeps a ReplicaSet that serves traffic at full size and cancels any pending
// scale-down of it.
func (p *planner) keepUp(rs *appsv1.ReplicaSet, replicas int32) {
	p.scale(rs, replicas)
	if _, ok := scaleDownDeadline(rs); ok {
		p.add(AnnotateReplicaSet{Name: rs.Name, Annotations: map[string]*string{v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey: nil}})
	}
}

// delayScaleDown stamps the scale-down deadline on a version that stops serving.
func (p *planner) delayScaleDown(rs *appsv1.ReplicaSet, seconds int32) {
	if seconds <= 0 {
		p.scale(rs, 0)
		return
	}
	deadline := p.now.Add(time.Duration(seconds) * time.Second).UTC().Format(time.RFC3339)
	p.add(AnnotateReplicaSet{Name: rs.Name, Annotations: map[string]*string{v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey: &deadline}})
	p.delayed[rs.Name] = true
	p.requeueAt(p.now.Add(time.Duration(seconds) * time.Second))
}

func findPause(list []v1alpha1.PauseCondition, reason v1alpha1.PauseReason) *v1alpha1.PauseCondition {
	for i := range list {
		if list[i].Reason == reason {
			return &list[i]
		}
	}
	return nil
}

func removePause(list []v1alpha1.PauseCondition, reason v1alpha1.PauseReason) []v1alpha1.PauseCondition {
	var out []v1alpha1.PauseCondition
	for _, pc := range list {
		if pc.Reason != reason {
			out = append(out, pc)
		}
	}
	return out
}

// addPause pauses the rollout for the given reason.
func (p *planner) addPause(reason v1alpha1.PauseReason) {
	p.st.PauseConditions = append(p.st.PauseConditions, v1alpha1.PauseCondition{Reason: reason, StartTime: p.now})
	p.st.ControllerPause = true
	p.add(normalEvent(v1alpha1.EventReasonRolloutPaused, "Rollout is paused (%s)", reason))
}

func (p *planner) clearPause() {
	p.st.PauseConditions = nil
	p.st.ControllerPause = false
}

// serviceHash is the pod-template-hash a Service selects now.
func (p *planner) serviceHash(name string) string {
	return p.s.Traffic.Hash(name)
}

// switchService points a Service at target once that version has an available pod. A
// Service that selects no version yet serves every pod of the app, so it is only taken
// over once the target is fully available, never shrinking what it serves.
func (p *planner) switchService(role traffic.Role, name string, cur *string, target string) {
	if name == "" || *cur == target || !p.canSelect(*cur, target) {
		return
	}
	p.add(SetTraffic{Desired: traffic.Desired{Services: []traffic.Selection{{Service: name, Role: role, Hash: target}}}})
	p.add(normalEvent(v1alpha1.EventReasonSwitchService, "Switched selector for service '%s' from '%s' to '%s'", name, *cur, target))
	*cur = target
}

// canSelect reports whether a Service selecting cur may be pointed at target: only at a
// version with available pods, and, for a Service not yet managed, only once it is fully
// available (design invariant 1).
func (p *planner) canSelect(cur, target string) bool {
	if target == "" {
		return false
	}
	rs := p.byHash(target)
	if rs == nil || p.created && rs == p.newRS || available(rs) == 0 {
		return false
	}
	return cur != "" || available(rs) >= specReplicas(rs)
}

func (p *planner) stepIndex() int {
	if p.st.CurrentStepIndex == nil {
		return 0
	}
	return int(*p.st.CurrentStepIndex)
}

// scalingEvent reports whether spec.replicas changed since the ReplicaSets were last
// sized: their desired-replicas record says what it was then.
func (p *planner) scalingEvent() bool {
	want := strconv.Itoa(int(p.ro.GetReplicas()))
	for _, rs := range p.all {
		if specReplicas(rs) > 0 && rs.Annotations[v1alpha1.DesiredReplicasAnnotation] != want {
			return true
		}
	}
	return false
}

// maxUnavailable is canary.maxUnavailable resolved against spec.replicas (rounded down);
// 0 for a blue-green.
func maxUnavailable(ro *v1alpha1.Rollout) int32 {
	c := ro.Spec.Strategy.Canary
	if c == nil {
		return 0
	}
	_, u := surgeAndUnavailable(ro.GetReplicas(), c.MaxSurgeOrDefault(), c.MaxUnavailableOrDefault())
	return u
}
