package activities

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/yaml"

	"upgrader/config"
	"upgrader/internal/contract"
)

// HelmUpgradeInput is `helm upgrade --install`.
type HelmUpgradeInput struct {
	Cluster   string   `json:"cluster"`
	Namespace string   `json:"namespace"`
	Release   string   `json:"release"`
	Chart     ChartRef `json:"chart"`
	// Values are the guide's values file, templated from config (no secret
	// values: those go in SetSecrets).
	Values map[string]any `json:"values,omitempty"`
	// Set are --set pairs, applied after Values.
	Set []string `json:"set,omitempty"`
	// SetSecrets maps --set paths to secret names, resolved on the worker.
	SetSecrets map[string]string `json:"setSecrets,omitempty"`
	// Overrides are the site's own values for this release (from the
	// upgrade config), applied after Values and Set: the operator's word
	// wins over the guide's defaults.
	Overrides map[string]any `json:"overrides,omitempty"`
	// ReuseValues starts from the release's current values, as the guides'
	// `-f <(helm get values X)` does.
	ReuseValues bool `json:"reuseValues,omitempty"`
	// MustExist refuses to install a missing release: the guide upgrades
	// it (`helm upgrade`, no --install), so a missing one means the config
	// names the wrong release or namespace.
	MustExist       bool              `json:"mustExist,omitempty"`
	CreateNamespace bool              `json:"createNamespace,omitempty"`
	Wait            bool              `json:"wait,omitempty"`
	Timeout         contract.Duration `json:"timeout,omitempty"`
}

// UpgradeInstall heartbeats while helm blocks (pre-upgrade hook Jobs,
// --wait): a real chart's database-init hook runs for minutes, so the
// heartbeat timeout is short and a lost worker is noticed in seconds.
var _ = contract.Declare((*Helm).UpgradeInstall, contract.Options{Heartbeat: 20 * time.Second})

// HelmUpgradeProgress is what an UpgradeInstall try reports in its
// heartbeats: the revision it started, so the next try of the same step can
// tell a revision its dead predecessor left pending from someone else's.
type HelmUpgradeProgress struct {
	Release  string    `json:"release"`
	Revision int       `json:"revision"`
	Started  time.Time `json:"started"`
}

// UpgradeInstall installs the release when it is missing (or was
// uninstalled) and upgrades it otherwise, like helm's own CLI (whose
// Upgrade with Install=true does not install by itself). When the release
// is already deployed at this chart version with these values it does
// nothing, so a retry after a lost worker never upgrades twice.
//
// The revision a try starts carries labels naming the run, step and try
// (helm_pending.go). A release left pending by an earlier try of this same
// step (its worker died while helm waited) is unlocked and upgraded once
// more; a release pending for any other reason stops the step
// (HelmPending) with whose operation it is and since when.
func (h *Helm) UpgradeInstall(ctx context.Context, in HelmUpgradeInput) (HelmReleaseResult, error) {
	var progress Progress
	var res HelmReleaseResult
	err := whileHeartbeating(ctx, &progress, func(ctx context.Context) error {
		var err error
		res, err = h.upgradeInstall(ctx, in, &progress)
		return err
	})
	return res, err
}

