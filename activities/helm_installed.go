package activities

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"upgrader/internal/contract"
)

// ErrWrongFromVersion: the site is not at the version the config says it
// upgrades from.
const ErrWrongFromVersion = "WrongFromVersion"

// InstalledVersionInput names releases that must be deployed at the
// version a run upgrades from: the config's `from`, checked against the site
// before any step changes it.
type InstalledVersionInput struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// From is the config's from: "0.21" accepts chart 0.21 and 0.21.x.
	From string `json:"from"`
	// Releases are the site's names of releases the from version shows in.
	Releases []string `json:"releases"`
	// TillerNamespace is where a Helm 2 site keeps its releases (Tiller's
	// ConfigMaps); empty: kube-system.
	TillerNamespace string `json:"tillerNamespace,omitempty"`
	// Helm2: the run converts Helm 2 releases first (helm2.convert): a
	// release Tiller keeps is checked as Helm 2 recorded it.
	Helm2 bool `json:"helm2,omitempty"`
}

// CheckInstalledVersion heartbeats from the shared ticker while it reads the releases:
// a lost worker is noticed after the heartbeat timeout, not the try's whole
// start-to-close.
var _ = contract.Declare((*Helm).CheckInstalledVersion, contract.Options{Heartbeat: callHeartbeat})

// CheckInstalledVersion reports, all at once, every release that is not
// deployed at a chart version of the run's from version, and stops the run
// (for a person) before anything changes: a config copied from another
// site, or a guide for another version, is found here, not half-way.
func (h *Helm) CheckInstalledVersion(ctx context.Context, in InstalledVersionInput) (out contract.Outcome, err error) {
	err = whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		out, err = h.checkInstalledVersion(ctx, in)
		return err
	})
	return out, err
}

func (h *Helm) checkInstalledVersion(ctx context.Context, in InstalledVersionInput) (contract.Outcome, error) {
	cfg, err := h.config(in.Cluster, in.Namespace)
	if err != nil {
		return contract.Outcome{}, err
	}
	var wrong, seen []string
	for _, n := range in.Releases {
		rel, err := lastRevision(cfg, in.Cluster, in.Namespace, n)
		switch {
		case err != nil:
			return contract.Outcome{}, err
		case (rel == nil || rel.Info.Status == release.StatusUninstalled) && in.Helm2:
			w, s, err := helm2Version(ctx, cfg, in, n)
			if err != nil {
				return contract.Outcome{}, err
			}
			wrong, seen = append(wrong, w...), append(seen, s...)
		case rel == nil || rel.Info.Status == release.StatusUninstalled:
			if v2 := tillerRelease(ctx, cfg, in.TillerNamespace, n); v2 != "" {
				wrong = append(wrong, fmt.Sprintf("%s is a Helm 2 release (%s); the steps use Helm 3: let the run convert the site's "+
					"Helm 2 releases (helm2: {convert: true} in the config; a gated step), or convert them first (helm 2to3 convert %s)", n, v2, n))
			} else {
				wrong = append(wrong, n+" is not installed (no Helm 3 release of that name)")
			}
		case rel.Chart == nil || rel.Chart.Metadata == nil:
			wrong = append(wrong, n+" has no chart version")
		default:
			v := strings.TrimPrefix(rel.Chart.Metadata.Version, "v")
			if v != in.From && !strings.HasPrefix(v, in.From+".") {
				wrong = append(wrong, fmt.Sprintf("%s is at chart %s", n, rel.Chart.Metadata.Version))
			} else {
				seen = append(seen, n+" "+v)
			}
		}
	}
	if len(wrong) > 0 {
		return contract.Outcome{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the config says this site is at %s, but in %s/%s %s; nothing was changed: check from: in the config, "+
				"the cluster and namespace, and that this is the guide for your version, then abort and start again",
			in.From, in.Cluster, in.Namespace, strings.Join(wrong, "; ")), ErrWrongFromVersion, nil)
	}
	return contract.Outcome{Summary: fmt.Sprintf("the site is at %s: %s", in.From, strings.Join(seen, ", "))}, nil
}

// helm2Version checks release n as Tiller's newest record of it has it:
// deployed in the run's namespace at a chart of from.
func helm2Version(ctx context.Context, cfg *action.Configuration, in InstalledVersionInput, n string) (wrong, seen []string, err error) {
	cs, err := cfg.KubernetesClientSet()
	if err != nil {
		return nil, nil, fmt.Errorf("unable to reach cluster %s: %w", in.Cluster, err)
	}
	tns := in.TillerNamespace
	if tns == "" {
		tns = DefaultTillerNamespace
	}
	recs, err := tillerRecords(ctx, cs, tns, n)
	if err != nil {
		return nil, nil, err
	}
	r, ok := newestTiller(recs)[n]
	v := strings.TrimPrefix(r.chartVersion(), "v")
	switch {
	case !ok:
		return []string{fmt.Sprintf("%s is not installed (no Helm 3 release of that name, no Tiller record in %s)", n, tns)}, nil, nil
	case r.Release.Namespace != in.Namespace:
		return []string{fmt.Sprintf("%s is a Helm 2 release deployed in namespace %s (%s)", n, r.Release.Namespace, r)}, nil, nil
	case r.status() != "DEPLOYED":
		return []string{fmt.Sprintf("%s is a Helm 2 release whose revision %d is %s (%s)", n, r.Release.Version, r.status(), r)}, nil, nil
	case v != in.From && !strings.HasPrefix(v, in.From+"."):
		return []string{fmt.Sprintf("%s is at chart %s (Helm 2, %s)", n, r.chartVersion(), r)}, nil, nil
	}
	return nil, []string{n + " " + v + " (Helm 2)"}, nil
}

// tillerRelease describes a release Helm 2 keeps for name ("version 3,
// DEPLOYED, in Tiller's ConfigMap kube-system/agile-service.v3"), empty when
// there is none. Helm 2 stores each revision as a ConfigMap labelled
// OWNER=TILLER, NAME, VERSION and STATUS in Tiller's namespace
// (helm/helm v2.17 pkg/storage/driver/cfgmaps.go, newConfigMapsObject).
// A Helm 2 site is invisible to Helm 3's storage: without this, its
// releases look "not installed" and a guide would install beside them.
func tillerRelease(ctx context.Context, cfg *action.Configuration, ns, name string) string {
	if ns == "" {
		ns = "kube-system"
	}
	cs, err := cfg.KubernetesClientSet()
	if err != nil {
		return ""
	}
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: "OWNER=TILLER,NAME=" + name})
	if err != nil || len(cms.Items) == 0 {
		return ""
	}
	newest := cms.Items[0]
	for _, cm := range cms.Items[1:] {
		a, _ := strconv.Atoi(cm.Labels["VERSION"])
		b, _ := strconv.Atoi(newest.Labels["VERSION"])
		if a > b {
			newest = cm
		}
	}
	return fmt.Sprintf("version %s, %s, in Tiller's ConfigMap %s/%s", newest.Labels["VERSION"], newest.Labels["STATUS"], ns, newest.Name)
}
