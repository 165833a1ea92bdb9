package activities

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"upgrader/internal/contract"
)

// ListRunningPlugins makes one request per package, each bounded by the
// client's timeout, heartbeating from the shared ticker (as WeCubeLogin).
var _ = contract.Declare((*WeCube).ListRunningPlugins, contract.Options{Heartbeat: callHeartbeat, Timeout: 2 * time.Minute})

// RunningPluginsResult lists the plugins that run now, one item each.
type RunningPluginsResult struct {
	contract.Outcome
	// Plugins maps each item to the package's name and version.
	Plugins map[string]string `json:"plugins"`
}

// weCubePackage and weCubeInstance are rows as platform-core's API shows
// them (platform-core/models/plugin.go PluginPackages, PluginInstances at
// v4.0.0).
type weCubePackage struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Version           string `json:"version"`
	Status            string `json:"status"`
	UIPackageIncluded bool   `json:"uiPackageIncluded"`
}

type weCubeInstance struct {
	ID              string `json:"id"`
	Host            string `json:"host"`
	Port            int    `json:"port"`
	ContainerName   string `json:"containerName"`
	ContainerStatus string `json:"containerStatus"`
	PackageID       string `json:"packageId"`
}

var itemUnsafe = regexp.MustCompile(`[^a-z0-9._-]+`)

// ListRunningPlugins asks the platform which plugin packages have a
// running instance: GET /platform/v1/packages (registered and uploaded
// ones), then GET /platform/v1/packages/{id}/instances for each registered
// package (platform-core/api/api.go). The list is read at run time, as the
// guide's 对已运行的插件挨个点 means the plugins running then; each becomes
// one step. It changes nothing.
func (w *WeCube) ListRunningPlugins(ctx context.Context, acc WeCubeAccount) (RunningPluginsResult, error) {
	return heartbeating(ctx, acc, w.listRunningPlugins)
}

func (w *WeCube) listRunningPlugins(ctx context.Context, acc WeCubeAccount) (RunningPluginsResult, error) {
	token, err := w.login(ctx, acc)
	if err != nil {
		return RunningPluginsResult{}, err
	}
	var pkgs []weCubePackage
	if err := w.do(ctx, http.MethodGet, acc.URL+"/platform/v1/packages", token, nil, &pkgs); err != nil {
		return RunningPluginsResult{}, err
	}
	res := RunningPluginsResult{Plugins: map[string]string{}}
	for _, p := range pkgs {
		if p.Status != "REGISTERED" {
			continue
		}
		var inst []weCubeInstance
		if err := w.do(ctx, http.MethodGet, acc.URL+"/platform/v1/packages/"+url.PathEscape(p.ID)+"/instances", token, nil, &inst); err != nil {
			return RunningPluginsResult{}, err
		}
		running := false
		for _, i := range inst {
			running = running || i.ContainerStatus == "RUNNING"
		}
		if !running {
			continue
		}
		item := strings.Trim(itemUnsafe.ReplaceAllString(strings.ToLower(p.Name), "-"), "-._")
		if item == "" {
			item = "package-" + strings.ToLower(itemUnsafe.ReplaceAllString(p.ID, "-"))
		}
		res.Plugins[item] = p.Name + " " + p.Version
	}
	for item := range res.Plugins {
		res.Items = append(res.Items, item)
	}
	sort.Strings(res.Items)
	res.Summary = fmt.Sprintf("%d running plugins of %d packages: %s", len(res.Items), len(pkgs), strings.Join(res.Items, ", "))
	return res, nil
}
