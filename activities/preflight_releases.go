package activities

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"upgrader/internal/contract"
)

// ReleasesCheckInput names every release a run will touch.
type ReleasesCheckInput struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// From is the config's from ("0.21" accepts chart 0.21 and 0.21.x);
	// releases with AtFrom must be at it.
	From     string         `json:"from"`
	Releases []ReleaseNeeds `json:"releases"`
	// Helm2: the run converts Helm 2 releases first (helm2.convert), so a
	// release Tiller keeps in TillerNamespace (empty: kube-system) counts,
	// checked as Helm 2 recorded it.
	Helm2           bool   `json:"helm2,omitempty"`
	TillerNamespace string `json:"tillerNamespace,omitempty"`
}

// ReleaseNeeds is one release a guide upgrades or deletes.
type ReleaseNeeds struct {
	Name  string `json:"name"`  // the site's name
	Guide string `json:"guide"` // the guide's name (the releases: key)
	// AtFrom: its chart version shows the site's version (must equal from).
	AtFrom bool `json:"atFrom,omitempty"`
	// Why the run needs it ("upgraded by upgrade/agile-service").
	Why string `json:"why,omitempty"`
}

// Reads one release history per release: no heartbeat.
// A check is quick, but a worker lost in it (or right before it, the task
// already handed to it) would cost the whole 2-minute try without a
// heartbeat: 15 s, from the shared ticker.
var _ = contract.Declare((*Preflight).CheckReleases, contract.Options{Heartbeat: 15 * time.Second})

// CheckReleases checks, before anything changes, that every release the
// run upgrades or deletes exists in Helm 3's storage, deployed, and (where
// it shows the site's version) at the config's from. A release missing
// under its name and its releases: mapping, one Helm 2 still holds
// (Tiller's ConfigMaps or Secrets, OWNER=TILLER, any namespace), one left
// failed or pending, and one at another version are each a failed row
// naming the fix. Found now, not at step 39 after the deletes.
func (p *Preflight) CheckReleases(ctx context.Context, in ReleasesCheckInput) (contract.Outcome, error) {
	var out contract.Outcome
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		var err error
		out, err = p.checkReleases(ctx, in)
		return err
	})
	return out, err
}

func (p *Preflight) checkReleases(ctx context.Context, in ReleasesCheckInput) (contract.Outcome, error) {
	cs, err := p.kubeClient(in.Cluster)
	if err != nil {
		return contract.Outcome{}, err
	}
	target := in.Cluster + "/" + in.Namespace
	store := storage.Init(driver.NewSecrets(cs.CoreV1().Secrets(in.Namespace)))
	all, err := store.ListReleases()
	if err != nil {
		return outcome("releases", []contract.Check{fail("cluster", target, p.scrub(fmt.Sprintf("unable to list Helm releases: %v", err)),
			"check that the cluster answers and the worker's kubeconfig (clusters."+in.Cluster+") may read secrets in "+in.Namespace)})
	}
	newest := map[string]*release.Release{}
	for _, r := range all {
		if cur := newest[r.Name]; cur == nil || r.Version > cur.Version {
			newest[r.Name] = r
		}
	}
	tiller := p.tillerReleases(ctx, cs)
	checks := []contract.Check{pass("cluster", target, fmt.Sprintf("answers; %d Helm 3 releases in %s", len(newest), in.Namespace))}
	var helm2 map[string]tillerRecord
	if in.Helm2 {
		tns := in.TillerNamespace
		if tns == "" {
			tns = DefaultTillerNamespace
		}
		recs, err := tillerRecords(ctx, cs, tns, "")
		if err != nil {
			checks = append(checks, fail("tiller", tns, p.scrub(err.Error()), "check that the worker may list configmaps and secrets in "+tns))
		}
		helm2 = newestTiller(recs)
	}
	for _, need := range in.Releases {
		if r, ok := helm2[need.Name]; ok && (newest[need.Name] == nil || newest[need.Name].Info == nil ||
			newest[need.Name].Info.Status == release.StatusUninstalled) {
			checks = append(checks, helm2Row(in, need, r))
			continue
		}
		checks = append(checks, releaseRow(in, need, newest, tiller))
	}
	return outcome("releases", checks)
}

