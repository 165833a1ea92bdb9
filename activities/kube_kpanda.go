package activities

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"upgrader/internal/contract"
)

// KpandaClusters is DCE 5.0's registry of managed clusters: objects of kind
// Cluster, cluster.kpanda.io/v1alpha1, cluster-scoped, in the global
// (control-plane) cluster; `kubectl get clusters.cluster.kpanda.io` shows
// NAME VERSION MODE PROVIDER RUNNING KUBESYSTEMID AGE, the global cluster
// itself listed as kpanda-global-cluster (DaoCloud/DaoCloud-docs
// docs/zh/docs/install/best-practices/remanage-work-cluster.md). kpanda's
// own CRD source is not public (no repository in the index): the field
// paths read here for the VERSION and RUNNING columns are our reading of
// those columns, kept to two and tolerant of their absence.
var KpandaClusters = schema.GroupVersionResource{Group: "cluster.kpanda.io", Version: "v1alpha1", Resource: "clusters"}

// KpandaGlobalCluster is the name kpanda gives the control-plane cluster.
const KpandaGlobalCluster = "kpanda-global-cluster"

// KpandaClustersInput lists the clusters kpanda manages and compares them
// with the worker clusters a config names.
type KpandaClustersInput struct {
	// Cluster is the control plane (global cluster).
	Cluster string `json:"cluster"`
	// Workers are the worker clusters the run will upgrade, by kpanda name.
	Workers []string `json:"workers"`
}

// ListKpandaClusters is short, yet declares a heartbeat timeout (see heartbeating).
var _ = contract.Declare((*Kube).ListKpandaClusters, contract.Options{Heartbeat: callHeartbeat})

// ListKpandaClusters reads the control plane's kpanda Cluster objects,
// read-only, and says which managed clusters the config leaves out (they
// would stay at the old skoala-init while skoala moves on) and which
// configured workers kpanda does not know. Items are the managed worker
// clusters. Where kpanda's API is not served, the config's list stands
// alone and the summary says so.
func (k *Kube) ListKpandaClusters(ctx context.Context, in KpandaClustersInput) (contract.Outcome, error) {
	return heartbeating(ctx, in, k.listKpandaClusters)
}

func (k *Kube) listKpandaClusters(ctx context.Context, in KpandaClustersInput) (contract.Outcome, error) {
	cfg, err := k.restConfig(in.Cluster)
	if err != nil {
		return contract.Outcome{}, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return contract.Outcome{}, err
	}
	list, err := dyn.Resource(KpandaClusters).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return contract.Outcome{Summary: fmt.Sprintf("%s does not serve clusters.cluster.kpanda.io (no kpanda there): "+
			"the worker clusters are the config's alone: %s", in.Cluster, strings.Join(in.Workers, ", "))}, nil
	}
	if err != nil {
		return contract.Outcome{}, fmt.Errorf("unable to list clusters.cluster.kpanda.io on %s: %w; check the control plane is reachable, then retry", in.Cluster, err)
	}
	var managed, rows []string
	for _, c := range list.Items {
		version, _, _ := unstructured.NestedString(c.Object, "status", "kubernetesVersion")
		running := "?"
		if conds, ok, _ := unstructured.NestedSlice(c.Object, "status", "conditions"); ok {
			for _, x := range conds {
				if m, ok := x.(map[string]any); ok && m["type"] == "Running" {
					running = fmt.Sprint(m["status"])
				}
			}
		}
		rows = append(rows, fmt.Sprintf("%s (%s, running %s)", c.GetName(), version, running))
		if c.GetName() != KpandaGlobalCluster {
			managed = append(managed, c.GetName())
		}
	}
	sort.Strings(managed)
	sort.Strings(rows)
	var left, unknown []string
	for _, m := range managed {
		if !slices.Contains(in.Workers, m) {
			left = append(left, m)
		}
	}
	for _, w := range in.Workers {
		if !slices.Contains(managed, w) {
			unknown = append(unknown, w)
		}
	}
	summary := fmt.Sprintf("kpanda on %s manages %d clusters: %s", in.Cluster, len(rows), strings.Join(rows, "; "))
	if len(left) > 0 {
		summary += fmt.Sprintf(". NOT in the config (their skoala-init stays old, if they run it): %s", strings.Join(left, ", "))
	}
	if len(unknown) > 0 {
		summary += fmt.Sprintf(". In the config but not managed by kpanda: %s", strings.Join(unknown, ", "))
	}
	return contract.Outcome{Summary: summary, Items: managed}, nil
}
