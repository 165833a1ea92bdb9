package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/downloader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"
	"helm.sh/helm/v3/pkg/storage/driver"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/yaml"

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
// API (never the helm binary), with a fresh action object per call.
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
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Context, flags.Namespace = &c.Kubeconfig, &c.Context, &namespace
	cfg := new(action.Configuration)
	helmMu.Lock()
	defer helmMu.Unlock()
	if err := cfg.Init(flags, namespace, "secret", func(string, ...any) {}); err != nil {
		return nil, fmt.Errorf("unable to reach cluster %s: %w", cluster, err)
	}
	return cfg, nil
}

// loadChart finds a chart: first in the local chart folders (the offline
// mirror), then in the worker's cache of downloads, then in its repository,
// downloading it into the cache.
func (h *Helm) loadChart(ref ChartRef) (*chart.Chart, string, error) {
	dirs := append([]string{}, h.ChartDirs...)
	if h.CacheDir != "" && ref.Repo != "" {
		dirs = append(dirs, filepath.Join(h.CacheDir, safePath(ref.Repo)))
	}
	for _, dir := range dirs {
		for _, p := range []string{filepath.Join(dir, ref.Name+"-"+ref.Version+".tgz"), filepath.Join(dir, ref.Name)} {
			if _, err := os.Stat(p); err != nil {
				continue
			}
			ch, err := loader.Load(p)
			if err != nil {
				return nil, "", invalid("chart %s at %s does not load: %v", ref, p, err)
			}
			if ch.Metadata.Version != ref.Version {
				continue
			}
			return ch, p, nil
		}
	}
	url, ok := h.Repos[ref.Repo]
	if !ok || h.CacheDir == "" {
		return nil, "", temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"chart %s is not in the chart folders %v and repository %q is not configured on the worker; put %s-%s.tgz "+
				"in a chart folder (helm pull %s/%s --version %s), or configure the repository", ref, h.ChartDirs, ref.Repo,
			ref.Name, ref.Version, ref.Repo, ref.Name, ref.Version), ErrChartNotFound, nil)
	}
	return h.download(ref, url)
}

// download fetches a chart from its repository's index into the cache.
func (h *Helm) download(ref ChartRef, repoURL string) (*chart.Chart, string, error) {
	settings := cli.New()
	settings.RepositoryCache = filepath.Join(h.CacheDir, ".index")
	getters := getter.All(settings)
	chartURL, err := repo.FindChartInRepoURL(repoURL, ref.Name, ref.Version, "", "", "", getters)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return nil, "", temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"chart %s is not in repository %s (%s): %v", ref, ref.Repo, repoURL, err), ErrChartNotFound, nil)
		}
		return nil, "", fmt.Errorf("unable to read the index of repository %s (%s): %w", ref.Repo, repoURL, err)
	}
	dest := filepath.Join(h.CacheDir, safePath(ref.Repo))
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, "", err
	}
	dl := downloader.ChartDownloader{Out: io.Discard, Verify: downloader.VerifyNever, Getters: getters,
		RepositoryCache: settings.RepositoryCache, RepositoryConfig: settings.RepositoryConfig}
	path, _, err := dl.DownloadTo(chartURL, ref.Version, dest)
	if err != nil {
		return nil, "", fmt.Errorf("unable to download %s from %s: %w", ref, chartURL, err)
	}
	ch, err := loader.Load(path)
	if err != nil {
		_ = os.Remove(path)
		return nil, "", fmt.Errorf("chart %s downloaded from %s does not load: %w", ref, chartURL, err)
	}
	return ch, path, nil
}

// FetchChartsInput lists the charts a guide will install.
type FetchChartsInput struct {
	Charts []ChartRef `json:"charts"`
}

// FetchedChart says where a chart was found.
type FetchedChart struct {
	Chart string `json:"chart"`
	Path  string `json:"path"`
}

// FetchChartsResult lists every chart found.
type FetchChartsResult struct {
	contract.Outcome
	Charts []FetchedChart `json:"charts"`
}

// FetchCharts makes sure every chart of a guide is at hand (mirror, cache or
// downloaded now) before the guide changes anything, and reports every
// missing one at once.
func (h *Helm) FetchCharts(ctx context.Context, in FetchChartsInput) (FetchChartsResult, error) {
	var res FetchChartsResult
	var missing []string
	for i, ref := range in.Charts {
		_, path, err := h.loadChart(ref)
		if err != nil {
			var app *temporal.ApplicationError
			if errors.As(err, &app) && app.Type() == ErrChartNotFound {
				missing = append(missing, ref.String())
				continue
			}
			return res, err
		}
		res.Charts = append(res.Charts, FetchedChart{Chart: ref.String(), Path: path})
		activity.RecordHeartbeat(ctx, i+1)
	}
	if len(missing) > 0 {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%d charts cannot be found in the chart folders %v or their repositories: %s", len(missing), h.ChartDirs,
			strings.Join(missing, ", ")), ErrChartNotFound, nil)
	}
	res.Summary = fmt.Sprintf("%d charts at hand", len(res.Charts))
	return res, nil
}

