package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/client-go/kubernetes"

	"upgrader/internal/contract"
)

// ErrHelm2Conflict: a Helm 2 release cannot be converted as it is (it
// lives in another namespace than the run's, or Helm 3 already keeps a
// different release of the same name and revision). No retry helps; a
// person looks.
const ErrHelm2Conflict = "Helm2Conflict"

// DefaultHelm2Revisions is how many of a release's newest revisions are
// converted: the 2to3 plugin's --release-versions-max default
// (helm/helm-2to3 cmd/convert.go).
const DefaultHelm2Revisions = 10

// ConvertHelm2Input names the Helm 2 releases a run converts to Helm 3.
type ConvertHelm2Input struct {
	Cluster string `json:"cluster"`
	// Namespace is the run's: every release must have been deployed there
	// (Helm 3 keeps a release in its own namespace).
	Namespace string `json:"namespace"`
	// TillerNamespace is where Tiller keeps its records; empty: kube-system.
	TillerNamespace string `json:"tillerNamespace,omitempty"`
	// Releases are the site's release names.
	Releases []string `json:"releases"`
	// MaxRevisions converts each release's newest revisions only; zero:
	// DefaultHelm2Revisions.
	MaxRevisions int `json:"maxRevisions,omitempty"`
}

// ConvertHelm2Result says what was written.
type ConvertHelm2Result struct {
	contract.Outcome
	// Converted: "base-service r1-r2"; Kept: revisions Helm 3 already had
	// (a retry after a lost worker, or a release converted before).
	Converted []string `json:"converted,omitempty"`
	Kept      []string `json:"kept,omitempty"`
}

// ConvertHelm2 heartbeats from the shared ticker while it writes the
// releases (a few writes per revision).
var _ = contract.Declare((*Helm).ConvertHelm2, contract.Options{Heartbeat: callHeartbeat})

// ConvertHelm2 writes each Helm 2 release's newest revisions as Helm 3
// releases (Helm 3's secrets storage, in the release's namespace: the same
// name, revision, status, chart, values and manifest), what `helm 2to3
// convert --release-versions-max 10 <release>` does (helm/helm-2to3
// cmd/convert.go Convert; pkg/v3/release.go CreateRelease, StoreRelease).
// The workloads are not touched, nor are Tiller's records: they stay until
// cleanup/tiller-records. A revision Helm 3 already holds with the same
// chart is kept, so a retry after a lost worker finishes the job; one with
// another chart stops the run for a person.
func (h *Helm) ConvertHelm2(ctx context.Context, in ConvertHelm2Input) (res ConvertHelm2Result, err error) {
	err = whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		res, err = h.convertHelm2(ctx, in)
		return err
	})
	return res, err
}

func (h *Helm) convertHelm2(ctx context.Context, in ConvertHelm2Input) (ConvertHelm2Result, error) {
	cfg, err := h.config(in.Cluster, in.Namespace)
	if err != nil {
		return ConvertHelm2Result{}, err
	}
	cs, err := cfg.KubernetesClientSet()
	if err != nil {
		return ConvertHelm2Result{}, fmt.Errorf("unable to reach cluster %s: %w", in.Cluster, err)
	}
	tns := in.TillerNamespace
	if tns == "" {
		tns = DefaultTillerNamespace
	}
	max := in.MaxRevisions
	if max <= 0 {
		max = DefaultHelm2Revisions
	}
	var res ConvertHelm2Result
	for _, name := range in.Releases {
		conv, kept, err := convertOne(ctx, cs, tns, in.Namespace, name, max)
		if err != nil {
			return res, err
		}
		if conv != "" {
			res.Converted = append(res.Converted, conv)
		}
		if kept != "" {
			res.Kept = append(res.Kept, kept)
		}
	}
	res.Summary = fmt.Sprintf("%d Helm 2 releases written as Helm 3 releases in %s/%s", len(res.Converted), in.Cluster, in.Namespace)
	if len(res.Converted) > 0 {
		res.Summary += ": " + strings.Join(res.Converted, ", ")
	}
	if len(res.Kept) > 0 {
		res.Summary += "; already in Helm 3: " + strings.Join(res.Kept, ", ")
	}
	res.Summary += fmt.Sprintf("; Tiller's records in %s kept until cleanup/tiller-records", tns)
	return res, nil
}

// convertOne converts one release's newest max revisions: "base-service
// r1-r2" converted, and the revisions Helm 3 already had.
func convertOne(ctx context.Context, cs kubernetes.Interface, tillerNS, ns, name string, max int) (string, string, error) {
	recs, err := tillerRecords(ctx, cs, tillerNS, name)
	if err != nil {
		return "", "", err
	}
	store := storage.Init(driver.NewSecrets(cs.CoreV1().Secrets(ns)))
	if len(recs) == 0 {
		if _, err := store.Last(name); err == nil {
			return "", name + " (a Helm 3 release, no Tiller record)", nil
		}
		return "", "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s is neither in Tiller's storage (%s) nor a Helm 3 release in %s; "+
			"check helm2.tillerNamespace and the releases: mapping, then abort and start again", name, tillerNS, ns), ErrHelm2Conflict, nil)
	}
	if len(recs) > max {
		recs = recs[len(recs)-max:]
	}
	var conv, kept []int
	for _, r := range recs {
		if r.Release.Namespace != ns {
			return "", "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s revision %d (%s) was deployed in namespace %s, not %s: "+
				"Helm 3 keeps it there; convert it by hand (helm 2to3 convert %s) or check namespace: in the config",
				name, r.Release.Version, r, r.Release.Namespace, ns, name), ErrHelm2Conflict, nil)
		}
		v3, err := helm3Release(r.Release)
		if err != nil {
			return "", "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", r, err), ErrHelm2Conflict, nil)
		}
		if have, err := store.Get(name, v3.Version); err == nil {
			if chartOf(have) != chartOf(v3) {
				return "", "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("Helm 3 already keeps %s revision %d with chart %s, "+
					"but Tiller's %s has chart %s: another release of that name was installed with Helm 3; look (helm history %s -n %s) "+
					"and remove one of them by hand", name, v3.Version, chartOf(have), r, chartOf(v3), name, ns), ErrHelm2Conflict, nil)
			}
			kept = append(kept, v3.Version)
			continue
		}
		if err := store.Create(v3); err != nil && !errors.Is(err, driver.ErrReleaseExists) {
			return "", "", fmt.Errorf("unable to write %s revision %d as a Helm 3 release in %s: %w", name, v3.Version, ns, err)
		}
		conv = append(conv, v3.Version)
	}
	return revisions(name, conv), revisions(name, kept), nil
}

// chartOf is a release's chart as name-version ("agile-service-0.21.0").
func chartOf(r *release.Release) string {
	if r == nil || r.Chart == nil || r.Chart.Metadata == nil {
		return "(none)"
	}
	return r.Chart.Metadata.Name + "-" + r.Chart.Metadata.Version
}

// revisions renders "base-service r1-r3", or "" for none.
func revisions(name string, vs []int) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("%s r%d", name, vs[0])
	}
	return fmt.Sprintf("%s r%d-r%d", name, vs[0], vs[len(vs)-1])
}
