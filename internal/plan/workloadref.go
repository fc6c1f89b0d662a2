package plan

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/validation"
)

// resolveWorkload gives the planner's copy of the Rollout the template (and, when the
// Rollout has none, the selector) of the object spec.workloadRef names, so that every
// later decision (the hash above all) treats it exactly like an inline template. It
// returns what is wrong with the reference; missing is true when the only problem is
// that the object does not exist (yet).
func (p *planner) resolveWorkload() (errs field.ErrorList, missing bool) {
	ref := p.ro.Spec.WorkloadRef
	if ref == nil {
		p.st.WorkloadObservedGeneration = ""
		return nil, false
	}
	path := field.NewPath("spec", "workloadRef")
	w := p.s.Workload
	if w == nil || !w.Found {
		format := map[string]string{
			"Deployment":  validation.DeploymentNotFoundMessage,
			"ReplicaSet":  validation.ReplicaSetNotFoundMessage,
			"PodTemplate": validation.PodTemplateNotFoundMessage,
		}[ref.Kind]
		return field.ErrorList{validation.ReferenceNotFound(path.Child("name"), format, ref.Name)}, true
	}

	selector := p.ro.Spec.Selector
	if selector == nil {
		selector = w.Selector
	}
	if selector == nil {
		// A PodTemplate has no selector to lend.
		return field.ErrorList{field.Required(field.NewPath("spec", "selector"),
			fmt.Sprintf(validation.MissingFieldMessage, ".spec.selector")+" (a "+ref.Kind+" has no selector to take it from)")}, false
	}
	if errs := validation.ValidatePodTemplate(selector, &w.Template, path.Child("template")); len(errs) > 0 {
		return errs, false
	}

	ro := p.ro.DeepCopy()
	ro.Spec.Template = *w.Template.DeepCopy()
	ro.Spec.Selector = selector.DeepCopy()
	p.ro = ro

	gen := strconv.FormatInt(w.Generation, 10)
	p.st.WorkloadObservedGeneration = gen
	if p.ro.Annotations[v1alpha1.WorkloadGenerationAnnotation] != gen {
		p.add(AnnotateRollout{Annotations: map[string]*string{v1alpha1.WorkloadGenerationAnnotation: &gen}})
	}
	return nil, false
}

// scaleDownWorkload scales the Deployment a workloadRef names down as spec.workloadRef
// .scaleDown asks: never (or unset) leaves it alone; onsuccess takes it to zero once the
// rollout is Healthy; progressively hands its pods over as the rollout's become
// available (replicas minus the rollout's available pods). It only ever scales down:
// the rollout never gives pods back to the Deployment.
func (p *planner) scaleDownWorkload() {
	ref := p.ro.Spec.WorkloadRef
	w := p.s.Workload
	if ref == nil || w == nil || w.Deployment == nil || p.ro.Spec.Paused {
		return
	}
	d := w.Deployment
	cur := int32(1)
	if d.Spec.Replicas != nil {
		cur = *d.Spec.Replicas
	}
	var want int32
	switch ref.ScaleDown {
	case v1alpha1.ScaleDownOnSuccess:
		if p.st.Phase != v1alpha1.RolloutPhaseHealthy {
			return
		}
	case v1alpha1.ScaleDownProgressively:
		want = max(p.ro.GetReplicas()-p.st.AvailableReplicas, 0)
	default:
		return
	}
	if want < cur {
		p.add(ScaleDeployment{Name: d.Name, Replicas: want})
	}
}
