package activities

import (
	"context"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"

	"upgrader/internal/contract"
)

// Helm2CheckInput names the releases a run converts from Helm 2.
type Helm2CheckInput struct {
	Cluster         string `json:"cluster"`
	Namespace       string `json:"namespace"`
	TillerNamespace string `json:"tillerNamespace,omitempty"`
	// Releases are the site's names of every release the run upgrades or
	// deletes.
	Releases []string `json:"releases"`
}

// CheckHelm2Releases is short, yet declares a heartbeat timeout (see heartbeating).
var _ = contract.Declare((*Preflight).CheckHelm2Releases, contract.Options{Heartbeat: callHeartbeat})

// CheckHelm2Releases reads, before anything changes, the Helm 2 records
// (Tiller's ConfigMaps and Secrets in helm2.tillerNamespace, decoded as
// Helm 2 wrote them) of every release the run touches, and says for each
// what convert/helm2-releases will do: convert its newest revisions
// (chart and status shown), keep it (Helm 3 already has it), or stop —
// its newest revision is not DEPLOYED, it was deployed in another
// namespace, or Helm 3 has another release of that name. Its output
// "releases" is the list the conversion gate shows.
func (p *Preflight) CheckHelm2Releases(ctx context.Context, in Helm2CheckInput) (contract.Outcome, error) {
	return heartbeating(ctx, in, p.checkHelm2Releases)
}

func (p *Preflight) checkHelm2Releases(ctx context.Context, in Helm2CheckInput) (contract.Outcome, error) {
	cs, err := p.kubeClient(in.Cluster)
	if err != nil {
		return contract.Outcome{}, err
	}
	tns := in.TillerNamespace
	if tns == "" {
		tns = DefaultTillerNamespace
	}
	recs, err := tillerRecords(ctx, cs, tns, "")
	if err != nil {
		return outcome("helm2", []contract.Check{fail("tiller", tns, p.scrub(err.Error()),
			"check that the worker's kubeconfig (clusters."+in.Cluster+") may list configmaps and secrets in "+tns+", and helm2.tillerNamespace")})
	}
	newest := newestTiller(recs)
	count := map[string]int{}
	for _, r := range recs {
		count[r.Release.Name]++
	}
	store := storage.Init(driver.NewSecrets(cs.CoreV1().Secrets(in.Namespace)))
	checks := []contract.Check{pass("tiller", tns, fmt.Sprintf("%d Helm 2 records of %d releases", len(recs), len(newest)))}
	var list []string
	for _, name := range in.Releases {
		r, ok := newest[name]
		h3, _ := store.Last(name)
		switch {
		case !ok && h3 != nil:
			checks = append(checks, pass("helm2", name, fmt.Sprintf("a Helm 3 release (revision %d), no Tiller record: nothing to convert", h3.Version)))
			continue
		case !ok:
			checks = append(checks, fail("helm2", name, fmt.Sprintf("neither in Tiller's records in %s nor a Helm 3 release in %s", tns, in.Namespace),
				"map it if the site calls it otherwise (releases: {<guide's name>: <its name>}), or set helm2.tillerNamespace to Tiller's namespace"))
			continue
		}
		found := fmt.Sprintf("chart %s, revision %d %s, %d revisions (%s)", r.chart(), r.Release.Version, r.status(), count[name], r)
		switch {
		case r.Release.Namespace != in.Namespace:
			checks = append(checks, fail("helm2", name, found+", deployed in namespace "+r.Release.Namespace,
				fmt.Sprintf("check namespace: in the config (this run's is %s), or convert it by hand (helm 2to3 convert %s)", in.Namespace, name)))
		case r.status() != "DEPLOYED":
			checks = append(checks, fail("helm2", name, found,
				fmt.Sprintf("finish or roll back its last change with Helm 2 first (helm history %s; helm rollback)", name)))
		case h3 != nil && h3.Version >= int(r.Release.Version):
			checks = append(checks, pass("helm2", name, found+fmt.Sprintf("; already in Helm 3 (revision %d, chart %s): kept", h3.Version, chartOf(h3))))
		default:
			checks = append(checks, pass("helm2", name, found+": convert/helm2-releases writes it as a Helm 3 release"))
			list = append(list, fmt.Sprintf("  %s: chart %s, revision %d %s", name, r.chart(), r.Release.Version, r.status()))
		}
	}
	out, err := outcome("helm2", checks)
	out.Outputs = map[string]string{"releases": strings.Join(list, "\n")}
	if len(list) == 0 {
		out.Outputs["releases"] = "  (none: every release is already in Helm 3)"
	}
	out.Summary += fmt.Sprintf("; %d Helm 2 releases to convert", len(list))
	return out, err
}
