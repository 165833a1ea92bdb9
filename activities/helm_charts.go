package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/downloader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/repo"

	"upgrader/internal/contract"
)

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

// FetchCharts heartbeats while a chart downloads from a slow repository.
var _ = contract.Declare((*Helm).FetchCharts, contract.Options{Heartbeat: 20 * time.Second})

// FetchCharts makes sure every chart of a guide is at hand (mirror, cache or
// downloaded now) before the guide changes anything, and reports every
// missing one at once.
func (h *Helm) FetchCharts(ctx context.Context, in FetchChartsInput) (FetchChartsResult, error) {
	var progress Progress
	var res FetchChartsResult
	err := whileHeartbeating(ctx, &progress, func(context.Context) error {
		var err error
		res, err = h.fetchCharts(in, &progress)
		return err
	})
	return res, err
}

func (h *Helm) fetchCharts(in FetchChartsInput, progress *Progress) (FetchChartsResult, error) {
	var res FetchChartsResult
	var missing []string
	for i, ref := range in.Charts {
		progress.Set(i) // charts done before this one
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
	}
	if len(missing) > 0 {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%d charts cannot be found in the chart folders %v or their repositories: %s", len(missing), h.ChartDirs,
			strings.Join(missing, ", ")), ErrChartNotFound, nil)
	}
	res.Summary = fmt.Sprintf("%d charts at hand", len(res.Charts))
	return res, nil
}
