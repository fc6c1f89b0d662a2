package snapshot

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// loadTemplates reads the templates the Rollout's analyses reference, and those these
// reference through spec.templates, into the snapshot. A template that does not exist is
// left out of its map, for the planner to report: it is a mistake in the spec, not a
// failure to read.
func loadTemplates(ctx context.Context, r client.Reader, ro *v1alpha1.Rollout, s *Snapshot) error {
	s.AnalysisTemplates = map[string]*v1alpha1.AnalysisTemplate{}
	s.ClusterAnalysisTemplates = map[string]*v1alpha1.ClusterAnalysisTemplate{}
	queue := TemplateRefs(ro)
	seen := map[v1alpha1.AnalysisTemplateRef]bool{}
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		if seen[ref] || ref.TemplateName == "" {
			continue
		}
		seen[ref] = true
		var spec *v1alpha1.AnalysisTemplateSpec
		if ref.ClusterScope {
			t := &v1alpha1.ClusterAnalysisTemplate{}
			err := r.Get(ctx, client.ObjectKey{Name: ref.TemplateName}, t)
			if apierrors.IsNotFound(err) {
				continue
			}
			if errors.Is(err, ErrClusterTemplatesUnreadable) {
				s.ClusterTemplatesUnreadable = true
				continue
			}
			if err != nil {
				return fmt.Errorf("reading clusteranalysistemplate %s: %w", ref.TemplateName, err)
			}
			s.ClusterAnalysisTemplates[ref.TemplateName] = t
			spec = &t.Spec
		} else {
			t := &v1alpha1.AnalysisTemplate{}
			err := r.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: ref.TemplateName}, t)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("reading analysistemplate %s/%s: %w", ro.Namespace, ref.TemplateName, err)
			}
			s.AnalysisTemplates[ref.TemplateName] = t
			spec = &t.Spec
		}
		queue = append(queue, spec.Templates...)
	}
	return nil
}
