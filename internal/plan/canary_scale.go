package plan

import (
	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// canaryPausedScale follows a change of spec.replicas while the rollout is manually
// paused: an HPA knows nothing of pauses, and holding its pods back would defeat it.
// Each version keeps its share at the new size and nothing else moves: no step, no
// Service, no new version.
func (p *planner) canaryPausedScale(c *v1alpha1.CanaryStrategy) {
	if p.newRS == nil || !p.scalingEvent() {
		// A template changed under the pause waits for the unpause, sizes and all.
		return
	}
	replicas := p.ro.GetReplicas()
	stable := p.byHash(p.st.StableRS)
	switch {
	case p.st.CurrentPodHash == p.st.StableRS:
		p.applyCounts(c, replicas, nil, 0, c.StableMetadata, "", "")
	case stable == nil:
		p.applyCounts(c, replicas, nil, 0, c.CanaryMetadata, "", "")
	case p.st.Abort:
		p.applyCounts(c, 0, stable, replicas, c.CanaryMetadata, "", "")
	default:
		surge, _ := p.canaryLimits()
		dn, ds := canaryCounts(replicas, p.canaryWeight(c), surge)
		p.applyCounts(c, dn, stable, ds, c.CanaryMetadata, "", "")
	}
}