func (h *Helm) upgradeInstall(ctx context.Context, in HelmUpgradeInput, progress *Progress) (HelmReleaseResult, error) {
	ch, _, err := h.loadChart(in.Chart)
	if err != nil {
		return HelmReleaseResult{}, err
	}
	cfg, err := h.config(in.Cluster, in.Namespace)
	if err != nil {
		return HelmReleaseResult{}, err
	}
	current, err := cfg.Releases.Last(in.Release)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		current, err = nil, nil
	}
	if err != nil {
		return HelmReleaseResult{}, fmt.Errorf("unable to read the history of %s in %s/%s: %w; check the cluster is reachable, then retry",
			in.Release, in.Cluster, in.Namespace, err)
	}
	install := current == nil || current.Info.Status == release.StatusUninstalled
	if install && in.MustExist {
		return HelmReleaseResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"release %s is not installed in %s/%s, and the guide upgrades it rather than installing it; "+
				"if it was installed under another name, set releases.%s in the upgrade config, then retry",
			in.Release, in.Cluster, in.Namespace, in.Release), contract.ErrPrecondition, nil)
	}
	owner := helmOwnerOf(ctx)
	unlocked := ""
	if !install && current.Info.Status.IsPending() {
		var prior HelmUpgradeProgress
		if !priorProgress(ctx, &prior) || prior.Release != in.Release {
			prior = HelmUpgradeProgress{}
		}
		if !owner.leftBy(current, prior) {
			return HelmReleaseResult{}, pendingError(cfg, in, current)
		}
		unlocked = fmt.Sprintf("; revision %d, left %s by an earlier try of this step, was marked failed first",
			current.Version, pendingStatus(current))
		if err := unlock(cfg, current, owner); err != nil {
			return HelmReleaseResult{}, err
		}
	}

	vals := map[string]any{}
	if in.ReuseValues && current != nil && !install {
		vals = chartutil.CoalesceTables(map[string]any{}, copyValues(current.Config))
	}
	vals = chartutil.CoalesceTables(copyValues(in.Values), vals) // the guide's values win over reused ones
	for _, s := range in.Set {
		if err := strvals.ParseInto(s, vals); err != nil {
			return HelmReleaseResult{}, invalid("--set %q: %v", s, err)
		}
	}
	if len(in.Overrides) > 0 {
		vals = chartutil.CoalesceTables(copyValues(in.Overrides), vals)
	}
	paths := make([]string, 0, len(in.SetSecrets))
	for p := range in.SetSecrets {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		v, err := resolveSecretFor(h.Secrets, in.SetSecrets[p], config.SecretUse{Kind: config.UseHelmValues})
		if err != nil {
			return HelmReleaseResult{}, err
		}
		// ParseIntoString keeps the value a string whatever it looks like.
		if err := strvals.ParseIntoString(p+"="+escapeStrval(v), vals); err != nil {
			return HelmReleaseResult{}, invalid("secret for %s does not fit a --set value", p)
		}
	}

	if !install && current.Info.Status == release.StatusDeployed && current.Chart != nil &&
		current.Chart.Metadata.Version == in.Chart.Version && reflect.DeepEqual(normalize(current.Config), normalize(vals)) {
		return HelmReleaseResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("%s already at %s (revision %d) with these values; nothing to do",
			in.Release, in.Chart.Version, current.Version)}, Release: in.Release, Revision: current.Version,
			Chart: in.Chart.Version, Status: string(current.Info.Status)}, nil
	}

	timeout := in.Timeout.D()
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	// Helm numbers the new revision after the last one, uninstalled ones
	// included; record it before helm writes it, so a try that dies while
	// helm waits has already said which revision is its own.
	revision := 1
	if current != nil {
		revision = current.Version + 1
	}
	progress.Set(HelmUpgradeProgress{Release: in.Release, Revision: revision, Started: time.Now().UTC()})
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, HelmUpgradeProgress{Release: in.Release, Revision: revision, Started: time.Now().UTC()})
	}
	labels := owner.labels(revision)
	run := func(cfg *action.Configuration) (*release.Release, error) {
		if install {
			i := action.NewInstall(cfg)
			i.ReleaseName, i.Namespace, i.CreateNamespace = in.Release, in.Namespace, in.CreateNamespace
			i.Wait, i.Timeout, i.Labels = in.Wait, timeout, labels
			i.Replace = current != nil // reinstall over an uninstalled release's history
			return i.RunWithContext(ctx, ch, vals)
		}
		u := action.NewUpgrade(cfg)
		u.Namespace, u.Wait, u.Timeout, u.MaxHistory, u.Labels = in.Namespace, in.Wait, timeout, 10, labels
		return u.RunWithContext(ctx, in.Release, ch, vals)
	}
	rel, err := run(cfg)
	if isNoMatch(err) && !wroteRevision(cfg, in.Release, current) {
		// A kind the cluster's cached discovery did not know yet (a CRD
		// applied by someone else since): forget what the worker cached
		// of this cluster and try once more. Helm refused before writing
		// a revision, so nothing runs twice.
		h.kubeCache().Invalidate(in.Cluster)
		if cfg, err = h.config(in.Cluster, in.Namespace); err != nil {
			return HelmReleaseResult{}, err
		}
		rel, err = run(cfg)
	}
	if err != nil {
		if strings.Contains(err.Error(), "another operation (install/upgrade/rollback) is in progress") {
			return HelmReleaseResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"release %s: %v; check `helm history %s -n %s`", in.Release, err, in.Release, in.Namespace), ErrHelmPending, nil)
		}
		verb := "upgrade"
		if install {
			verb = "install"
		}
		return HelmReleaseResult{}, fmt.Errorf("unable to %s %s with %s in %s/%s: %w", verb, in.Release, in.Chart, in.Cluster, in.Namespace, err)
	}
	verb := "upgraded"
	if install {
		verb = "installed"
	}
	return HelmReleaseResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("%s %s to %s (revision %d, %s)%s",
		verb, in.Release, in.Chart.Version, rel.Version, rel.Info.Status, unlocked)},
		Release: in.Release, Revision: rel.Version, Chart: in.Chart.Version, Status: string(rel.Info.Status), Changed: true}, nil
}

// isNoMatch says whether helm failed to map a manifest's kind to a
// resource ("resource mapping not found … no matches for kind").
func isNoMatch(err error) bool {
	return err != nil && (meta.IsNoMatchError(err) || strings.Contains(err.Error(), "no matches for kind"))
}

// wroteRevision says whether the release's newest revision is no longer
// current: helm got as far as writing one (or cannot tell).
func wroteRevision(cfg *action.Configuration, name string, current *release.Release) bool {
	last, err := cfg.Releases.Last(name)
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound):
		return current != nil
	case err != nil:
		return true
	}
	return current == nil || last.Version != current.Version
}

// copyValues deep-copies a values map so coalescing never edits the input.
func copyValues(v map[string]any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	b, _ := yaml.Marshal(v)
	out := map[string]any{}
	_ = yaml.Unmarshal(b, &out)
	return out
}

// normalize makes two values maps comparable whatever their number types.
func normalize(v map[string]any) map[string]any { return copyValues(v) }

// escapeStrval escapes what --set syntax treats specially.
func escapeStrval(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `=`, `\=`, `[`, `\[`, `]`, `\]`, `.`, `\.`)
	return r.Replace(s)
}