func releaseRow(in ReleasesCheckInput, need ReleaseNeeds, newest map[string]*release.Release, tiller map[string]string) contract.Check {
	key := "releases." + need.Guide
	mapped := ""
	if need.Name != need.Guide {
		mapped = fmt.Sprintf(" (%s: %s)", key, need.Name)
	}
	r := newest[need.Name]
	if r == nil || r.Info == nil || r.Info.Status == release.StatusUninstalled {
		if v2, ok := tiller[need.Name]; ok {
			return fail("release", need.Name, fmt.Sprintf("a Helm 2 release (%s), invisible to the Helm 3 steps", v2),
				fmt.Sprintf("let the run convert the site's Helm 2 releases (helm2: {convert: true, tillerNamespace: <Tiller's>} in the config; "+
					"a gated step), or convert them first (helm 2to3 convert %s)", need.Name))
		}
		names := make([]string, 0, len(newest))
		for n := range newest {
			names = append(names, n)
		}
		sort.Strings(names)
		helm2 := ""
		if len(tiller) > 0 {
			v2 := make([]string, 0, len(tiller))
			for n := range tiller {
				v2 = append(v2, n)
			}
			sort.Strings(v2)
			helm2 = "; Helm 2 (Tiller's records): " + strings.Join(v2, ", ")
		}
		return fail("release", need.Name, fmt.Sprintf("not installed in %s/%s%s; %s; installed there: %s%s", in.Cluster, in.Namespace, mapped,
			need.Why, strings.Join(names, ", "), helm2),
			fmt.Sprintf("if the site calls it otherwise, map it in the config (releases: {%s: <its name>}); check cluster and namespace", need.Guide))
	}
	v := ""
	if r.Chart != nil && r.Chart.Metadata != nil {
		v = strings.TrimPrefix(r.Chart.Metadata.Version, "v")
	}
	found := fmt.Sprintf("revision %d %s, chart %s%s", r.Version, r.Info.Status, v, mapped)
	if r.Info.Status != release.StatusDeployed {
		return fail("release", need.Name, found,
			fmt.Sprintf("finish or roll back its last change first (helm history %s -n %s; helm rollback)", need.Name, in.Namespace))
	}
	if need.AtFrom && in.From != "" && v != in.From && !strings.HasPrefix(v, in.From+".") {
		return fail("release", need.Name, found+fmt.Sprintf(", not at %s", in.From),
			fmt.Sprintf("this site is not at from: %q; use the guide for its version, or check from: and the namespace", in.From))
	}
	return pass("release", need.Name, found)
}

// helm2Row checks a release Tiller keeps, as Helm 2 recorded it: its
// newest revision deployed in the run's namespace, at from where it shows
// the site's version.
func helm2Row(in ReleasesCheckInput, need ReleaseNeeds, r tillerRecord) contract.Check {
	mapped := ""
	if need.Name != need.Guide {
		mapped = fmt.Sprintf(" (releases.%s: %s)", need.Guide, need.Name)
	}
	v := strings.TrimPrefix(r.chartVersion(), "v")
	found := fmt.Sprintf("Helm 2 revision %d %s, chart %s%s, in %s", r.Release.Version, r.status(), v, mapped, r)
	switch {
	case r.Release.Namespace != in.Namespace:
		return fail("release", need.Name, found+", deployed in namespace "+r.Release.Namespace,
			fmt.Sprintf("check namespace: in the config (this run's is %s)", in.Namespace))
	case r.status() != "DEPLOYED":
		return fail("release", need.Name, found,
			fmt.Sprintf("finish or roll back its last change with Helm 2 first (helm history %s; helm rollback)", need.Name))
	case need.AtFrom && in.From != "" && v != in.From && !strings.HasPrefix(v, in.From+"."):
		return fail("release", need.Name, found+fmt.Sprintf(", not at %s", in.From),
			fmt.Sprintf("this site is not at from: %q; use the guide for its version, or check from: and the namespace", in.From))
	}
	return pass("release", need.Name, found+"; convert/helm2-releases makes it a Helm 3 release")
}

// tillerReleases lists the releases Helm 2 keeps (Tiller's ConfigMaps or
// Secrets labelled OWNER=TILLER, in any namespace): name → "version 3,
// DEPLOYED, in ConfigMap kube-system/agile-service.v3" (helm/helm v2.17
// pkg/storage/driver/cfgmaps.go and secrets.go, newConfigMapsObject).
// A cluster that refuses the list leaves it empty.
func (p *Preflight) tillerReleases(ctx context.Context, cs kubernetes.Interface) map[string]string {
	out := map[string]string{}
	best := map[string]int{}
	add := func(kind string, objs []metav1.ObjectMeta) {
		for _, o := range objs {
			n := o.Labels["NAME"]
			v, _ := strconv.Atoi(o.Labels["VERSION"])
			if n == "" || v < best[n] {
				continue
			}
			best[n] = v
			out[n] = fmt.Sprintf("version %d, %s, in %s %s/%s", v, o.Labels["STATUS"], kind, o.Namespace, o.Name)
		}
	}
	sel := metav1.ListOptions{LabelSelector: "OWNER=TILLER"}
	if cms, err := cs.CoreV1().ConfigMaps("").List(ctx, sel); err == nil {
		metas := make([]metav1.ObjectMeta, len(cms.Items))
		for i, c := range cms.Items {
			metas[i] = c.ObjectMeta
		}
		add("ConfigMap", metas)
	}
	if ss, err := cs.CoreV1().Secrets("").List(ctx, sel); err == nil {
		metas := make([]metav1.ObjectMeta, len(ss.Items))
		for i, c := range ss.Items {
			metas[i] = c.ObjectMeta
		}
		add("Secret", metas)
	}
	return out
}
