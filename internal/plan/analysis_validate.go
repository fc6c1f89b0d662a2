package plan

import (
	"errors"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
	"github.com/tern-rollouts/tern/internal/validation"
)

// analysisRef is one analysis a rollout asks for, with where its spec says so.
type analysisRef struct {
	kind     runKind
	step     int
	analysis *v1alpha1.RolloutAnalysis
	path     *field.Path
}

// rolloutAnalyses lists every analysis of the rollout's strategy.
func rolloutAnalyses(ro *v1alpha1.Rollout) []analysisRef {
	var out []analysisRef
	s := field.NewPath("spec", "strategy")
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		if bg.PrePromotionAnalysis != nil {
			out = append(out, analysisRef{kindPre, 0, bg.PrePromotionAnalysis, s.Child("blueGreen", "prePromotionAnalysis")})
		}
		if bg.PostPromotionAnalysis != nil {
			out = append(out, analysisRef{kindPost, 0, bg.PostPromotionAnalysis, s.Child("blueGreen", "postPromotionAnalysis")})
		}
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		if c.Analysis != nil {
			out = append(out, analysisRef{kindBackground, 0, &c.Analysis.RolloutAnalysis, s.Child("canary", "analysis")})
		}
		for i := range c.Steps {
			if a := c.Steps[i].Analysis; a != nil {
				out = append(out, analysisRef{kindStep, i, a, s.Child("canary", "steps").Index(i).Child("analysis")})
			}
		}
	}
	return out
}

// validateAnalysis builds, without creating them, the AnalysisRuns the strategy asks for,
// so that a template that does not exist, an argument left without a value or a metric
// the engine cannot run is reported as InvalidSpec before the update needs the run.
// missing is true when every problem is a template that does not exist (yet).
func (p *planner) validateAnalysis() (errs field.ErrorList, missing bool) {
	missing = true
	for _, ref := range rolloutAnalyses(p.ro) {
		tp := ref.path.Child("templates")
		found := true
		for i, t := range ref.analysis.Templates {
			_, err := analysis.FlattenTemplates([]v1alpha1.AnalysisTemplateRef{t}, p.lookupTemplate)
			var nf templateNotFound
			switch {
			case errors.As(err, &nf):
				errs = append(errs, field.Invalid(tp.Index(i).Child("templateName"), t.TemplateName, nf.Error()))
				found = false
			case err != nil:
				errs = append(errs, field.Invalid(tp.Index(i).Child("templateName"), t.TemplateName, err.Error()))
				found, missing = false, false
			}
		}
		if !found {
			continue
		}
		// The hashes only fill in arguments: any value shows whether one can be given.
		run, err := p.buildRun(ref.kind, ref.analysis, ref.step, p.ro.Name)
		if err != nil {
			errs = append(errs, field.Invalid(ref.path, templateNames(ref.analysis), err.Error()))
			missing = false
			continue
		}
		if verrs := validation.ValidateAnalysisRunSpec(&run.Spec, tp.Key(templateNames(ref.analysis))); len(verrs) > 0 {
			errs = append(errs, verrs...)
			missing = false
		}
	}
	return errs, missing && len(errs) > 0
}

func templateNames(a *v1alpha1.RolloutAnalysis) string {
	out := ""
	for i, t := range a.Templates {
		if i > 0 {
			out += ", "
		}
		out += t.TemplateName
	}
	return out
}
