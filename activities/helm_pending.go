package activities

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
)

// Labels an UpgradeInstall try puts on the revision it starts (helm keeps
// them on the release's storage Secret): whose operation a pending
// revision is, readable with `kubectl get secret -l owner=helm --show-labels`.
const (
	helmLabelWorkflow = "upgrader.io/workflow" // the run's workflow ID
	helmLabelRun      = "upgrader.io/run"      // the run's Temporal run ID
	helmLabelStep     = "upgrader.io/step"     // the step's name
	helmLabelTry      = "upgrader.io/try"      // <operator try>.<Temporal attempt>
	// helmLabelRevision is the revision the labels were written for: helm
	// copies a release's labels to its next revision, so labels whose
	// revision is not the release's own were copied by someone else's
	// upgrade (helm's CLI keeps them) and say nothing about it.
	helmLabelRevision = "upgrader.io/revision"
)

// helmOwner is one try of one step of one run.
type helmOwner struct {
	Workflow, Run, Step, Try string
}

// helmOwnerOf reads the try from the activity's info: ActivityID is
// "<step>#<operator try>" (workflows/runbook).
func helmOwnerOf(ctx context.Context) helmOwner {
	if !activity.IsActivity(ctx) {
		return helmOwner{}
	}
	info := activity.GetInfo(ctx)
	step, try, _ := strings.Cut(info.ActivityID, "#")
	if try == "" {
		try = "1"
	}
	return helmOwner{Workflow: info.WorkflowExecution.ID, Run: info.WorkflowExecution.RunID, Step: step,
		Try: fmt.Sprintf("%s.%d", try, info.Attempt)}
}

// labels are the labels the revision this try starts carries; none
// outside an activity.
func (o helmOwner) labels(revision int) map[string]string {
	if o.Run == "" {
		return nil
	}
	return map[string]string{helmLabelWorkflow: labelValue(o.Workflow), helmLabelRun: labelValue(o.Run),
		helmLabelStep: labelValue(o.Step), helmLabelTry: labelValue(o.Try), helmLabelRevision: strconv.Itoa(revision)}
}

// leftBy says whether the pending revision rel was started by an earlier
// try of this same step in this same run: its labels say so, or the
// heartbeat details the last attempt left name it. Such a try is gone:
// Temporal starts another attempt only after the last one timed out or
// failed, a timed-out attempt whose worker still lives is cancelled at its
// next heartbeat (and helm then marks its revision failed itself), and
// operator tries run one after the other.
func (o helmOwner) leftBy(rel *release.Release, prior HelmUpgradeProgress) bool {
	if prior.Revision != 0 && prior.Revision == rel.Version {
		return true
	}
	l := rel.Labels
	if o.Run == "" || l[helmLabelRevision] != strconv.Itoa(rel.Version) {
		return false
	}
	return l[helmLabelRun] == labelValue(o.Run) && l[helmLabelStep] == labelValue(o.Step) && l[helmLabelTry] != labelValue(o.Try)
}

// startedBy describes whose operation a pending revision is.
func startedBy(rel *release.Release) string {
	l := rel.Labels
	switch {
	case l[helmLabelRun] == "":
		return "not started by upgrader (the revision carries no upgrader.io labels: helm's CLI, a CI job or another tool)"
	case l[helmLabelRevision] != strconv.Itoa(rel.Version):
		return fmt.Sprintf("not started by upgrader (its upgrader.io labels were copied from revision %s by another tool's upgrade)",
			l[helmLabelRevision])
	default:
		return fmt.Sprintf("started by upgrader: workflow %s, run %s, step %s, try %s",
			l[helmLabelWorkflow], l[helmLabelRun], l[helmLabelStep], l[helmLabelTry])
	}
}

// pendingStatus says how long a revision has been pending.
func pendingStatus(rel *release.Release) string {
	s := string(rel.Info.Status)
	if t := rel.Info.LastDeployed.Time; !t.IsZero() {
		s += fmt.Sprintf(" since %s (%s ago)", t.UTC().Format(time.RFC3339), time.Since(t).Round(time.Second))
	}
	return s
}

// pendingError stops a step at a release pending for a reason that is not
// its own: a person must find out whether that operation still runs.
func pendingError(cfg *action.Configuration, in HelmUpgradeInput, rel *release.Release) error {
	rollback := fmt.Sprintf("`helm rollback %s -n %s` (back to the last deployed revision)", in.Release, in.Namespace)
	if d, err := cfg.Releases.Deployed(in.Release); err == nil {
		rollback = fmt.Sprintf("`helm rollback %s %d -n %s`", in.Release, d.Version, in.Namespace)
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
		"release %s in %s/%s is %s at revision %d, %s: that operation is in progress or died half-way. "+
			"If it still runs, wait for it to end, then retry this step; if it died, mark it failed with %s "+
			"(or let its owner retry it), then retry this step; see `helm history %s -n %s`",
		in.Release, in.Cluster, in.Namespace, pendingStatus(rel), rel.Version, startedBy(rel),
		rollback, in.Release, in.Namespace), ErrHelmPending, nil)
}

// unlockedNote begins the description unlock gives a revision.
const unlockedNote = "Release unlocked from stale '"

// Unlocked says whether rel is a revision unlock marked failed: an earlier
// try of its step died while helm ran it, and the next try upgraded once
// more with the same chart and values, so the release's state is that next
// revision's. Its status alone does not say so: when no revision before it
// was deployed (an install, or an upgrade that died after helm had marked
// the one before it superseded), helm's next upgrade starts from it and
// marks it superseded; its description stays.
func Unlocked(rel *release.Release) bool {
	return rel != nil && rel.Info != nil && strings.HasPrefix(rel.Info.Description, unlockedNote) &&
		strings.Contains(rel.Info.Description, "its try of step")
}

// unlock marks a revision left pending by this step's own dead try as
// failed, so helm lets the upgrade run once more: what fluxcd/helm-controller
// does in internal/reconcile/unlock.go (Unlock.Reconcile: SetStatus failed,
// "Release unlocked from stale '<status>' state", Releases.Update).
func unlock(cfg *action.Configuration, rel *release.Release, by helmOwner) error {
	status := rel.Info.Status
	rel.SetStatus(release.StatusFailed, fmt.Sprintf(unlockedNote+"%s' state: its try of step %s died; upgraded again by try %s",
		status, by.Step, by.Try))
	if err := cfg.Releases.Update(rel); err != nil {
		return fmt.Errorf("unable to unlock %s revision %d (stale %s): %w; retry, or mark it failed with `helm rollback`",
			rel.Name, rel.Version, status, err)
	}
	return nil
}

var labelUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// labelValue makes s a valid Kubernetes label value (at most 63 of
// [A-Za-z0-9._-], alphanumeric at both ends) that still reads like s:
// "upgrade/choerodon-0.21-0.22/lab" → "upgrade_choerodon-0.21-0.22_lab".
func labelValue(s string) string {
	v := labelUnsafe.ReplaceAllString(s, "_")
	if len(v) > 63 {
		v = v[len(v)-63:] // the tail names the step and environment
	}
	return strings.TrimFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
}
