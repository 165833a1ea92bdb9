package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"

	"upgrader/internal/contract"
)

// HelmUninstallInput removes a release (the guide's helm delete --purge).
type HelmUninstallInput struct {
	Cluster   string            `json:"cluster"`
	Namespace string            `json:"namespace"`
	Release   string            `json:"release"`
	Timeout   contract.Duration `json:"timeout,omitempty"`
}

// Uninstall heartbeats while helm deletes the release's resources and runs
// its delete hooks.
var _ = contract.Declare((*Helm).Uninstall, contract.Options{Heartbeat: 20 * time.Second})

// Uninstall removes the release and its history; one already gone is
// success. Workflows run it only after the release's backup step.
func (h *Helm) Uninstall(ctx context.Context, in HelmUninstallInput) (HelmReleaseResult, error) {
	var res HelmReleaseResult
	err := whileHeartbeating(ctx, nil, func(context.Context) error {
		var err error
		res, err = h.uninstall(in)
		return err
	})
	return res, err
}

func (h *Helm) uninstall(in HelmUninstallInput) (HelmReleaseResult, error) {
	cfg, err := h.config(in.Cluster, in.Namespace)
	if err != nil {
		return HelmReleaseResult{}, err
	}
	u := action.NewUninstall(cfg)
	u.Timeout = in.Timeout.D()
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
