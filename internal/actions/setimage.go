package actions

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// AllContainers is the container name that matches every container.
const AllContainers = "*"

// podTemplatePath is where the pod template sits in each kind a rollout can take its
// template from.
var podTemplatePath = map[schema.GroupKind][]string{
	{Group: v1alpha1.GroupVersion.Group, Kind: "Rollout"}: {"spec", "template"},
	{Group: "apps", Kind: "Deployment"}:                   {"spec", "template"},
	{Group: "apps", Kind: "ReplicaSet"}:                   {"spec", "template"},
	{Group: "", Kind: "PodTemplate"}:                      {"template"},
}

// SetImage sets the image of the named container (or of every container, with "*") in
// the rollout's pod template: init, regular and ephemeral containers alike. A rollout
// with a workloadRef has its referenced workload updated instead. It returns the object
// it updated.
//
// The object is read and updated as unstructured data on purpose: a full Update of a
// typed object would drop any field this build does not know, such as one added by a
// newer controller.
func SetImage(ctx context.Context, c client.Client, key types.NamespacedName, container, image string) (*unstructured.Unstructured, error) {
	var updated *unstructured.Unstructured
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ro := &unstructured.Unstructured{}
		ro.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("Rollout"))
		if err := c.Get(ctx, key, ro); err != nil {
			return explain(err, key.Namespace)
		}
		target := ro
		if ref, ok, _ := unstructured.NestedMap(ro.Object, "spec", "workloadRef"); ok {
			var err error
			if target, err = workload(ctx, c, key.Namespace, ref); err != nil {
				return err
			}
		}
		if err := setContainerImage(target, container, image); err != nil {
			return err
		}
		if err := c.Update(ctx, target); err != nil {
			return err
		}
		updated = target
		return nil
	})
	return updated, err
}

// workload reads the object a workloadRef points at.
func workload(ctx context.Context, c client.Client, namespace string, ref map[string]any) (*unstructured.Unstructured, error) {
	apiVersion, _, _ := unstructured.NestedString(ref, "apiVersion")
	kind, _, _ := unstructured.NestedString(ref, "kind")
	name, _, _ := unstructured.NestedString(ref, "name")
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("spec.workloadRef.apiVersion %q: %w", apiVersion, err)
	}
	if _, ok := podTemplatePath[gv.WithKind(kind).GroupKind()]; !ok || kind == "Rollout" {
		return nil, fmt.Errorf("spec.workloadRef.kind %q is not supported: use a Deployment, ReplicaSet or PodTemplate", kind)
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gv.WithKind(kind))
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, obj); err != nil {
		return nil, explain(err, namespace)
	}
	return obj, nil
}

// setContainerImage edits obj in place and fails if no container matched, so that a
// typo in the container name is reported instead of silently doing nothing.
func setContainerImage(obj *unstructured.Unstructured, container, image string) error {
	path := podTemplatePath[obj.GroupVersionKind().GroupKind()]
	found := false
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		fields := append(append([]string{}, path...), "spec", field)
		list, ok, err := unstructured.NestedFieldNoCopy(obj.Object, fields...)
		if err != nil || !ok {
			continue
		}
		items, _ := list.([]any)
		for _, item := range items {
			ctr, ok := item.(map[string]any)
			if !ok {
				continue
			}
			if name, _ := ctr["name"].(string); name == container || container == AllContainers {
				ctr["image"] = image
				found = true
			}
		}
	}
	if !found {
		return fmt.Errorf("unable to find container named %q in %s %q", container,
			obj.GetKind(), obj.GetName())
	}
	return nil
}
