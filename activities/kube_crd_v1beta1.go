package activities

import (
	"context"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

// CRD API versions: v1 from Kubernetes 1.16, v1beta1 up to 1.21. The
// Choerodon 0.8 guide's clusters (1.8–1.10) serve only v1beta1.
var (
	crdV1      = schema.GroupVersion{Group: "apiextensions.k8s.io", Version: "v1"}
	crdV1beta1 = schema.GroupVersion{Group: "apiextensions.k8s.io", Version: "v1beta1"}
)

// servedCRDResource is the CRD resource in the newest version the cluster
// serves: v1, else v1beta1 (found by discovery).
func servedCRDResource(disc discovery.DiscoveryInterface) (schema.GroupVersionResource, error) {
	for _, gv := range []schema.GroupVersion{crdV1, crdV1beta1} {
		_, err := disc.ServerResourcesForGroupVersion(gv.String())
		if err == nil {
			return gv.WithResource("customresourcedefinitions"), nil
		}
		if !apierrors.IsNotFound(err) {
			return schema.GroupVersionResource{}, fmt.Errorf("unable to ask the cluster whether it serves %s: %w", gv, err)
		}
	}
	return schema.GroupVersionResource{}, fmt.Errorf("the cluster serves neither %s nor %s", crdV1, crdV1beta1)
}

// isCRDv1 says whether obj is an apiextensions.k8s.io/v1 CRD.
func isCRDv1(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.GroupVersion() == crdV1 && gvk.Kind == "CustomResourceDefinition"
}

// CRDToV1beta1 writes an apiextensions.k8s.io/v1 CRD the way a cluster
// before 1.16 takes it (apiextensions.k8s.io/v1beta1; k8s.io/apiextensions-apiserver
// pkg/apis/apiextensions/v1beta1/types.go): spec.version is the storage
// version (the only field 1.8–1.10 know; versions is kept only when there
// are several), one schema, subresources and printer columns at the top
// (v1 has them per version; v1beta1 before 1.13 only at the top), and an
// open schema (type: object, x-kubernetes-preserve-unknown-fields: true —
// v1's way of saying "no schema") left out, as v1beta1 has no schema by
// default. For the C7NHelmRelease CRD the result is the guide's manifest.
func CRDToV1beta1(v1 *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if !isCRDv1(v1) {
		return nil, fmt.Errorf("%s %s is not an apiextensions.k8s.io/v1 CRD", v1.GetKind(), v1.GetName())
	}
	spec, _, _ := unstructured.NestedMap(v1.Object, "spec")
	versions, _, _ := unstructured.NestedSlice(v1.Object, "spec", "versions")
	if len(versions) == 0 {
		return nil, fmt.Errorf("CRD %s has no spec.versions", v1.GetName())
	}
	out := map[string]any{"group": spec["group"], "names": spec["names"], "scope": spec["scope"]}
	var storage string
	var schemaOf, subres, columns any
	var list []any
	for i, v := range versions {
		vm, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("CRD %s: spec.versions[%d] is not an object", v1.GetName(), i)
		}
		if vm["storage"] == true {
			storage, _ = vm["name"].(string)
		}
		list = append(list, map[string]any{"name": vm["name"], "served": vm["served"], "storage": vm["storage"]})
		s, _, _ := unstructured.NestedFieldNoCopy(vm, "schema", "openAPIV3Schema")
		if i > 0 && !reflect.DeepEqual(s, schemaOf) {
			return nil, fmt.Errorf("CRD %s: its versions have different schemas; a cluster before 1.13 keeps one (convert it by hand)", v1.GetName())
		}
		schemaOf = s
		if i == 0 {
			subres, columns = vm["subresources"], vm["additionalPrinterColumns"]
		}
	}
	if storage == "" {
		return nil, fmt.Errorf("CRD %s: no version is the storage version", v1.GetName())
	}
	out["version"] = storage
	if len(list) > 1 {
		out["versions"] = list
	}
	if s, ok := schemaOf.(map[string]any); ok && !openSchema(s) {
		out["validation"] = map[string]any{"openAPIV3Schema": s}
	}
	if subres != nil {
		out["subresources"] = subres
	}
	if cols, ok := columns.([]any); ok && len(cols) > 0 {
		var c1 []any
		for _, c := range cols {
			cm, _ := c.(map[string]any)
			m := map[string]any{}
			for k, v := range cm {
				if k == "jsonPath" {
					k = "JSONPath" // v1beta1's spelling
				}
				m[k] = v
			}
			c1 = append(c1, m)
		}
		out["additionalPrinterColumns"] = c1
	}
	crd := &unstructured.Unstructured{Object: map[string]any{"apiVersion": crdV1beta1.String(), "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": v1.GetName()}, "spec": out}}
	if l := v1.GetLabels(); len(l) > 0 {
		crd.SetLabels(l)
	}
	if a := v1.GetAnnotations(); len(a) > 0 {
		crd.SetAnnotations(a)
	}
	return crd, nil
}

// openSchema: v1's "no schema" (an object that keeps every field).
func openSchema(s map[string]any) bool {
	if len(s) != 2 {
		return false
	}
	return s["type"] == "object" && s["x-kubernetes-preserve-unknown-fields"] == true
}

// applyV1beta1CRD creates or updates a v1beta1 CRD: a cluster before 1.16
// has no server-side apply (beta from 1.16, off before), so this is
// kubectl's create-or-replace, with the live object's resourceVersion.
func applyV1beta1CRD(ctx context.Context, dyn dynamic.Interface, crd *unstructured.Unstructured) error {
	ri := dyn.Resource(crdV1beta1.WithResource("customresourcedefinitions"))
	live, err := ri.Get(ctx, crd.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = ri.Create(ctx, crd, metav1.CreateOptions{FieldManager: "upgrader"})
		return err
	}
	if err != nil {
		return err
	}
	crd.SetResourceVersion(live.GetResourceVersion())
	_, err = ri.Update(ctx, crd, metav1.UpdateOptions{FieldManager: "upgrader"})
	return err
}
