package framework

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
)

// Apply creates or updates the objects of a multi-document YAML (or JSON) manifest by server-side
// apply (field manager "tern-e2e", force: conflicts with other managers are overridden) and
// returns them as the API server stored them, in manifest order. Namespaced objects without a
// namespace go to ns; cluster-scoped objects ignore it. Kinds unknown to the API server are
// retried for 10 s, so a CustomResourceDefinition and its objects may come in one manifest.
// Items of a "List" are applied one by one. Any error fails the test.
func Apply(t testing.TB, ns string, manifest []byte) []*unstructured.Unstructured {
	t.Helper()
	c := getCluster(t)
	objs, err := decodeManifest(manifest)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	var out []*unstructured.Unstructured
	for _, obj := range objs {
		var applied *unstructured.Unstructured
		msg, ok := poll(10*time.Second, func() (bool, string) {
			var err error
			applied, err = c.apply(obj, ns)
			if err == nil {
				return true, ""
			}
			if meta.IsNoMatchError(err) {
				c.mapper.reset()
				return false, err.Error()
			}
			return true, err.Error() // not worth retrying
		})
		if !ok || applied == nil {
			t.Fatalf("apply %s %s: %s", obj.GetKind(), obj.GetName(), msg)
		}
		out = append(out, applied)
	}
	return out
}

func (c *cluster) apply(obj *unstructured.Unstructured, ns string) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	obj = obj.DeepCopy()
	ri := c.dynamic.Resource(mapping.Resource)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		obj.SetNamespace("")
		return ri.Apply(ctx, obj.GetName(), obj, opts)
	}
	if obj.GetNamespace() == "" {
		if ns == "" {
			return nil, fmt.Errorf("%s %s is namespaced but has no namespace and none was given", gvk.Kind, obj.GetName())
		}
		obj.SetNamespace(ns)
	}
	return ri.Namespace(obj.GetNamespace()).Apply(ctx, obj.GetName(), obj, opts)
}

// decodeManifest splits a multi-document YAML or JSON manifest into objects; empty documents
// are skipped and Lists are flattened.
func decodeManifest(manifest []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		obj := &unstructured.Unstructured{}
		if err := utilyaml.Unmarshal(doc, &obj.Object); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if obj.GetAPIVersion() == "" || obj.GetKind() == "" {
			return nil, fmt.Errorf("document %d: apiVersion and kind are required", i)
		}
		if obj.IsList() {
			list, err := obj.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", i, err)
			}
			for j := range list.Items {
				out = append(out, &list.Items[j])
			}
			continue
		}
		if obj.GetName() == "" {
			return nil, fmt.Errorf("document %d (%s): metadata.name is required (generateName cannot be applied)", i, obj.GetKind())
		}
		out = append(out, obj)
	}
}

// mapper is a RESTMapper over cached discovery; reset drops the cache when a kind is missing
// (e.g. a CRD created a moment ago).
type mapper struct {
	*restmapper.DeferredDiscoveryRESTMapper
}

func newMapper(dc discovery.DiscoveryInterface) *mapper {
	return &mapper{restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

func (m *mapper) reset() { m.Reset() }
