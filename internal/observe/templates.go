package observe

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/snapshot"
)

// loadTemplates reads the templates the Rollout's analyses reference, and those these
// reference through spec.templates, into the snapshot. A template that does not exist is
// left out of its map, for the planner to report: it is a mistake in the spec, not a
// failure to read.
func loadTemplates(ctx context.Context, r client.Reader, ro *v1alpha1.Rollout, s *snapshot.Snapshot) error {
	s.AnalysisTemplates = map[string]*v1alpha1.AnalysisTemplate{}
	s.ClusterAnalysisTemplates = map[string]*v1alpha1.ClusterAnalysisTemplate{}
	queue := snapshot.TemplateRefs(ro)
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
			if errors.Is(err, snapshot.ErrClusterTemplatesUnreadable) {
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
