package activities_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	discoveryfake "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"upgrader/activities"
)

// TestCRDToV1beta1KeepsSchemaSubresourcesAndColumns: a CRD with a real
// schema, a status subresource, printer columns and two versions is
// written the v1beta1 way (one schema and the rest at the top, the storage
// version as spec.version); differing schemas are refused.
func TestCRDToV1beta1KeepsSchemaSubresourcesAndColumns(t *testing.T) {
	v1 := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal([]byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.io, labels: {app: w}}
spec:
  group: example.io
  names: {kind: Widget, plural: widgets}
  scope: Cluster
  versions:
  - name: v1alpha1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object}}}}
    subresources: {status: {}}
    additionalPrinterColumns: [{name: Age, type: date, jsonPath: .metadata.creationTimestamp}]
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object}}}}
`), &v1.Object))
	got, err := activities.CRDToV1beta1(v1)
	require.NoError(t, err)
	want := map[string]any{}
	require.NoError(t, yaml.Unmarshal([]byte(`apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata: {name: widgets.example.io, labels: {app: w}}
spec:
  group: example.io
  names: {kind: Widget, plural: widgets}
  scope: Cluster
  version: v1
  versions: [{name: v1alpha1, served: true, storage: false}, {name: v1, served: true, storage: true}]
  validation: {openAPIV3Schema: {type: object, properties: {spec: {type: object}}}}
  subresources: {status: {}}
  additionalPrinterColumns: [{name: Age, type: date, JSONPath: .metadata.creationTimestamp}]
`), &want))
	require.Equal(t, want, got.Object)

	vs, _, _ := unstructured.NestedSlice(v1.Object, "spec", "versions")
	vs[1].(map[string]any)["schema"] = map[string]any{"openAPIV3Schema": map[string]any{"type": "object"}}
	require.NoError(t, unstructured.SetNestedSlice(v1.Object, vs, "spec", "versions"))
	_, err = activities.CRDToV1beta1(v1)
	require.ErrorContains(t, err, "different schemas")
}

// TestServedCRDVersionFoundByDiscovery: v1 where served, v1beta1 on a
// cluster before 1.16, an error naming both on one serving neither.
func TestServedCRDVersionFoundByDiscovery(t *testing.T) {
	for _, c := range []struct {
		served []string
		want   string
	}{
		{[]string{"apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1"}, "v1"},
		{[]string{"apiextensions.k8s.io/v1beta1"}, "v1beta1"},
		{nil, "neither"},
	} {
		disc := kubefake.NewSimpleClientset().Discovery().(*discoveryfake.FakeDiscovery)
		for _, gv := range c.served {
			disc.Resources = append(disc.Resources, &metav1.APIResourceList{GroupVersion: gv,
				APIResources: []metav1.APIResource{{Name: "customresourcedefinitions", Kind: "CustomResourceDefinition"}}})
		}
		gvr, err := activities.ServedCRDResourceForTest(disc)
		if c.want == "neither" {
			require.ErrorContains(t, err, "serves neither apiextensions.k8s.io/v1 nor apiextensions.k8s.io/v1beta1")
			continue
		}
		require.NoError(t, err)
		require.Equal(t, c.want, gvr.Version)
	}
}
