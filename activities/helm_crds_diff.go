package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"go.temporal.io/sdk/activity"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"upgrader/internal/contract"
	"upgrader/internal/text"
)

// crdResource is apiextensions.k8s.io/v1's CRDs.
var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// ChartCRDsInput compares (or applies) the CRDs in a chart's crds/ folders
// (its subcharts' too) with what one cluster serves. Helm installs those
// files only with the first install and never upgrades them
// (helm/helm-www content/en/docs/chart_best_practices/custom_resource_definitions.md);
// the skoala guide leaves them to a person (「手动删除…重新运行」).
type ChartCRDsInput struct {
	Cluster string   `json:"cluster"`
	Chart   ChartRef `json:"chart"`
}

// ChartCRDsResult is every CRD of the chart that the cluster lacks or serves
// differently, and how.
type ChartCRDsResult struct {
	contract.Outcome
	// Changes are "name: what differs" lines, one per CRD to apply.
	Changes []string `json:"changes,omitempty"`
}

// DiffChartCRDs is short, yet declares a heartbeat timeout (see heartbeating).
var _ = contract.Declare((*Helm).DiffChartCRDs, contract.Options{Heartbeat: callHeartbeat})

// DiffChartCRDs lists, read-only, the chart's CRDs the cluster does not
// serve as the chart has them: missing ones, and ones where a field the
// chart sets (a new version, a schema property, a printer column) differs.
// Fields the API server adds by itself (status, defaults) are not compared.
// Items are the names of the CRDs to apply.
func (h *Helm) DiffChartCRDs(ctx context.Context, in ChartCRDsInput) (ChartCRDsResult, error) {
	return heartbeating(ctx, in, h.diffChartCRDs)
}

func (h *Helm) diffChartCRDs(ctx context.Context, in ChartCRDsInput) (ChartCRDsResult, error) {
	crds, dyn, _, err := h.chartCRDs(in)
	if err != nil {
		return ChartCRDsResult{}, err
	}
	res := ChartCRDsResult{}
	for _, want := range crds {
		change, err := crdChange(ctx, dyn, in.Cluster, want)
		if err != nil {
			return res, err
		}
		if change != "" {
			res.Changes = append(res.Changes, want.GetName()+": "+change)
			res.Items = append(res.Items, want.GetName())
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, want.GetName())
		}
	}
	switch {
	case len(crds) == 0:
		res.Summary = fmt.Sprintf("chart %s has no crds/ folder: nothing to compare on %s", in.Chart, in.Chart)
	case len(res.Changes) == 0:
		res.Summary = fmt.Sprintf("%s serves all %d CRDs of %s as the chart has them", in.Cluster, len(crds), in.Chart)
	default:
		res.Summary = fmt.Sprintf("%s: %d of %d CRDs of %s differ: %s", in.Cluster, len(res.Changes), len(crds), in.Chart,
			text.Truncate(strings.Join(res.Changes, "; "), 2000))
	}
	return res, nil
}

// chartCRDs loads the chart's CRDs (helm's Chart.CRDObjects: crds/ of the
// chart and of every subchart), and a dynamic client and the REST config
// for the cluster.
func (h *Helm) chartCRDs(in ChartCRDsInput) ([]*unstructured.Unstructured, dynamic.Interface, *rest.Config, error) {
	ch, _, err := h.loadChart(in.Chart)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := h.config(in.Cluster, "default")
	if err != nil {
		return nil, nil, nil, err
	}
	rc, err := cfg.RESTClientGetter.ToRESTConfig()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("unable to reach cluster %s: %w", in.Cluster, err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, nil, nil, err
	}
	var out []*unstructured.Unstructured
	for _, f := range ch.CRDObjects() {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(f.File.Data), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := dec.Decode(&obj.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, nil, nil, invalid("chart %s: %s is not valid YAML: %v", in.Chart, f.Filename, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			if obj.GetKind() != "CustomResourceDefinition" {
				return nil, nil, nil, invalid("chart %s: %s holds a %s, not a CustomResourceDefinition", in.Chart, f.Filename, obj.GetKind())
			}
			out = append(out, obj)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, dyn, rc, nil
}

// crdChange says how the cluster's CRD differs from want ("" when it does
// not): missing, or the paths under spec where the chart's value is not
// what the cluster serves.
func crdChange(ctx context.Context, dyn dynamic.Interface, cluster string, want *unstructured.Unstructured) (string, error) {
	got, err := dyn.Resource(crdResource).Get(ctx, want.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "not served (new)", nil
	}
	if err != nil {
		return "", fmt.Errorf("unable to read CRD %s on %s: %w", want.GetName(), cluster, err)
	}
	wantSpec, _, _ := unstructured.NestedMap(want.Object, "spec")
	gotSpec, _, _ := unstructured.NestedMap(got.Object, "spec")
	var diffs []string
	subsetDiff("spec", wantSpec, gotSpec, &diffs)
	if len(diffs) == 0 {
		return "", nil
	}
	if len(diffs) > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("and %d more", len(diffs)-5))
	}
	return "differs at " + strings.Join(diffs, ", "), nil
}

// subsetDiff records the paths where want sets a value that got does not
// hold. Lists of objects with a "name" (a CRD's versions, a schema's
// columns) are matched by name, so order and server-added entries do not
// count.
func subsetDiff(path string, want, got any, diffs *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*diffs = append(*diffs, path)
			return
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				*diffs = append(*diffs, path+"."+k+" (new)")
				continue
			}
			subsetDiff(path+"."+k, w[k], gv, diffs)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			*diffs = append(*diffs, path)
			return
		}
		if named(w) && named(g) {
			byName := map[string]any{}
			for _, e := range g {
				byName[fmt.Sprint(e.(map[string]any)["name"])] = e
			}
			for _, e := range w {
				n := fmt.Sprint(e.(map[string]any)["name"])
				ge, ok := byName[n]
				if !ok {
					*diffs = append(*diffs, fmt.Sprintf("%s[%s] (new)", path, n))
					continue
				}
				subsetDiff(fmt.Sprintf("%s[%s]", path, n), e, ge, diffs)
			}
			return
		}
		if len(w) != len(g) {
			*diffs = append(*diffs, path)
			return
		}
		for i := range w {
			subsetDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], diffs)
		}
	default:
		if !reflect.DeepEqual(normalizeScalar(want), normalizeScalar(got)) {
			*diffs = append(*diffs, path)
		}
	}
}

// named says whether every element is an object with a name.
func named(l []any) bool {
	if len(l) == 0 {
		return false
	}
	for _, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["name"]; !ok {
			return false
		}
	}
	return true
}

// normalizeScalar makes YAML's and JSON's numbers comparable.
func normalizeScalar(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case float32:
		return float64(n)
	}
	return v
}
