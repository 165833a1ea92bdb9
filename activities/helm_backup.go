package activities

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"
	"sigs.k8s.io/yaml"

	"upgrader/internal/contract"
)

// HelmBackupInput backs up release values: the guide's
// `for name in $(helm list …); do helm get values $name > $name.yaml; done`.
type HelmBackupInput struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// Releases to back up; empty backs up every release in the namespace.
	Releases []string `json:"releases,omitempty"`
	// TillerNamespace, when set, backs up the Helm 2 releases Tiller keeps
	// there too (deployed in Namespace, not in Helm 3's storage): a Helm 2
	// site's values, from the newest record (what Helm 2's `helm get
	// values` prints: the release's Config).
	TillerNamespace string `json:"tillerNamespace,omitempty"`
}

// BackupFile is one written backup: where and its checksum, never content
// (values hold passwords), and the chart the release ran, which a
// re-install from this backup needs (Reinstall).
type BackupFile struct {
	Release      string `json:"release"`
	Path         string `json:"path"`
	SHA256       string `json:"sha256"`
	Bytes        int    `json:"bytes"`
	Chart        string `json:"chart,omitempty"`
	ChartVersion string `json:"chartVersion,omitempty"`
	// Copy is the Secret in the release's namespace holding the same bytes
	// (namespace/name): a worker without the file reads it there.
	Copy string `json:"copy,omitempty"`
}

// HelmBackupResult lists the files written.
type HelmBackupResult struct {
	contract.Outcome
	Files   []BackupFile `json:"files"`
	Missing []string     `json:"missing,omitempty"`
}

// BackupReleaseValues heartbeats after every release it saves.
var _ = contract.Declare((*Helm).BackupReleaseValues, contract.Options{Heartbeat: 20 * time.Second})

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
	helm2, err := h.helm2Values(ctx, cfg, in)
	if err != nil {
		return HelmBackupResult{}, err
	}
	if len(in.Releases) == 0 {
		for n := range helm2 {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
	}
	cs, err := cfg.KubernetesClientSet()
	if err != nil {
		return HelmBackupResult{}, fmt.Errorf("unable to reach cluster %s: %w", in.Cluster, err)
	}
	var res HelmBackupResult
	for _, name := range names {
		// One read of the release gives its values (what `helm get values`
		// prints: the release's Config) and its chart; GetValues then Get
		// read and decode its whole history twice.
		rel, err := action.NewGet(cfg).Run(name)
		var vals map[string]any
		if err == nil {
			vals = rel.Config
		}
		v2, fromTiller := helm2[name]
		if fromTiller && errors.Is(err, driver.ErrReleaseNotFound) {
			vals, err = v2.values, nil
		}
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
		f := BackupFile{Release: name, Path: p, SHA256: sum, Bytes: len(data)}
		secret, err := keepValuesCopy(ctx, cs, in.Namespace, name, sum, data)
		if err != nil {
			return res, err
		}
		f.Copy = in.Namespace + "/" + secret
		if rel != nil && rel.Chart != nil && rel.Chart.Metadata != nil {
			f.Chart, f.ChartVersion = rel.Chart.Metadata.Name, rel.Chart.Metadata.Version
		} else if fromTiller {
			// Not converted yet: the chart of Tiller's newest record, which
			// an undo re-installs the release from after the guide deleted
			// its converted self.
			f.Chart, f.ChartVersion = v2.chart, v2.version
		}
		res.Files = append(res.Files, f)
		activity.RecordHeartbeat(ctx, len(res.Files))
	}
	res.Summary = fmt.Sprintf("values of %d releases in %s/%s saved (a copy of each kept in the namespace as a Secret upgrader-values-<release>-<sha256>)",
		len(res.Files), in.Cluster, in.Namespace)
	if len(helm2) > 0 {
		res.Summary += fmt.Sprintf(" (%d read from Tiller's records in %s)", len(helm2), in.TillerNamespace)
	}
	// Each file's path, checksum and size as outputs (path.<release>,
	// sha256.<release>, bytes.<release>): the run's report lists them among
	// its backups; copy.<release> is where its in-cluster copy is. The
	// chart and its version (chart.<release>, version.<release>) are what an
	// undo re-installs the release from, with these values.
	for _, f := range res.Files {
		if res.Outputs == nil {
			res.Outputs = map[string]string{}
		}
		res.Outputs["path."+f.Release], res.Outputs["sha256."+f.Release] = f.Path, f.SHA256
		res.Outputs["bytes."+f.Release] = strconv.Itoa(f.Bytes)
		res.Outputs["copy."+f.Release] = f.Copy
		if f.Chart != "" {
			res.Outputs["chart."+f.Release], res.Outputs["version."+f.Release] = f.Chart, f.ChartVersion
		}
	}
	if len(res.Missing) > 0 {
		res.Summary += fmt.Sprintf("; not installed: %s", strings.Join(res.Missing, ", "))
	}
	return res, nil
}

// tillerValues is a Helm 2 release's user values and chart, from Tiller's
// newest record of it.
type tillerValues struct {
	values         map[string]any
	chart, version string
}

// helm2Values is the user values and chart of each Helm 2 release Tiller
// keeps in in.TillerNamespace that was deployed in in.Namespace and that
// Helm 3's storage does not have, by name; nil without a Tiller namespace.
func (h *Helm) helm2Values(ctx context.Context, cfg *action.Configuration, in HelmBackupInput) (map[string]tillerValues, error) {
	if in.TillerNamespace == "" {
		return nil, nil
	}
	cs, err := cfg.KubernetesClientSet()
	if err != nil {
		return nil, fmt.Errorf("unable to reach cluster %s: %w", in.Cluster, err)
	}
	recs, err := tillerRecords(ctx, cs, in.TillerNamespace, "")
	if err != nil {
		return nil, err
	}
	out := map[string]tillerValues{}
	for name, r := range newestTiller(recs) {
		if r.Release.Namespace != in.Namespace || r.status() == "DELETED" {
			continue
		}
		if rel, err := lastRevision(cfg, in.Cluster, in.Namespace, name); err != nil {
			return nil, err
		} else if rel != nil {
			continue
		}
		v, err := helm3Values(r.Release.Config)
		if err != nil {
			return nil, fmt.Errorf("%s: its values: %w", r, err)
		}
		if v == nil {
			v = map[string]any{}
		}
		tv := tillerValues{values: v, version: r.chartVersion()}
		if m := r.Release.GetChart().GetMetadata(); m != nil {
			tv.chart = m.Name
		}
		out[name] = tv
	}
	return out, nil
}
