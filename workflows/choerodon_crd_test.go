package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"upgrader/activities"
)

// guideC7NHelmReleaseCRD is the 0.8 guide's C7NHelmRelease.yaml, verbatim
// (../shared/seeds/001_051ac39c05e686c8.txt, 升级devops service → 创建CRD).
const guideC7NHelmReleaseCRD = `apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata:
  name: c7nhelmreleases.choerodon.io
spec:
  group: choerodon.io
  names:
    kind: C7NHelmRelease
    listKind: C7NHelmReleaseList
    plural: c7nhelmreleases
    singular: c7nhelmrelease
  scope: Namespaced
  version: v1alpha1
`

// TestC7NHelmReleaseCRDOnAClusterBefore116IsTheGuides: the v1 CRD the plan
// applies becomes, on a cluster that serves only apiextensions.k8s.io/v1beta1,
// exactly the guide's manifest.
func TestC7NHelmReleaseCRDOnAClusterBefore116IsTheGuides(t *testing.T) {
	in := c7n08Input()
	steps, err := in.Plan()
	require.NoError(t, err)
	var manifest string
	for _, s := range steps {
		if s.Name == "apply-crd/c7nhelmrelease" {
			manifest = s.Input.(activities.KubeApplyInput).Manifests
		}
	}
	require.NotEmpty(t, manifest)
	v1 := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal([]byte(manifest), &v1.Object))
	got, err := activities.CRDToV1beta1(v1)
	require.NoError(t, err)
	want := map[string]any{}
	require.NoError(t, yaml.Unmarshal([]byte(guideC7NHelmReleaseCRD), &want))
	require.Equal(t, want, got.Object)
}
