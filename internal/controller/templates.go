package controller

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/snapshot"
)

// indexTemplate indexes Rollouts by the analysis templates they name, so that a template
// appearing, changing or going away wakes them: a missing template is an InvalidSpec that
// its creation must clear.
const indexTemplate = ".spec.strategy.analysisTemplates"

// templateKey is the index value of a template: its kind is part of it, since an
// AnalysisTemplate and a ClusterAnalysisTemplate may share a name.
func templateKey(ref v1alpha1.AnalysisTemplateRef) string {
	if ref.ClusterScope {
		return "cluster/" + ref.TemplateName
	}
	return "namespaced/" + ref.TemplateName
}

func templateIndexer(o client.Object) []string {
	var keys []string
	for _, ref := range snapshot.TemplateRefs(o.(*v1alpha1.Rollout)) {
		keys = append(keys, templateKey(ref))
	}
	return keys
}

// rolloutsOfTemplate maps a changed AnalysisTemplate or ClusterAnalysisTemplate to the
// Rollouts that reference it, directly or through the templates that include it.
func (r *RolloutReconciler) rolloutsOfTemplate(ctx context.Context, o client.Object) []reconcile.Request {
	ref := v1alpha1.AnalysisTemplateRef{TemplateName: o.GetName()}
	if _, ok := o.(*v1alpha1.ClusterAnalysisTemplate); ok {
		ref.ClusterScope = true
	}
	refs, err := r.includers(ctx, ref, o.GetNamespace())
	if err != nil {
		log.FromContext(ctx).Error(err, "listing analysis templates", "template", klog.KObj(o))
	}
	seen := map[types.NamespacedName]bool{}
	var reqs []reconcile.Request
	for _, ref := range refs {
		opts := []client.ListOption{client.MatchingFields{indexTemplate: templateKey(ref.ref)}}
		if !ref.ref.ClusterScope {
			opts = append(opts, client.InNamespace(ref.namespace))
		}
		own, err := r.listOwn(ctx, opts...)
		if err != nil {
			log.FromContext(ctx).Error(err, "listing rollouts of analysis template", "template", klog.KObj(o))
			continue
		}
		for _, req := range own {
			if !seen[req.NamespacedName] {
				seen[req.NamespacedName] = true
				reqs = append(reqs, req)
			}
		}
	}
	return reqs
}

// scopedRef is a template reference with the namespace it resolves in ("" for a
// ClusterAnalysisTemplate).
type scopedRef struct {
	ref       v1alpha1.AnalysisTemplateRef
	namespace string
}

// includers returns the template itself and every template that includes it through
// spec.templates, however deep. An AnalysisTemplate is included from its own namespace
// only; a ClusterAnalysisTemplate from anywhere.
func (r *RolloutReconciler) includers(ctx context.Context, ref v1alpha1.AnalysisTemplateRef, namespace string) ([]scopedRef, error) {
	var all []scopedRef
	nsList := &v1alpha1.AnalysisTemplateList{}
	var opts []client.ListOption
	if !ref.ClusterScope {
		opts = append(opts, client.InNamespace(namespace))
	}
	if err := r.Client.List(ctx, nsList, opts...); err != nil {
		return []scopedRef{{ref, namespace}}, err
	}
	for _, t := range nsList.Items {
		all = append(all, scopedRef{v1alpha1.AnalysisTemplateRef{TemplateName: t.Name}, t.Namespace})
	}
	clList := &v1alpha1.ClusterAnalysisTemplateList{}
	if r.clusterTemplates {
		if err := r.Client.List(ctx, clList); err != nil {
			return []scopedRef{{ref, namespace}}, err
		}
	}
	for _, t := range clList.Items {
		all = append(all, scopedRef{v1alpha1.AnalysisTemplateRef{TemplateName: t.Name, ClusterScope: true}, ""})
	}
	specs := map[scopedRef][]v1alpha1.AnalysisTemplateRef{}
	for _, t := range nsList.Items {
		specs[scopedRef{v1alpha1.AnalysisTemplateRef{TemplateName: t.Name}, t.Namespace}] = t.Spec.Templates
	}
	for _, t := range clList.Items {
		specs[scopedRef{v1alpha1.AnalysisTemplateRef{TemplateName: t.Name, ClusterScope: true}, ""}] = t.Spec.Templates
	}

	start := scopedRef{ref, namespace}
	if ref.ClusterScope {
		start.namespace = ""
	}
	found := map[scopedRef]bool{start: true}
	out := []scopedRef{start}
	for grew := true; grew; {
		grew = false
		for _, t := range all {
			if found[t] {
				continue
			}
			for _, child := range specs[t] {
				c := scopedRef{child, t.namespace}
				if child.ClusterScope {
					c.namespace = ""
				}
				if found[c] {
					found[t], grew = true, true
					out = append(out, t)
					break
				}
			}
		}
	}
	return out, nil
}

// clusterTemplatesReadable reports whether the controller may list
// ClusterAnalysisTemplates: a namespaced install is not granted them, and a watch it
// cannot sync would stop the controller from starting.
func clusterTemplatesReadable(ctx context.Context, mgr ctrl.Manager) bool {
	err := mgr.GetAPIReader().List(ctx, &v1alpha1.ClusterAnalysisTemplateList{}, client.Limit(1))
	if err != nil {
		log.FromContext(ctx).Info("not watching ClusterAnalysisTemplates: they cannot be listed", "error", err.Error())
		return false
	}
	return true
}
