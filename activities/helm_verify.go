package activities

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"

	"upgrader/internal/contract"
)

// VerifyReleasesInput is the end state a guide leaves.
type VerifyReleasesInput struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// Versions maps releases to the chart version they must be deployed at.
	Versions map[string]string `json:"versions"`
	// Absent releases must be gone.
	Absent []string `json:"absent,omitempty"`
}

// VerifyReleases heartbeats from the shared ticker while it reads the releases:
// a lost worker is noticed after the heartbeat timeout, not the try's whole
// start-to-close.
var _ = contract.Declare((*Helm).VerifyReleases, contract.Options{Heartbeat: callHeartbeat})

// VerifyReleases reads every release's last revision and reports every
// release not deployed at its version, and every one that should be gone,
// at once.
func (h *Helm) VerifyReleases(ctx context.Context, in VerifyReleasesInput) (out contract.Outcome, err error) {
	err = whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		out, err = h.verifyReleases(ctx, in)
		return err
	})
	return out, err
}

func (h *Helm) verifyReleases(ctx context.Context, in VerifyReleasesInput) (contract.Outcome, error) {
	cfg, err := h.config(in.Cluster, in.Namespace)
	if err != nil {
		return contract.Outcome{}, err
	}
	last := func(name string) (*release.Release, error) { return lastRevision(cfg, in.Cluster, in.Namespace, name) }
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

// lastRevision is a release's newest revision, nil when it has none.
func lastRevision(cfg *action.Configuration, cluster, namespace, name string) (*release.Release, error) {
	hist := action.NewHistory(cfg)
	hist.Max = 1
	versions, err := hist.Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) || err == nil && len(versions) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read the history of %s in %s/%s: %w", name, cluster, namespace, err)
	}
	return versions[len(versions)-1], nil
}