// HelmBackupInput backs up release values: the guide's
// `for name in $(helm list …); do helm get values $name > $name.yaml; done`.
type HelmBackupInput struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// Releases to back up; empty backs up every release in the namespace.
	Releases []string `json:"releases,omitempty"`
}

// BackupFile is one written backup: where and its checksum, never content
// (values hold passwords).
type BackupFile struct {
	Release string `json:"release"`
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
}

// HelmBackupResult lists the files written.
type HelmBackupResult struct {
	contract.Outcome
	Files   []BackupFile `json:"files"`
	Missing []string     `json:"missing,omitempty"`
}

// BackupReleaseValues writes each release's user-supplied values to the run's
// artifact folder. A named release that does not exist is listed as
// missing, not an error: there is nothing of it to lose.
func (h *Helm) BackupReleaseValues(ctx context.Context, in HelmBackupInput) (HelmBackupResult, error) {
	cfg, err := h.config(in.Cluster, in.Namespace)
	if err != nil {
		return HelmBackupResult{}, err
	}
	names := in.Releases
	if len(names) == 0 {
		l := action.NewList(cfg)
		l.StateMask = action.ListDeployed | action.ListFailed | action.ListPendingInstall | action.ListPendingUpgrade | action.ListPendingRollback
		rels, err := l.Run()
		if err != nil {
			return HelmBackupResult{}, fmt.Errorf("unable to list releases in %s/%s: %w", in.Cluster, in.Namespace, err)
		}
		for _, r := range rels {
			names = append(names, r.Name)
		}
		sort.Strings(names)
	}
	var res HelmBackupResult
	for _, name := range names {
		vals, err := action.NewGetValues(cfg).Run(name)
		if errors.Is(err, driver.ErrReleaseNotFound) {
			res.Missing = append(res.Missing, name)
			continue
		}
		if err != nil {
			return res, fmt.Errorf("unable to get the values of %s in %s/%s: %w", name, in.Cluster, in.Namespace, err)
		}
		data, err := yaml.Marshal(vals)
		if err != nil {
			return res, err
		}
		p, sum, err := h.Artifacts.WriteFile(ctx, filepath.Join("values", in.Cluster, in.Namespace, name+".yaml"), data)
		if err != nil {
			return res, err
		}
		res.Files = append(res.Files, BackupFile{Release: name, Path: p, SHA256: sum})
		activity.RecordHeartbeat(ctx, len(res.Files))
	}
	res.Summary = fmt.Sprintf("values of %d releases in %s/%s saved", len(res.Files), in.Cluster, in.Namespace)
	if len(res.Missing) > 0 {
		res.Summary += fmt.Sprintf("; not installed: %s", strings.Join(res.Missing, ", "))
	}
	return res, nil
}

// HelmUninstallInput removes a release (the guide's helm delete --purge).
type HelmUninstallInput struct {
	Cluster   string        `json:"cluster"`
	Namespace string        `json:"namespace"`
	Release   string        `json:"release"`
	Timeout   time.Duration `json:"timeout,omitempty"`
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

// Uninstall removes the release and its history; one already gone is
// success. Workflows run it only after the release's backup step.
func (h *Helm) Uninstall(ctx context.Context, in HelmUninstallInput) (HelmReleaseResult, error) {
	cfg, err := h.config(in.Cluster, in.Namespace)
	if err != nil {
		return HelmReleaseResult{}, err
	}
	u := action.NewUninstall(cfg)
	u.Timeout = in.Timeout
	if u.Timeout == 0 {
		u.Timeout = 5 * time.Minute
	}
	_, err = u.Run(in.Release)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return HelmReleaseResult{Outcome: contract.Outcome{Summary: in.Release + " was not installed; nothing to delete"}, Release: in.Release}, nil
	}
	if err != nil {
		return HelmReleaseResult{}, fmt.Errorf("unable to delete %s in %s/%s: %w", in.Release, in.Cluster, in.Namespace, err)
	}
	return HelmReleaseResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("deleted %s from %s/%s", in.Release, in.Cluster, in.Namespace)},
		Release: in.Release, Changed: true}, nil
}

