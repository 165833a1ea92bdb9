package workflows

import (
	"fmt"
	"slices"
	"strings"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/workflows/runbook"
)

// ChoerodonHelm2 is for a site whose releases Tiller (Helm 2) keeps. Both
// guides are written for Helm 2 (helm delete --purge, helm install --name);
// the steps use Helm 3, which does not see Tiller's records. Without
// convert, preflight refuses such a site before anything changes (it names
// the Helm 2 releases); with it, the plan converts them first, as the 2to3
// plugin does. It is a switch in the config, not a discovery at run time,
// so `starter plan` shows every step the run will take.
type ChoerodonHelm2 struct {
	// Convert adds three steps: preflight/helm2-releases (the guide's
	// releases Tiller keeps, their charts and revisions), convert/helm2-releases
	// (after the values backup, once a person approves the list: each
	// written as a Helm 3 release, workloads and Tiller's records
	// untouched) and, after verify/releases, cleanup/tiller-records (once a
	// person approves: the converted releases' Tiller records removed).
	Convert bool `mapstructure:"convert" json:"convert,omitempty"`
	// TillerNamespace is where Tiller keeps its records (--tiller-namespace;
	// default kube-system).
	TillerNamespace string `mapstructure:"tillerNamespace" json:"tillerNamespace,omitempty"`
}

// The Helm 2 steps' names.
const (
	helm2Preflight = "preflight/helm2-releases"
	helm2Convert   = "convert/helm2-releases"
	helm2Cleanup   = "cleanup/tiller-records"
)

// The Helm 2 steps' sections, in both guides' maps: only a Helm 2 site
// (helm2.convert) has steps in them.
var (
	helm2Section = runbook.Section{ID: "helm2", Title: "Helm 2 releases converted to Helm 3, once a person approves the list (ours: the guide is written for Helm 2)",
		NotAutomated: "only a Helm 2 site has anything to convert: with helm2.convert, convert/helm2-releases does it; a Helm 3 site has no step here"}
	helm2CleanupSection = runbook.Section{ID: "helm2-cleanup", Title: "Tiller's records of the converted releases removed, once a person approves (ours)",
		NotAutomated: "only a Helm 2 site (helm2.convert) has Tiller records; cleanup/tiller-records removes them after verify/releases"}
)

func (h ChoerodonHelm2) validate(p *config.Problems) {
	if h.TillerNamespace != "" {
		checkLabel(p, "helm2.tillerNamespace", h.TillerNamespace, "namespace")
	}
}

// tillerNamespace is the Tiller namespace the steps read, empty when the
// run does not convert (the steps then read Helm 3's storage only).
func (p *c7nPlan) tillerNamespace() string {
	if !p.site.Helm2.Convert {
		return ""
	}
	if p.site.Helm2.TillerNamespace != "" {
		return p.site.Helm2.TillerNamespace
	}
	return activities.DefaultTillerNamespace
}

// preflightHelm2 reads, before anything changes, the Helm 2 records of
// the releases the run touches (filled in by finishHelm2).
func (p *c7nPlan) preflightHelm2() {
	if !p.site.Helm2.Convert {
		return
	}
	p.add(runbook.Step{Name: helm2Preflight, Kind: runbook.KindCheck,
		Summary: fmt.Sprintf("read Tiller's records in %s (Helm 2) of the releases this run touches: what %s will convert, with their charts",
			p.tillerNamespace(), helm2Convert),
		Activity: preflight.CheckHelm2Releases,
		Input:    activities.Helm2CheckInput{Cluster: p.site.Cluster, Namespace: p.site.Namespace, TillerNamespace: p.tillerNamespace()}})
}

