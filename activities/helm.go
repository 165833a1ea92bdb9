package activities

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"helm.sh/helm/v3/pkg/action"

	"upgrader/internal/contract"
)

// Error types of Helm steps.
const (
	// ErrHelmPending: another install/upgrade/rollback of the release is in
	// progress (or one died half-way). Retrying blindly would not help: a
	// person must look (`helm history`) and roll back or wait.
	ErrHelmPending = "HelmPending"
	// ErrChartNotFound: the chart is neither in the local chart folder nor
	// in the configured repository.
	ErrChartNotFound = "ChartNotFound"
)

// Cluster says how the worker reaches one Kubernetes cluster.
type Cluster struct {
	Kubeconfig string `json:"kubeconfig"`
	Context    string `json:"context,omitempty"`
}

// ChartRef names a chart the way the guides do: c7n/hzero-iam --version 0.22.0.
type ChartRef struct {
	Repo    string `json:"repo"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// String renders the chart as the guides write it: repo/name@version.
func (c ChartRef) String() string { return c.Repo + "/" + c.Name + "@" + c.Version }

// Helm installs, upgrades, backs up and removes releases through helm's Go
// API (never the helm binary), with a fresh action object per call. One
// verb per file: helm_charts.go (find and download charts), helm_backup.go,
// helm_upgrade.go (with helm_pending.go: a release left pending),
// helm_uninstall.go, helm_verify.go.
type Helm struct {
	// Clusters by name; steps name the cluster they act on.
	Clusters map[string]Cluster
	// ChartDirs are searched for <name>-<version>.tgz or <name>/ (with a
	// matching Chart.yaml version): the air-gapped sites' chart mirror.
	ChartDirs []string
	// Repos maps repository names (c7n, skoala) to URLs; a chart not found
	// in ChartDirs is downloaded from its repository once into CacheDir.
	Repos     map[string]string
	CacheDir  string
	Secrets   Secrets
	Artifacts *Artifacts
	// Kube caches each cluster's discovery and OpenAPI answers across
	// actions (kube_cache.go); share it with Kube. Nil uses the process's.
	APICache *KubeCache
}

func (h *Helm) kubeCache() *KubeCache {
	if h.APICache != nil {
		return h.APICache
	}
	return sharedKubeCache
}

var helmMu sync.Mutex // helm's kube client reads global klog state; keep one init at a time

func (h *Helm) config(cluster, namespace string) (*action.Configuration, error) {
	c, ok := h.Clusters[cluster]
	if !ok {
		var names []string
		for n := range h.Clusters {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, invalid("cluster %q is not configured on the worker (known: %s)", cluster, strings.Join(names, ", "))
	}
	// The kubeconfig is read once per action, and discovery and the
	// OpenAPI answers come from the cluster's cache (kube_cache.go).
	getter, err := h.kubeCache().getter(cluster, c, namespace)
	if err != nil {
		return nil, fmt.Errorf("unable to reach cluster %s: kubeconfig %s: %w", cluster, c.Kubeconfig, err)
	}
	cfg := new(action.Configuration)
	helmMu.Lock()
	defer helmMu.Unlock()
	if err := cfg.Init(getter, namespace, "secret", func(string, ...any) {}); err != nil {
		return nil, fmt.Errorf("unable to reach cluster %s: %w", cluster, err)
	}
	withCachedValidation(cfg.KubeClient, getter)
	return cfg, nil
}

// HelmReleaseResult describes a release after a step.
type HelmReleaseResult struct {
	contract.Outcome
	Release  string `json:"release"`
	Revision int    `json:"revision,omitempty"`
	Chart    string `json:"chart,omitempty"`
	Status   string `json:"status,omitempty"`
	Changed  bool   `json:"changed"`
}
