package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/temporal"
	"sigs.k8s.io/yaml"

	"upgrader/internal/contract"
)

// HelmReinstallInput puts back a release the run deleted, as it was before:
// its chart at the version it ran, with the values `helm get values` saved
// before the delete (BackupReleaseValues). It is the undo of a guide's
// `helm delete --purge`. The values file stays on the worker and in a Secret
// of the release's namespace (it holds passwords); only its path and
// SHA-256 travel through Temporal.
type HelmReinstallInput struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Release   string `json:"release"`
	// Chart is the chart the release ran: the repository from the config,
	// name and version from the backup's outputs (chart.X, version.X).
	Chart ChartRef `json:"chart"`
	// ValuesFile and ValuesSHA256 are the backup's path.X and sha256.X.
	ValuesFile   string            `json:"valuesFile"`
	ValuesSHA256 string            `json:"valuesSHA256"`
	Timeout      contract.Duration `json:"timeout,omitempty"`
}

// Reinstall heartbeats while helm installs (the chart's hook Jobs), as
// UpgradeInstall does.
var _ = contract.Declare((*Helm).Reinstall, contract.Options{Heartbeat: 20 * time.Second})

// Reinstall installs the release from its values backup, after checking the
// backup is the one its step recorded. It is UpgradeInstall underneath: a
// release already deployed at that version with those values is left as it
// is, and one left pending by an earlier try of this step (a lost worker)
// is unlocked and installed again, so the undo can run any number of times.
func (h *Helm) Reinstall(ctx context.Context, in HelmReinstallInput) (HelmReleaseResult, error) {
	if in.Release == "" || in.Chart.Name == "" || in.Chart.Version == "" {
		return HelmReleaseResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"cannot re-install %q: its chart and version are unknown (the values backup recorded none for it); "+
				"install it by hand from its values file %s, then skip this step", in.Release, in.ValuesFile), contract.ErrPrecondition, nil)
	}
	if !filepath.IsAbs(in.ValuesFile) || len(in.ValuesSHA256) != 64 {
		return HelmReleaseResult{}, invalid("re-install %s: values file %q must be absolute and sha256 %q 64 hex digits",
			in.Release, in.ValuesFile, in.ValuesSHA256)
	}
	data, err := h.valuesBackup(ctx, in)
	if err != nil {
		return HelmReleaseResult{}, err
	}
	vals := map[string]any{}
	if err := yaml.Unmarshal(data, &vals); err != nil {
		return HelmReleaseResult{}, invalid("the values backup of %s is not YAML: %v", in.Release, err)
	}
	up := HelmUpgradeInput{Cluster: in.Cluster, Namespace: in.Namespace, Release: in.Release, Chart: in.Chart,
		Values: vals, Timeout: in.Timeout}
	var progress Progress
	var res HelmReleaseResult
	err = whileHeartbeating(ctx, &progress, func(ctx context.Context) error {
		var err error
		res, err = h.upgradeInstall(ctx, up, &progress)
		return err
	})
	if err == nil {
		res.Summary += " from its values backup"
	}
	return res, err
}

// valuesBackup reads the values backup a re-install uses: the file on this
// worker, else its copy in the release's namespace (the backup was made on
// another worker), either checked against the SHA-256 its step recorded.
func (h *Helm) valuesBackup(ctx context.Context, in HelmReinstallInput) ([]byte, error) {
	data, err := os.ReadFile(in.ValuesFile)
	if os.IsNotExist(err) {
		cfg, err := h.config(in.Cluster, in.Namespace)
		if err != nil {
			return nil, err
		}
		cs, err := cfg.KubernetesClientSet()
		if err != nil {
			return nil, fmt.Errorf("unable to reach cluster %s: %w", in.Cluster, err)
		}
		data, err := readValuesCopy(ctx, cs, in.Namespace, in.Release, in.ValuesSHA256)
		if err != nil {
			return nil, err
		}
		if data == nil {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"the values backup of %s (%s) is not on this worker, nor its copy in %s (Secret %s); run the undo on the worker that made the backup, "+
					"or install %s %s by hand and skip this step", in.Release, in.ValuesFile, in.Namespace, valuesCopyName(in.Release, in.ValuesSHA256),
				in.Chart, in.Release), ErrBackupChanged, nil)
		}
		return data, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read the values backup of %s: %w", in.Release, err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != in.ValuesSHA256 {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the values backup of %s (%s) changed since backup-values wrote it (sha256 %s, recorded %s); "+
				"check it by hand before anything is installed from it", in.Release, in.ValuesFile, hex.EncodeToString(sum[:]), in.ValuesSHA256), ErrBackupChanged, nil)
	}
	return data, nil
}