// convertHelm2 adds the conversion, after the values backup (which reads
// Tiller's records) and before anything is deleted or upgraded: a person
// approves the list preflight/helm2-releases found.
func (p *c7nPlan) convertHelm2() {
	if !p.site.Helm2.Convert {
		return
	}
	p.add(runbook.Step{Name: helm2Convert, Kind: runbook.KindHelm,
		Summary: fmt.Sprintf("write the site's Helm 2 releases as Helm 3 releases in %s (as helm 2to3 convert), once a person approves; "+
			"Tiller's records in %s are kept", p.site.Namespace, p.tillerNamespace()),
		Activity: helm.ConvertHelm2,
		Input:    activities.ConvertHelm2Input{Cluster: p.site.Cluster, Namespace: p.site.Namespace, TillerNamespace: p.tillerNamespace()},
		Gate: &runbook.Gate{Prompt: fmt.Sprintf("This site's releases are Helm 2 releases (Tiller's records in %s); the steps use Helm 3. "+
			"Convert the releases listed below to Helm 3 (each written as a Helm 3 release in %s with the same name, revisions, chart, values "+
			"and manifest, as helm 2to3 convert does)? The workloads are not touched and Tiller's records are kept until %s, after the "+
			"upgrade is verified. Reject to stop the run here, before anything is deleted or upgraded.", p.tillerNamespace(), p.site.Namespace, helm2Cleanup),
			RemindAfter: p.site.GateRemindAfter.D(), Show: []string{helm2Preflight}},
		Requires: []string{"backup-values/all"}})
}

// cleanupTiller adds the removal of the converted releases' Tiller
// records, after verify/releases, once a person approves; a rejection
// keeps them and the run completes.
func (p *c7nPlan) cleanupTiller() {
	if !p.site.Helm2.Convert {
		return
	}
	p.add(runbook.Step{Name: helm2Cleanup, Kind: runbook.KindHelm,
		Summary:  fmt.Sprintf("delete Tiller's records in %s of the releases %s converted, once a person approves", p.tillerNamespace(), helm2Convert),
		Activity: helm.RemoveTillerRecords,
		Input:    activities.RemoveTillerRecordsInput{Cluster: p.site.Cluster, Namespace: p.site.Namespace, TillerNamespace: p.tillerNamespace()},
		Gate: &runbook.Gate{Prompt: fmt.Sprintf("The upgrade is verified on Helm 3. Delete Tiller's records in %s of the releases %s converted "+
			"(helm 2to3 cleanup, for these releases only)? Helm 2 will no longer list them; Tiller itself and other releases' records are left. "+
			"Reject to keep them (the run completes either way).", p.tillerNamespace(), helm2Convert),
			RemindAfter: p.site.GateRemindAfter.D(), SkipOnReject: true},
		Requires: []string{helm2Convert, "verify/releases"}})
}

// finishHelm2 fills the Helm 2 steps with every release the plan upgrades
// (it must exist) or deletes, and makes each of those steps require the
// conversion: an operator's skip of it would otherwise let a delete pass
// as "not installed" beside a running Helm 2 release.
func (p *c7nPlan) finishHelm2() {
	if !p.site.Helm2.Convert {
		return
	}
	var names []string
	var users []int
	for i, s := range p.steps {
		switch v := s.Input.(type) {
		case activities.HelmUninstallInput:
			names, users = appendNew(names, v.Release), append(users, i)
		case activities.HelmUpgradeInput:
			if v.MustExist {
				names, users = appendNew(names, v.Release), append(users, i)
			}
		}
	}
	for _, i := range users {
		if !slices.Contains(p.steps[i].Requires, helm2Convert) {
			p.steps[i].Requires = append(slices.Clone(p.steps[i].Requires), helm2Convert)
		}
	}
	for i := range p.steps {
		switch v := p.steps[i].Input.(type) {
		case activities.Helm2CheckInput:
			v.Releases = names
			p.steps[i].Input = v
		case activities.ConvertHelm2Input:
			v.Releases = names
			p.steps[i].Input = v
			p.steps[i].Summary += ": " + strings.Join(names, ", ")
		case activities.RemoveTillerRecordsInput:
			v.Releases = names
			p.steps[i].Input = v
		}
	}
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// helm2Access is what the Helm 2 steps do in Tiller's namespace: read its
// records (ConfigMaps, or Secrets with --storage=secret) and, at
// cleanup/tiller-records, delete them.
func helm2Access(tns string) []activities.KubeAccess {
	return []activities.KubeAccess{
		{Verbs: []string{"get", "list", "delete"}, Resource: "configmaps", Namespace: tns, Why: "Tiller keeps its release records there"},
		{Verbs: []string{"get", "list", "delete"}, Resource: "secrets", Namespace: tns, Why: "Tiller's records with --storage=secret"},
	}
}
