package activities

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"upgrader/internal/contract"
)

// RemoveTillerRecordsInput names the releases whose Helm 2 records a run
// removes once they live in Helm 3.
type RemoveTillerRecordsInput struct {
	Cluster string `json:"cluster"`
	// Namespace is the run's: only records of releases deployed there go.
	Namespace       string   `json:"namespace"`
	TillerNamespace string   `json:"tillerNamespace,omitempty"`
	Releases        []string `json:"releases"`
}

// RemoveTillerRecordsResult lists what was removed.
type RemoveTillerRecordsResult struct {
	contract.Outcome
	Removed []string `json:"removed,omitempty"` // "ConfigMap kube-system/base-service.v1"
}

// RemoveTillerRecords heartbeats from the shared ticker while it deletes.
var _ = contract.Declare((*Helm).RemoveTillerRecords, contract.Options{Heartbeat: callHeartbeat})

// RemoveTillerRecords deletes Tiller's records (ConfigMaps or Secrets) of
// the named releases deployed in the run's namespace: what `helm 2to3
// cleanup --release-cleanup` does for one release (helm/helm-2to3
// pkg/v2/release.go DeleteAllReleaseVersions, deleteRelease). Records of
// other releases, and Tiller itself, are left alone. One already gone is
// success, so a retry finishes the job.
func (h *Helm) RemoveTillerRecords(ctx context.Context, in RemoveTillerRecordsInput) (res RemoveTillerRecordsResult, err error) {
	err = whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		res, err = h.removeTillerRecords(ctx, in)
		return err
	})
	return res, err
}

func (h *Helm) removeTillerRecords(ctx context.Context, in RemoveTillerRecordsInput) (RemoveTillerRecordsResult, error) {
	cfg, err := h.config(in.Cluster, in.Namespace)
	if err != nil {
		return RemoveTillerRecordsResult{}, err
	}
	cs, err := cfg.KubernetesClientSet()
	if err != nil {
		return RemoveTillerRecordsResult{}, fmt.Errorf("unable to reach cluster %s: %w", in.Cluster, err)
	}
	tns := in.TillerNamespace
	if tns == "" {
		tns = DefaultTillerNamespace
	}
	var res RemoveTillerRecordsResult
	var others []string
	for _, name := range in.Releases {
		recs, err := tillerRecords(ctx, cs, tns, name)
		if err != nil {
			return res, err
		}
		for _, r := range recs {
			if r.Release.Namespace != in.Namespace {
				others = append(others, r.String())
				continue
			}
			switch r.Kind {
			case "Secret":
				err = cs.CoreV1().Secrets(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
			default:
				err = cs.CoreV1().ConfigMaps(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
			}
			if err != nil && !apierrors.IsNotFound(err) {
				return res, fmt.Errorf("unable to delete Tiller's %s: %w", r, err)
			}
			res.Removed = append(res.Removed, r.String())
		}
	}
	res.Summary = fmt.Sprintf("removed %d Tiller records of %d releases from %s", len(res.Removed), len(in.Releases), tns)
	if len(others) > 0 {
		res.Summary += "; kept (deployed in another namespace): " + strings.Join(others, ", ")
	}
	res.Summary += "; Tiller itself is not touched (helm 2to3 cleanup --tiller-cleanup when no release needs it)"
	return res, nil
}
