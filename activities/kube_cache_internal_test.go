package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"upgrader/tests/lab"
)

// crdYAML is a namespaced CRD lab.upgrader.io/v1 <Kind>.
func crdYAML(kind, plural string) string {
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[2]s.lab.upgrader.io
spec:
  group: lab.upgrader.io
  scope: Namespaced
  names: {kind: %[1]s, plural: %[2]s, singular: %[3]s, listKind: %[1]sList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
`, kind, plural, plural[:len(plural)-1])
}

// writeChart writes chart name@version into dir: crds/ files and templates.
func writeChart(t *testing.T, dir, name, version string, crds, templates map[string]string) {
	root := filepath.Join(dir, name)
	for sub, files := range map[string]map[string]string{"crds": crds, "templates": templates} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, sub), 0o755))
		for f, text := range files {
			require.NoError(t, os.WriteFile(filepath.Join(root, sub, f), []byte(text), 0o644))
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "Chart.yaml"),
		[]byte("apiVersion: v2\nname: "+name+"\nversion: "+version+"\n"), 0o644))
}

// The worker's cache of a cluster's API really caches (a CRD created
// behind its back stays unseen while the cache is young), and our own CRD
// applies (Helm.ApplyChartCRDs, Kube.Apply) invalidate it: the next
// mapping, and helm, see the new kinds. The TTL is an hour, so only the
// invalidation can explain what the test sees. On a real kube-apiserver.
func TestKubeCacheSeesCRDsOurStepsApplyAfterItFilled(t *testing.T) {
	cp := lab.StartControlPlane(t)
	ctx := context.Background()
	cache := NewKubeCache(time.Hour)
	charts := t.TempDir()
	clusters := map[string]Cluster{"lab": {Kubeconfig: cp.Kubeconfig}, "lab-again": {Kubeconfig: cp.Kubeconfig}}
	h := &Helm{Clusters: clusters, ChartDirs: []string{charts}, Artifacts: &Artifacts{Root: t.TempDir()}, APICache: cache}
	k := &Kube{Clusters: clusters, PollInterval: 100 * time.Millisecond, APICache: cache}
	rc, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(rc)
	require.NoError(t, err)

	// What a helm action on the cluster would map the kind to now.
	mapKind := func(cluster, kind string) error {
		t.Helper()
		g, err := cache.getter(cluster, clusters[cluster], "default")
		require.NoError(t, err)
		m, err := g.ToRESTMapper()
		require.NoError(t, err)
		_, err = m.RESTMapping(schema.GroupKind{Group: "lab.upgrader.io", Kind: kind}, "v1")
		return err
	}
	noMatch := func(err error) bool { return meta.IsNoMatchError(err) }

	// Fill the cache with a helm install whose chart has no CRDs: helm's
	// strict validation asks whether ConfigMap's PATCH takes
	// fieldValidation, once; the answer is kept.
	writeChart(t, charts, "widgets", "0.1.0", nil, map[string]string{
		"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: widgets}\ndata: {a: b}\n"})
	res, err := h.UpgradeInstall(ctx, HelmUpgradeInput{Cluster: "lab", Namespace: "lab", Release: "widgets",
		Chart: ChartRef{Repo: "lab", Name: "widgets", Version: "0.1.0"}, CreateNamespace: true})
	require.NoError(t, err)
	require.True(t, res.Changed)
	g, err := cache.getter("lab", clusters["lab"], "lab")
	require.NoError(t, err)
	require.True(t, g.entry.fieldValidation[schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}],
		"the cluster's answer for ConfigMap is cached: %v", g.entry.fieldValidation)
	require.True(t, noMatch(mapKind("lab", "Widget")))

	// Another cluster name on the same server and credentials gets its own
	// entry: two clusters never share one.
	other, err := cache.getter("lab-again", clusters["lab-again"], "lab")
	require.NoError(t, err)
	require.NotSame(t, g.entry, other.entry)

	// A CRD created behind the worker's back: the young cache does not see
	// it (it does cache; helm's own render-time Invalidate aside).
	var gadget unstructured.Unstructured
	require.NoError(t, yaml.Unmarshal([]byte(crdYAML("Gadget", "gadgets")), &gadget.Object))
	_, err = dyn.Resource(crdResource).Create(ctx, &gadget, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		obj, err := dyn.Resource(crdResource).Get(ctx, "gadgets.lab.upgrader.io", metav1.GetOptions{})
		return err == nil && conditionTrue(obj, "Established")
	}, 30*time.Second, 100*time.Millisecond)
	require.True(t, noMatch(mapKind("lab", "Gadget")), "the cache was not filled before the CRD")

	// The chart's next version brings Widget in crds/: the apply-crds step
	// applies it, and invalidates: Widget (and Gadget) map now, on the
	// entry an action already held too.
	writeChart(t, charts, "widgets", "0.2.0", map[string]string{"widget.yaml": crdYAML("Widget", "widgets")}, map[string]string{
		"cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: widgets}\ndata: {a: c}\n",
		"widget.yaml": "apiVersion: lab.upgrader.io/v1\nkind: Widget\nmetadata: {name: big}\nspec: {size: 3}\n"})
	applied, err := h.ApplyChartCRDs(ctx, ChartCRDsInput{Cluster: "lab", Chart: ChartRef{Repo: "lab", Name: "widgets", Version: "0.2.0"}})
	require.NoError(t, err)
	require.Equal(t, []string{"widgets.lab.upgrader.io"}, applied.Items)
	require.NoError(t, mapKind("lab", "Widget"))
	require.NoError(t, mapKind("lab", "Gadget"))
	require.Empty(t, g.entry.fieldValidation, "the entry an action held was invalidated in place")

	// helm upgrades to the version whose templates hold a Widget.
	res, err = h.UpgradeInstall(ctx, HelmUpgradeInput{Cluster: "lab", Namespace: "lab", Release: "widgets",
		Chart: ChartRef{Repo: "lab", Name: "widgets", Version: "0.2.0"}})
	require.NoError(t, err, "helm maps the new kind")
	require.Equal(t, 2, res.Revision)
	_, err = dyn.Resource(schema.GroupVersionResource{Group: "lab.upgrader.io", Version: "v1", Resource: "widgets"}).
		Namespace("lab").Get(ctx, "big", metav1.GetOptions{})
	require.NoError(t, err)

	// Kube.Apply of a CRD invalidates the cache Helm reads too (and
	// WaitCRDsEstablished once the kinds are served). Nothing reads the
	// cache between the apply and the check below.
	require.True(t, noMatch(mapKind("lab", "Thing")))
	_, err = k.Apply(ctx, KubeApplyInput{Cluster: "lab", Manifests: crdYAML("Thing", "things")})
	require.NoError(t, err)
	var thing unstructured.Unstructured
	require.NoError(t, yaml.Unmarshal([]byte(crdYAML("Thing", "things")), &thing.Object))
	disc, err := discovery.NewDiscoveryClientForConfig(rc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		obj, err := dyn.Resource(crdResource).Get(ctx, "things.lab.upgrader.io", metav1.GetOptions{})
		return err == nil && conditionTrue(obj, "Established") && servedByDiscovery(disc, &thing)
	}, 30*time.Second, 100*time.Millisecond)
	require.NoError(t, mapKind("lab", "Thing"))
}

// Entries are per cluster name and credentials, expire, and Invalidate
// drops only the named cluster's.
func TestKubeCacheEntriesPerClusterAndCredentials(t *testing.T) {
	cache := NewKubeCache(time.Hour)
	rc := &rest.Config{Host: "https://127.0.0.1:6443", BearerToken: "a"}
	a, err := cache.entry("a", rc)
	require.NoError(t, err)
	again, err := cache.entry("a", rest.CopyConfig(rc))
	require.NoError(t, err)
	require.Same(t, a, again)
	b, err := cache.entry("b", rc)
	require.NoError(t, err)
	require.NotSame(t, a, b, "two clusters never share an entry")
	rotated := rest.CopyConfig(rc)
	rotated.BearerToken = "a2"
	a2, err := cache.entry("a", rotated)
	require.NoError(t, err)
	require.NotSame(t, a, a2, "new credentials, new entry")

	cache.Invalidate("a")
	fresh, err := cache.entry("a", rc)
	require.NoError(t, err)
	require.NotSame(t, a, fresh)
	stillB, err := cache.entry("b", rc)
	require.NoError(t, err)
	require.Same(t, b, stillB)

	short := NewKubeCache(time.Millisecond)
	x, err := short.entry("a", rc)
	require.NoError(t, err)
	time.Sleep(5 * time.Millisecond)
	y, err := short.entry("a", rc)
	require.NoError(t, err)
	require.NotSame(t, x, y, "an entry past its TTL is not handed out")
}
