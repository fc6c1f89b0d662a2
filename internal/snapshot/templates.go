package snapshot

import (
	"errors"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// ErrClusterTemplatesUnreadable is what a reader answers for a ClusterAnalysisTemplate when
// the controller is not allowed to read them: a namespaced install watches one namespace,
// and a Get through a cache without that permission would wait for a sync that never comes.
var ErrClusterTemplatesUnreadable = errors.New("clusteranalysistemplates cannot be read by this controller")

// TemplateRefs lists the templates a Rollout's analyses name themselves (background and
// step analysis of a canary, pre- and post-promotion analysis of a blue-green), each once,
// in the order the spec names them; templates these reference in turn are not included.
func TemplateRefs(ro *v1alpha1.Rollout) []v1alpha1.AnalysisTemplateRef {
	var analyses []*v1alpha1.RolloutAnalysis
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		analyses = append(analyses, bg.PrePromotionAnalysis, bg.PostPromotionAnalysis)
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		if c.Analysis != nil {
			analyses = append(analyses, &c.Analysis.RolloutAnalysis)
		}
		for i := range c.Steps {
			analyses = append(analyses, c.Steps[i].Analysis)
		}
	}
	var refs []v1alpha1.AnalysisTemplateRef
	seen := map[v1alpha1.AnalysisTemplateRef]bool{}
	for _, a := range analyses {
		if a == nil {
			continue
		}
		for _, ref := range a.Templates {
			if !seen[ref] {
				seen[ref] = true
				refs = append(refs, ref)
			}
		}
	}
	return refs
}