// HelmUpgradeInput is `helm upgrade --install`.
type HelmUpgradeInput struct {
	Cluster   string   `json:"cluster"`
	Namespace string   `json:"namespace"`
	Release   string   `json:"release"`
	Chart     ChartRef `json:"chart"`
	// Values are the guide's values file, templated from config (no secret
	// values: those go in SetSecrets).
	Values map[string]any `json:"values,omitempty"`
	// Set are --set pairs, applied after Values.
	Set []string `json:"set,omitempty"`
	// SetSecrets maps --set paths to secret names, resolved on the worker.
	SetSecrets map[string]string `json:"setSecrets,omitempty"`
	// Overrides are the site's own values for this release (from the
	// upgrade config), applied after Values and Set: the operator's word
	// wins over the guide's defaults.
	Overrides map[string]any `json:"overrides,omitempty"`
	// ReuseValues starts from the release's current values, as the guides'
	// `-f <(helm get values X)` does.
	ReuseValues bool `json:"reuseValues,omitempty"`
	// MustExist refuses to install a missing release: the guide upgrades
	// it (`helm upgrade`, no --install), so a missing one means the config
	// names the wrong release or namespace.
	MustExist       bool          `json:"mustExist,omitempty"`
	CreateNamespace bool          `json:"createNamespace,omitempty"`
	Wait            bool          `json:"wait,omitempty"`
	Timeout         time.Duration `json:"timeout,omitempty"`
}

// UpgradeInstall installs the release when it is missing (or was
// uninstalled) and upgrades it otherwise, like helm's own CLI (whose
// Upgrade with Install=true does not install by itself). When the release
// is already deployed at this chart version with these values it does
// nothing, so a retry after a lost worker never upgrades twice.
func (h *Helm) UpgradeInstall(ctx context.Context, in HelmUpgradeInput) (HelmReleaseResult, error) {
	ch, _, err := h.loadChart(in.Chart)
	if err != nil {
		return HelmReleaseResult{}, err
	}
	cfg, err := h.config(in.Cluster, in.Namespace)
	if err != nil {
		return HelmReleaseResult{}, err
	}
	hist := action.NewHistory(cfg)
	hist.Max = 1
	versions, err := hist.Run(in.Release)
	install := errors.Is(err, driver.ErrReleaseNotFound) || (err == nil && len(versions) > 0 && versions[len(versions)-1].Info.Status == release.StatusUninstalled)
	if err != nil && !install {
		return HelmReleaseResult{}, fmt.Errorf("unable to read the history of %s: %w", in.Release, err)
	}
	if install && in.MustExist {
		return HelmReleaseResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"release %s is not installed in %s/%s, and the guide upgrades it rather than installing it; "+
				"if it was installed under another name, set releases.%s in the upgrade config, then retry",
			in.Release, in.Cluster, in.Namespace, in.Release), contract.ErrPrecondition, nil)
	}
	var current *release.Release
	if !install && len(versions) > 0 {
		current = versions[len(versions)-1]
		if current.Info.Status.IsPending() {
			return HelmReleaseResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"release %s in %s/%s is %s: another operation is in progress or died half-way; check `helm history %s -n %s`, "+
					"roll back or wait, then retry", in.Release, in.Cluster, in.Namespace, current.Info.Status, in.Release, in.Namespace),
				ErrHelmPending, nil)
		}
	}

	vals := map[string]any{}
	if in.ReuseValues && current != nil {
		vals = chartutil.CoalesceTables(map[string]any{}, copyValues(current.Config))
	}
	vals = chartutil.CoalesceTables(copyValues(in.Values), vals) // the guide's values win over reused ones
	for _, s := range in.Set {
		if err := strvals.ParseInto(s, vals); err != nil {
			return HelmReleaseResult{}, invalid("--set %q: %v", s, err)
		}
	}
	if len(in.Overrides) > 0 {
		vals = chartutil.CoalesceTables(copyValues(in.Overrides), vals)
	}
	paths := make([]string, 0, len(in.SetSecrets))
	for p := range in.SetSecrets {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		v, err := resolveSecret(h.Secrets, in.SetSecrets[p])
		if err != nil {
			return HelmReleaseResult{}, err
		}
		// ParseIntoString keeps the value a string whatever it looks like.
		if err := strvals.ParseIntoString(p+"="+escapeStrval(v), vals); err != nil {
			return HelmReleaseResult{}, invalid("secret for %s does not fit a --set value", p)
		}
	}

	if current != nil && current.Info.Status == release.StatusDeployed && current.Chart != nil &&
		current.Chart.Metadata.Version == in.Chart.Version && reflect.DeepEqual(normalize(current.Config), normalize(vals)) {
		return HelmReleaseResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("%s already at %s (revision %d) with these values; nothing to do",
			in.Release, in.Chart.Version, current.Version)}, Release: in.Release, Revision: current.Version,
			Chart: in.Chart.Version, Status: string(current.Info.Status)}, nil
	}

	timeout := in.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	var rel *release.Release
	if install {
		i := action.NewInstall(cfg)
		i.ReleaseName, i.Namespace, i.CreateNamespace = in.Release, in.Namespace, in.CreateNamespace
		i.Wait, i.Timeout = in.Wait, timeout
		i.Replace = err == nil // reinstall over an uninstalled release's history
		rel, err = i.RunWithContext(ctx, ch, vals)
	} else {
		u := action.NewUpgrade(cfg)
		u.Namespace, u.Wait, u.Timeout, u.MaxHistory = in.Namespace, in.Wait, timeout, 10
		rel, err = u.RunWithContext(ctx, in.Release, ch, vals)
	}
	if err != nil {
		if strings.Contains(err.Error(), "another operation (install/upgrade/rollback) is in progress") {
			return HelmReleaseResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"release %s: %v; check `helm history %s -n %s`", in.Release, err, in.Release, in.Namespace), ErrHelmPending, nil)
		}
		verb := "upgrade"
		if install {
			verb = "install"
		}
		return HelmReleaseResult{}, fmt.Errorf("unable to %s %s with %s in %s/%s: %w", verb, in.Release, in.Chart, in.Cluster, in.Namespace, err)
	}
	verb := "upgraded"
	if install {
		verb = "installed"
	}
	return HelmReleaseResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("%s %s to %s (revision %d, %s)", verb, in.Release, in.Chart.Version, rel.Version, rel.Info.Status)},
		Release: in.Release, Revision: rel.Version, Chart: in.Chart.Version, Status: string(rel.Info.Status), Changed: true}, nil
}

