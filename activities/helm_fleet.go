package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"helm.sh/helm/v3/pkg/release"

	"upgrader/internal/contract"
)

// FleetRelease is one release a fleet-wide upgrade must leave at a version.
type FleetRelease struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Release   string `json:"release"`
	Version   string `json:"version"`
}

// FleetInput is the end state of an upgrade across clusters.
type FleetInput struct {
	Releases []FleetRelease `json:"releases"`
}

// FleetResult is the end-state table, one row per cluster.
type FleetResult struct {
	contract.Outcome
	Rows []string `json:"rows"`
}

// VerifyFleet reads one revision per cluster and heartbeats from the shared
// ticker: a worker lost in it (or right before it, its task already handed
// over) costs 15 s, not the 2-minute try (the kill sweep measured 2 min).
var _ = contract.Declare((*Helm).VerifyFleet, contract.Options{Heartbeat: 15 * time.Second})

// VerifyFleet reads each release's newest revision on its cluster and
// returns the table "cluster  release  chart  status". A cluster whose
// release is not deployed at the version, or that cannot be read, is named
// in the failure: the guide forbids leaving skoala and skoala-init at
// different versions (「否则会存在版本不兼容的情况」).
func (h *Helm) VerifyFleet(ctx context.Context, in FleetInput) (FleetResult, error) {
	var res FleetResult
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		var err error
		res, err = h.verifyFleet(ctx, in)
		return err
	})
	return res, err
}

func (h *Helm) verifyFleet(ctx context.Context, in FleetInput) (FleetResult, error) {
	var res FleetResult
	var wrong []string
	res.Rows = append(res.Rows, fmt.Sprintf("%-24s %-12s %-10s %s", "CLUSTER", "RELEASE", "CHART", "STATUS"))
	for _, r := range in.Releases {
		chartV, status := "-", "not installed"
		cfg, err := h.config(r.Cluster, r.Namespace)
		var rel *release.Release
		if err == nil {
			rel, err = lastRevision(cfg, r.Cluster, r.Namespace, r.Release)
		}
		switch {
		case err != nil:
			status = "unreachable: " + err.Error()
		case rel != nil:
			status = string(rel.Info.Status)
			if rel.Chart != nil && rel.Chart.Metadata != nil {
				chartV = rel.Chart.Metadata.Version
			}
		}
		if chartV != r.Version || status != string(release.StatusDeployed) {
			wrong = append(wrong, fmt.Sprintf("%s (%s %s, %s)", r.Cluster, r.Release, chartV, status))
		}
		res.Rows = append(res.Rows, fmt.Sprintf("%-24s %-12s %-10s %s", r.Cluster, r.Release, chartV, status))
	}
	table := strings.Join(res.Rows, "\n")
	if len(wrong) > 0 {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%d of %d clusters are not at the target version: %s; skoala and skoala-init must match: retry once they are fixed\n%s",
			len(wrong), len(in.Releases), strings.Join(wrong, "; "), table), contract.ErrPrecondition, nil)
	}
	res.Summary = fmt.Sprintf("all %d clusters at the target version\n%s", len(in.Releases), table)
	return res, nil
}
