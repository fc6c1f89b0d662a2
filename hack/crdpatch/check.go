package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// checkSchema fails on the mistakes that make the API server reject a CRD, or quietly
// drop data, so that they show up in `make manifests` instead of at install time.
func checkSchema(root map[string]any) error {
	var errs []error
	if err := checkStructural(root); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkNodes(root, "", true, true)...)
	return errors.Join(errs...)
}

// checkStructural runs the API server's own structural-schema rules over the schema.
func checkStructural(root map[string]any) error {
	raw, err := json.Marshal(root)
	if err != nil {
		return err
	}
	var v1 apiextensionsv1.JSONSchemaProps
	if err := json.Unmarshal(raw, &v1); err != nil {
		return fmt.Errorf("schema does not decode as JSONSchemaProps: %w", err)
	}
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(&v1, &internal, nil); err != nil {
		return err
	}
	s, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return fmt.Errorf("schema is not structural: %w", err)
	}
	if errs := structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), s); len(errs) > 0 {
		return fmt.Errorf("schema is not structural: %w", errs.ToAggregate())
	}
	return nil
}

// checkNodes checks, node by node, the rules the structural check above leaves to the rest
// of CRD validation: list-map keys must be scalar and required or defaulted, defaults must
// have their node's type, transition rules (oldSelf) may only sit where the API server can
// pair old and new values, and an embedded ObjectMeta must not be a bare object (which
// would prune labels and annotations). correlatable is false below the items of any list
// that is not a list-map: there the server cannot tell which old item a new one replaces.
func checkNodes(node map[string]any, path string, isRoot, correlatable bool) []error {
	var errs []error
	at := path
	if at == "" {
		at = "<root>"
	}
	if node["x-kubernetes-list-type"] == "map" {
		errs = append(errs, checkListMap(node, at)...)
	}
	if def, ok := node["default"]; ok {
		if err := checkDefaultType(def, node["type"]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
		}
	}
	if !correlatable {
		rules, _ := node["x-kubernetes-validations"].([]any)
		for _, r := range rules {
			if rule, _ := r.(map[string]any)["rule"].(string); strings.Contains(rule, "oldSelf") {
				errs = append(errs, fmt.Errorf("%s: transition rule %q under a list that is not a list-map; the API server rejects it", at, rule))
			}
		}
	}
	props, _ := node["properties"].(map[string]any)
	if md, ok := props["metadata"].(map[string]any); ok && !isRoot && isBareObject(md) {
		errs = append(errs, fmt.Errorf("%s: embedded metadata is a bare object and would be pruned; list it in podTemplatePaths or objectMetaPaths", joinPath(path, "metadata")))
	}
	for name, child := range props {
		if m, ok := child.(map[string]any); ok {
			errs = append(errs, checkNodes(m, joinPath(path, name), false, correlatable)...)
		}
	}
	if items, ok := node["items"].(map[string]any); ok {
		listMap := node["x-kubernetes-list-type"] == "map"
		errs = append(errs, checkNodes(items, path+"[]", false, correlatable && listMap)...)
	}
	if ap, ok := node["additionalProperties"].(map[string]any); ok {
		errs = append(errs, checkNodes(ap, path+"{}", false, correlatable)...)
	}
	return errs
}

func checkListMap(node map[string]any, at string) []error {
	keys, _ := node["x-kubernetes-list-map-keys"].([]any)
	if len(keys) == 0 {
		return []error{fmt.Errorf("%s: x-kubernetes-list-type map without x-kubernetes-list-map-keys", at)}
	}
	items, _ := node["items"].(map[string]any)
	if items == nil || items["type"] != "object" {
		return []error{fmt.Errorf("%s: x-kubernetes-list-type map needs object items", at)}
	}
	required, _ := items["required"].([]any)
	props, _ := items["properties"].(map[string]any)
	var errs []error
	for _, k := range keys {
		name, _ := k.(string)
		p, _ := props[name].(map[string]any)
		switch {
		case p == nil:
			errs = append(errs, fmt.Errorf("%s: list-map key %q is not an item property", at, name))
		case p["type"] == "object" || p["type"] == "array":
			errs = append(errs, fmt.Errorf("%s: list-map key %q must be a scalar", at, name))
		case p["default"] == nil && !slices.Contains(required, any(name)):
			errs = append(errs, fmt.Errorf("%s: list-map key %q must be required or have a default", at, name))
		}
	}
	return errs
}

func checkDefaultType(def, typ any) error {
	ok := true
	switch typ {
	case "string":
		_, ok = def.(string)
	case "boolean":
		_, ok = def.(bool)
	case "integer", "number":
		_, ok = def.(float64)
	case "object":
		_, ok = def.(map[string]any)
	case "array":
		_, ok = def.([]any)
	}
	if !ok {
		return fmt.Errorf("default %v does not have type %v", def, typ)
	}
	return nil
}

func isBareObject(n map[string]any) bool {
	return n["type"] == "object" && n["properties"] == nil && n["additionalProperties"] == nil &&
		n["x-kubernetes-preserve-unknown-fields"] != true
}