// copyValues deep-copies a values map so coalescing never edits the input.
func copyValues(v map[string]any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	b, _ := yaml.Marshal(v)
	out := map[string]any{}
	_ = yaml.Unmarshal(b, &out)
	return out
}

// normalize makes two values maps comparable whatever their number types.
func normalize(v map[string]any) map[string]any { return copyValues(v) }

// escapeStrval escapes what --set syntax treats specially.
func escapeStrval(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `=`, `\=`, `[`, `\[`, `]`, `\]`, `.`, `\.`)
	return r.Replace(s)
}

// VerifyReleasesInput is the end state a guide leaves.
type VerifyReleasesInput struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// Versions maps releases to the chart version they must be deployed at.
	Versions map[string]string `json:"versions"`
	// Absent releases must be gone.
	Absent []string `json:"absent,omitempty"`
}

// VerifyReleases reads every release's last revision and reports every
// release not deployed at its version, and every one that should be gone,
// at once.
func (h *Helm) VerifyReleases(ctx context.Context, in VerifyReleasesInput) (contract.Outcome, error) {
	cfg, err := h.config(in.Cluster, in.Namespace)
	if err != nil {
		return contract.Outcome{}, err
	}
	last := func(name string) (*release.Release, error) {
		hist := action.NewHistory(cfg)
		hist.Max = 1
		versions, err := hist.Run(name)
		if errors.Is(err, driver.ErrReleaseNotFound) || err == nil && len(versions) == 0 {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("unable to read the history of %s in %s/%s: %w", name, in.Cluster, in.Namespace, err)
		}
		return versions[len(versions)-1], nil
	}
	var wrong []string
	names := make([]string, 0, len(in.Versions))
	for n := range in.Versions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rel, err := last(n)
		switch {
		case err != nil:
			return contract.Outcome{}, err
		case rel == nil || rel.Info.Status == release.StatusUninstalled:
			wrong = append(wrong, n+" is not installed")
		case rel.Info.Status != release.StatusDeployed:
			wrong = append(wrong, fmt.Sprintf("%s is %s (revision %d)", n, rel.Info.Status, rel.Version))
		case rel.Chart == nil || rel.Chart.Metadata.Version != in.Versions[n]:
			got := "?"
			if rel.Chart != nil {
				got = rel.Chart.Metadata.Version
			}
			wrong = append(wrong, fmt.Sprintf("%s is at %s, not %s", n, got, in.Versions[n]))
		}
		activity.RecordHeartbeat(ctx, n)
	}
	for _, n := range in.Absent {
		rel, err := last(n)
		if err != nil {
			return contract.Outcome{}, err
		}
		if rel != nil && rel.Info.Status != release.StatusUninstalled {
			wrong = append(wrong, fmt.Sprintf("%s should be gone but is %s", n, rel.Info.Status))
		}
	}
	if len(wrong) > 0 {
		return contract.Outcome{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%d releases in %s/%s are not as the guide leaves them: %s",
			len(wrong), in.Cluster, in.Namespace, strings.Join(wrong, "; ")), contract.ErrPrecondition, nil)
	}
	return contract.Outcome{Summary: fmt.Sprintf("%d releases deployed at the guide's versions, %d old ones gone, in %s/%s",
		len(names), len(in.Absent), in.Cluster, in.Namespace)}, nil
}
