package plan

import (
	"k8s.io/apimachinery/pkg/util/intstr"
)

// canary is implemented in the canary strategy work; until then a canary rollout only
// gets its status computed.
func (p *planner) canary() {}

// maxUnavailable is canary.maxUnavailable resolved against spec.replicas (rounded down).
func (p *planner) maxUnavailable() int32 {
	c := p.ro.Spec.Strategy.Canary
	if c == nil {
		return 0
	}
	v := c.MaxUnavailableOrDefault()
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, int(p.ro.GetReplicas()), false)
	if err != nil {
		return 0
	}
	return int32(n)
}
