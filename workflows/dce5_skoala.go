package workflows

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/workflows/runbook"
)

// SkoalaGuide is 「在线升级微服务引擎」 (../shared/seeds/003_f3ceb0778e4ca616.txt;
// DaoCloud/DaoCloud-docs docs/zh/docs/skoala/quickstart/online-upgrade.md):
// DCE 5.0's microservice engine is skoala in the control-plane cluster and
// skoala-init in every worker cluster, and the two must end at one version.
// By hand it is the same five commands N times with one hard-coded
// kubeconfig; here each cluster's steps bind that cluster's own credential,
// a canary worker goes first, and the rest go side by side.
var SkoalaGuide = runbook.Guide{Name: "dce5-skoala", Title: "DCE 5.0 微服务引擎 (skoala) online upgrade",
	Map: []runbook.Section{
		{ID: "arch", Title: "Two components: skoala on the control plane, skoala-init on every worker cluster"},
		{ID: "note", Title: "Upgrade both together, or the versions are incompatible",
			Anywhere: "a caution given up front: a person confirms both components and every cluster at approve/clusters before anything changes, and verify/end-state checks one version everywhere at the end"},
		{ID: "notes", Title: "Read the target version's release notes",
			NotAutomated: "a person reads them; what they decide goes in the config (dbUpgrade.when: always, imageTags, applyCRDs) and is confirmed at approve/clusters"},
		{ID: "cp", Title: "skoala, in the control-plane cluster", Heading: "升级 skoala 组件",
			NotAutomated: "a heading: its steps are cp1–cp5"},
		{ID: "cp1", Title: "Upgrade the database skoala depends on (optional: required from below 0.19.0)", Heading: "升级依赖的数据库(可选)"},
		{ID: "cp2", Title: "Back up skoala's values"},
		{ID: "cp3", Title: "Add the skoala Helm repository: the charts at hand, once for every cluster"},
		{ID: "cp4", Title: "Update the Helm repository",
			NotAutomated: "charts are fetched by exact version (preflight/charts, with cp3); there is no local index to refresh"},
		{ID: "cp5", Title: "helm upgrade --install skoala with the backed-up values and the version's image tags"},
		{ID: "w", Title: "skoala-init, once in every worker cluster (canary first, then the rest side by side)", Heading: "升级 skoala-init 组件",
			Anywhere: "「在每个工作集群中各执行一次」: the canary gate sits between the canary cluster's w1–w5 and the other clusters'"},
		{ID: "w1", Title: "Back up skoala-init's values (per cluster)", Anywhere: skoalaPerCluster},
		{ID: "w2", Title: "Add the skoala Helm repository",
			NotAutomated: "the worker's chart repositories serve every cluster: done once by preflight/charts (cp3)"},
		{ID: "w3", Title: "Update the Helm repository",
			NotAutomated: "as cp4: charts are fetched by exact version"},
		{ID: "w4", Title: "helm upgrade --install skoala-init with the backed-up values and the version's image tags (per cluster)",
			Anywhere: skoalaPerCluster},
		{ID: "w5", Title: "Update the CRDs helm does not upgrade (the guide: by hand; here diffed in preflight, applied per cluster)",
			Anywhere: skoalaPerCluster + "; the control plane's chart CRDs are compared and applied the same way, right after its upgrade"},
	}}

// skoalaSpec describes the guide to the worker and the starter (guides.go lists it).
var skoalaSpec = Spec{
	Guide:        SkoalaGuide,
	WorkflowType: "DCE5SkoalaUpgrade",
	Workflow:     DCE5SkoalaUpgrade,
	Seed:         "003_f3ceb0778e4ca616.txt",
	NewInput:     func() Input { in := NewSkoalaInput(); return &in },
	Example:      "config/examples/dce5-skoala.yaml",
}

// skoalaPerCluster is why the worker sections recur: each cluster's lane
// runs them in order, one cluster after another.
const skoalaPerCluster = "once per worker cluster (「在每个工作集群中各执行一次」): each cluster's lane runs w1 → w4 → w5, so the sections recur"

// The guide's fixed names.
const (
	skoalaRelease     = "skoala"
	skoalaInitRelease = "skoala-init"
	// skoalaDBJobFrom: 「如果从低于 0.19.0 的微服务引擎版本升级到 0.19.0，则必须执行此步骤」.
	skoalaDBJobFrom = "0.19.0"
)

// skoalaSweet is the guide's job.yaml block, every value fixed
// (「固定值，无需修改」): the job upgrades the schema from 0.17.0 with the
// v0.19.0 tool.
var skoalaSweet = map[string]string{"type": "UPGRADE", "target": "0.17.0", "tag": "v0.19.0"}

// SkoalaInput configures one DCE 5.0 installation's skoala upgrade.
type SkoalaInput struct {
	runbook.Target `mapstructure:",squash" json:",inline"`
	// ControlPlane names the control-plane (global) cluster on the worker
	// (clusters: in worker.yaml): skoala runs there.
	ControlPlane string `mapstructure:"controlPlane" json:"controlPlane"`
	// Workers name the worker clusters on the worker (clusters:), each
	// also its name in kpanda: skoala-init runs in each.
	Workers []string `mapstructure:"workers" json:"workers"`
	// Canary is the worker upgraded first, alone, before a person lets the
	// others go; empty: the first of workers.
	Canary string `mapstructure:"canary" json:"canary,omitempty"`
	// Parallelism is how many worker clusters (after the canary) are
	// upgraded at once.
	Parallelism int `mapstructure:"parallelism" json:"parallelism"`
	// Namespace of both releases (skoala-system).
	Namespace string `mapstructure:"namespace" json:"namespace"`
	// ChartRepo names the chart repository on the worker (skoala).
	ChartRepo string `mapstructure:"chartRepo" json:"chartRepo"`
	// ImageTags are the values set to v<to>: the guide's for 0.19.x;
	// later versions add keys (ui.image.tag, seata-operator.image.tag).
	ImageTags SkoalaImageTags `mapstructure:"imageTags" json:"imageTags"`
	// DBUpgrade is the guide's optional step 1.
	DBUpgrade SkoalaDBUpgrade `mapstructure:"dbUpgrade" json:"dbUpgrade"`
	// ApplyCRDs applies the chart's changed CRDs after each cluster's
	// upgrade (server-side, in place); false leaves them to a person.
	ApplyCRDs bool `mapstructure:"applyCRDs" json:"applyCRDs"`
	// CheckKpanda lists kpanda's Cluster objects on the control plane, so
	// a managed worker the config forgot is seen at the first gate.
	CheckKpanda bool `mapstructure:"checkKpanda" json:"checkKpanda"`
	// HelmTimeout bounds one upgrade, its workloads' readiness included.
	HelmTimeout contract.Duration `mapstructure:"helmTimeout" json:"helmTimeout"`
	// GateRemindAfter makes a gate log a reminder this often while nobody answers.
	GateRemindAfter contract.Duration `mapstructure:"gateRemindAfter" json:"gateRemindAfter,omitempty"`
}

// SkoalaImageTags are the value keys set to the target's image tag.
type SkoalaImageTags struct {
	Skoala     []string `mapstructure:"skoala" json:"skoala"`
	SkoalaInit []string `mapstructure:"skoalaInit" json:"skoalaInit"`
}

// SkoalaDBUpgrade is the job the guide applies before skoala's upgrade.
type SkoalaDBUpgrade struct {
	// When: auto (from below 0.19.0 to 0.19.0 or later, as the guide
	// says), always (the target's release notes ask for it) or never.
	When string `mapstructure:"when" json:"when"`
	// JobFile is DaoCloud's job.yaml on the worker, with the guide's sweet
	// block; JobName the Job it holds.
	JobFile string `mapstructure:"jobFile" json:"jobFile,omitempty"`
	JobName string `mapstructure:"jobName" json:"jobName,omitempty"`
	// Timeout bounds the wait for the Job to complete.
	Timeout contract.Duration `mapstructure:"timeout" json:"timeout"`
}

// NewSkoalaInput returns the guide's defaults.
func NewSkoalaInput() SkoalaInput {
	return SkoalaInput{
		Parallelism: 4,
		Namespace:   "skoala-system",
		ChartRepo:   "skoala",
		ImageTags: SkoalaImageTags{
			Skoala:     []string{"hive.image.tag", "sesame.image.tag"},
			SkoalaInit: []string{"nacos-operator.image.tag", "skoala-agent.image.tag", "sentinel-operator.image.tag"},
		},
		DBUpgrade:       SkoalaDBUpgrade{When: "auto", JobName: "skoala-db-upgrade", Timeout: contract.Duration(30 * time.Minute)},
		ApplyCRDs:       true,
		CheckKpanda:     true,
		HelmTimeout:     contract.Duration(15 * time.Minute),
		GateRemindAfter: contract.Duration(time.Hour),
	}
}

// GetTarget implements Input.
func (in *SkoalaInput) GetTarget() *runbook.Target { return &in.Target }

var (
	// fromVersion is an installed version: 0.18 (any 0.18.x) or 0.18.2.
	fromVersion = regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?$`)
	// valueKey is a dotted values path --set can take with no escaping.
	valueKey = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// Validate implements Input.
func (in *SkoalaInput) Validate() error {
	var p config.Problems
	validateTarget(&p, in.Target, "", "")
	if in.From != "" && !fromVersion.MatchString(in.From) {
		p.Add("from", "%q: give the installed skoala version, 0.18 (any 0.18.x) or 0.18.2", in.From)
	}
	if in.To != "" {
		checkSemver(&p, "to", in.To)
		if strings.HasPrefix(in.To, "v") {
			p.Add("to", "%q: write the chart version without v (0.19.2); the image tags get the v", in.To)
		}
	}
	if in.ControlPlane == "" {
		p.Add("controlPlane", "is empty; name the control-plane cluster as the worker's clusters: has it")
	} else {
		checkLabel(&p, "controlPlane", in.ControlPlane, "cluster")
	}
	if len(in.Workers) == 0 {
		p.Add("workers", "is empty; list the worker clusters that run skoala-init (names in the worker's clusters:)")
	}
	seen := map[string]int{}
	for i, w := range in.Workers {
		key := fmt.Sprintf("workers[%d]", i)
		checkLabel(&p, key, w, "cluster")
		if j, dup := seen[w]; dup {
			p.Add(key, "%q is also workers[%d]; each cluster once", w, j)
		}
		if w == in.ControlPlane && w != "" {
			p.Add(key, "%q is the control plane; skoala-init goes to worker clusters (if the global cluster also runs skoala-init, give it a second name on the worker)", w)
		}
		seen[w] = i
	}
	if in.Canary != "" && !slices.Contains(in.Workers, in.Canary) {
		p.Add("canary", "%q is not one of workers", in.Canary)
	}
	if in.Parallelism < 1 || in.Parallelism > 64 {
		p.Add("parallelism", "%d: give how many worker clusters may be upgraded at once, 1 to 64", in.Parallelism)
	}
	checkLabel(&p, "namespace", in.Namespace, "namespace")
	checkLabel(&p, "chartRepo", in.ChartRepo, "chart repository")
	for _, tags := range []struct {
		key  string
		list []string
	}{{"imageTags.skoala", in.ImageTags.Skoala}, {"imageTags.skoalaInit", in.ImageTags.SkoalaInit}} {
		if len(tags.list) == 0 {
			p.Add(tags.key, "is empty; the guide sets each component's image tags to the version (e.g. hive.image.tag)")
		}
		for i, k := range tags.list {
			if !valueKey.MatchString(k) {
				p.Add(fmt.Sprintf("%s[%d]", tags.key, i), "%q is not a values path (letters, digits, _ - between dots)", k)
			}
		}
	}
	switch in.DBUpgrade.When {
	case "auto", "always", "never":
	default:
		p.Add("dbUpgrade.when", "%q: use auto (from below %s, as the guide says), always (the release notes ask for it) or never", in.DBUpgrade.When, skoalaDBJobFrom)
	}
	if in.dbJob() {
		switch {
		case in.DBUpgrade.JobFile == "":
			p.Add("dbUpgrade.jobFile", "is empty; this upgrade runs the DB job (from %s, below %s): give the path of DaoCloud's job.yaml on the worker", in.From, skoalaDBJobFrom)
		case !strings.HasPrefix(in.DBUpgrade.JobFile, "/"):
			p.Add("dbUpgrade.jobFile", "%q: give an absolute path on the worker", in.DBUpgrade.JobFile)
		}
		checkLabel(&p, "dbUpgrade.jobName", in.DBUpgrade.JobName, "Job")
		checkTimeout(&p, "dbUpgrade.timeout", in.DBUpgrade.Timeout.D(), "30m")
	}
	checkTimeout(&p, "helmTimeout", in.HelmTimeout.D(), "15m")
	validateRemindAfter(&p, "gateRemindAfter", in.GateRemindAfter.D())
	return finish(&p, in)
}

// dbJob says whether the plan runs the DB upgrade job.
func (in *SkoalaInput) dbJob() bool {
	switch in.DBUpgrade.When {
	case "always":
		return true
	case "auto":
		return fromVersion.MatchString(in.From) && versionLess(in.From, skoalaDBJobFrom) && !versionLess(in.To, skoalaDBJobFrom)
	}
	return false
}

// versionLess compares x.y[.z] versions numerically (a missing patch is 0).
func versionLess(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := range pa {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return false
}

func versionParts(v string) [3]int {
	v = strings.TrimPrefix(v, "v")
	v, _, _ = strings.Cut(v, "-")
	var out [3]int
	for i, s := range strings.SplitN(v, ".", 3) {
		out[i], _ = strconv.Atoi(s)
	}
	return out
}

// canary is the worker upgraded first.
func (in *SkoalaInput) canary() string {
	if in.Canary != "" {
		return in.Canary
	}
	return in.Workers[0]
}

// skoalaPlan builds the guide's steps.
type skoalaPlan struct {
	in    *SkoalaInput
	steps []runbook.Step
}

func (p *skoalaPlan) add(s runbook.Step) { p.steps = append(p.steps, s) }

func (p *skoalaPlan) chart(name string) activities.ChartRef {
	return activities.ChartRef{Repo: p.in.ChartRepo, Name: name, Version: p.in.To}
}

func (p *skoalaPlan) gate(name, section, prompt string, show ...string) {
	p.add(runbook.Step{Name: name, Kind: runbook.KindGate, Section: section, Summary: "a person confirms: " + firstSentence(prompt),
		Gate: &runbook.Gate{Prompt: prompt, RemindAfter: p.in.GateRemindAfter.D(), Show: show}})
}

// Plan implements Input: the guide's steps, in the guide's order.
func (in *SkoalaInput) Plan() ([]runbook.Step, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	p := &skoalaPlan{in: in}
	cp, ns := in.ControlPlane, in.Namespace
	tag := "v" + in.To

	// 部署架构: skoala on the control plane, skoala-init on each worker.
	// Before anything changes: the charts at hand, the clusters kpanda
	// manages, and on every cluster its release at the from version and the
	// CRDs it serves — read-only, side by side.
	p.add(runbook.Step{Name: "preflight/charts", Kind: runbook.KindCheck, Section: "cp3",
		Summary: fmt.Sprintf("find %s/skoala and %s/skoala-init --version %s in the worker's chart folders, cache or repository (the guide's helm repo add skoala)",
			in.ChartRepo, in.ChartRepo, in.To),
		Activity: helm.FetchCharts, Input: activities.FetchChartsInput{Charts: []activities.ChartRef{p.chart(skoalaRelease), p.chart(skoalaInitRelease)}},
		Timeout: 15 * time.Minute})
	if in.CheckKpanda {
		p.add(runbook.Step{Name: "preflight/kpanda-clusters", Kind: runbook.KindCheck, Section: "arch",
			Summary:  fmt.Sprintf("list the clusters kpanda manages on %s (clusters.cluster.kpanda.io) against the configured workers %s", cp, strings.Join(in.Workers, ", ")),
			Activity: kube.ListKpandaClusters, Input: activities.KpandaClustersInput{Cluster: cp, Workers: in.Workers}})
	}
	clusters := append([]string{cp}, in.Workers...)
	release := func(c string) string {
		if c == cp {
			return skoalaRelease
		}
		return skoalaInitRelease
	}
	for _, c := range clusters {
		p.add(runbook.Step{Name: "preflight/installed@" + c, Kind: runbook.KindCheck, Section: "arch", Parallel: "preflight",
			Summary:  fmt.Sprintf("reach %s and check %s is deployed in %s at %s", c, release(c), ns, in.From),
			Activity: helm.CheckInstalledVersion,
			Input:    activities.InstalledVersionInput{Cluster: c, Namespace: ns, From: strings.TrimPrefix(in.From, "v"), Releases: []string{release(c)}}})
	}
	for _, c := range clusters {
		p.add(runbook.Step{Name: "preflight/crds@" + c, Kind: runbook.KindCheck, Section: "w5", Parallel: "preflight",
			Summary:  fmt.Sprintf("compare the CRDs in %s's crds/ with what %s serves (read-only)", p.chart(release(c)), c),
			Activity: helm.DiffChartCRDs, Input: activities.ChartCRDsInput{Cluster: c, Chart: p.chart(release(c))}})
	}
	if in.dbJob() {
		p.add(runbook.Step{Name: "preflight/db-job-file", Kind: runbook.KindCheck, Section: "cp1",
			Summary: fmt.Sprintf("check %s holds Job %s and the guide's fixed sweet values (type UPGRADE, target 0.17.0, tag v0.19.0)",
				in.DBUpgrade.JobFile, in.DBUpgrade.JobName),
			Activity: kube.PreflightJobFile,
			Input:    activities.JobFileInput{Path: in.DBUpgrade.JobFile, Job: in.DBUpgrade.JobName, Block: "sweet", Want: skoalaSweet}})
	}

	var shown []string
	for _, st := range p.steps {
		if st.Name == "preflight/kpanda-clusters" || strings.HasPrefix(st.Name, "preflight/crds@") {
			shown = append(shown, st.Name)
		}
	}
	// Note: 升级微服务引擎时需要同时升级这两个组件. One go-ahead for the whole
	// fleet, with what the preflight found in front of the person.
	crds := "the CRDs preflight/crds@<cluster> found changed are applied after each cluster's upgrade (server-side, in place; nothing is deleted)"
	if !in.ApplyCRDs {
		crds = "CRDs are left to you (applyCRDs: false): preflight/crds@<cluster> lists what differs"
	}
	dbNote := "no DB upgrade job (dbUpgrade.when: " + in.DBUpgrade.When + ")"
	if in.dbJob() {
		dbNote = fmt.Sprintf("the DB upgrade job %s runs first", in.DBUpgrade.JobName)
	}
	p.gate("approve/clusters", "note", fmt.Sprintf("Upgrade the microservice engine from %s to %s: skoala on %s, then skoala-init on %s "+
		"(canary %s first, then %d at a time); %s; %s. Check the preflight results shown here: a cluster kpanda "+
		"manages but the config leaves out stays at the old version, which the guide forbids, and the target's release notes may ask "+
		"for the DB job or more image tags. Approve to start; reject to change nothing.",
		in.From, in.To, cp, strings.Join(in.Workers, ", "), in.canary(), in.Parallelism, dbNote, crds), shown...)

	// 升级 skoala 组件, in the control-plane cluster.
	// 1. 升级依赖的数据库(可选): apply job.yaml, wait for the Job.
	if in.dbJob() {
		p.add(runbook.Step{Name: "db-upgrade/apply-job", Kind: runbook.KindKube, Section: "cp1",
			Summary: fmt.Sprintf("kubectl apply -f %s on %s (server-side apply: applying the same Job again changes nothing)", in.DBUpgrade.JobFile, cp),
			// A Job's template is immutable and a completed Job does not run
			// again: re-applying the same file after a lost worker is safe.
			Activity: kube.Apply, Input: activities.KubeApplyInput{Cluster: cp, Namespace: ns, Files: []string{in.DBUpgrade.JobFile}},
			Requires: []string{"preflight/db-job-file"}})
		p.add(runbook.Step{Name: "db-upgrade/wait-job", Kind: runbook.KindWait, Section: "cp1",
			Summary:  fmt.Sprintf("wait until Job %s/%s completes on %s (its log is shown if it fails)", ns, in.DBUpgrade.JobName, cp),
			Activity: kube.WaitJob, Input: activities.WaitJobInput{Cluster: cp, Namespace: ns, Name: in.DBUpgrade.JobName},
			Timeout: in.DBUpgrade.Timeout.D()})
	}
	// 2.–5. back up, then upgrade with the backup and the version's tags.
	var after []string
	if in.dbJob() {
		after = []string{"db-upgrade/wait-job"}
	}
	p.component(cp, skoalaRelease, "cp2", "cp5", in.ImageTags.Skoala, tag, "", 0, after...)

	// 升级 skoala-init 组件, once in every worker cluster: the canary alone,
	// a person looks, then the others side by side.
	canary := in.canary()
	p.component(canary, skoalaInitRelease, "w1", "w4", in.ImageTags.SkoalaInit, tag, "", 0)
	var rest []string
	for _, w := range in.Workers {
		if w != canary {
			rest = append(rest, w)
		}
	}
	if len(rest) > 0 {
		p.gate("approve/canary", "w", fmt.Sprintf("The canary worker cluster %s runs skoala-init %s next to skoala %s on %s. Check the "+
			"microservice engine there (registries, gateways, the module in DCE's navigation) before %s follow, %d at a time.",
			canary, in.To, in.To, cp, strings.Join(rest, ", "), in.Parallelism))
		for _, w := range rest {
			p.component(w, skoalaInitRelease, "w1", "w4", in.ImageTags.SkoalaInit, tag, "workers", in.Parallelism)
		}
	}

	// The note again: every cluster at one version, as a table.
	var fleet []activities.FleetRelease
	for _, c := range clusters {
		fleet = append(fleet, activities.FleetRelease{Cluster: c, Namespace: ns, Release: release(c), Version: in.To})
	}
	p.add(runbook.Step{Name: "verify/end-state", Kind: runbook.KindCheck, Section: "note",
		Summary:  fmt.Sprintf("check skoala and every skoala-init are deployed at %s, one row per cluster", in.To),
		Activity: helm.VerifyFleet, Input: activities.FleetInput{Releases: fleet}})
	return p.steps, nil
}

// component adds one cluster's part: back up the release's values, upgrade
// it with them and the version's image tags (waiting for its workloads),
// and apply the chart's changed CRDs. group and width, when set, put the
// steps in that cluster's lane of a side-by-side group; after are steps
// the upgrade needs done too (the DB job).
func (p *skoalaPlan) component(cluster, release, backupSec, upgradeSec string, tags []string, tag, group string, width int, after ...string) {
	in := p.in
	var lane *runbook.Lane
	if group != "" {
		lane = &runbook.Lane{Name: cluster, Width: width}
	}
	backup := "backup-values/" + release + "@" + cluster
	p.add(runbook.Step{Name: backup, Kind: runbook.KindBackup, Section: backupSec, Parallel: group, Lane: lane,
		Summary: fmt.Sprintf("helm -n %s get values %s on %s into the run's artifact folder (values/%s/%s/%s.yaml)",
			in.Namespace, release, cluster, cluster, in.Namespace, release),
		Activity: helm.BackupReleaseValues,
		Input:    activities.HelmBackupInput{Cluster: cluster, Namespace: in.Namespace, Releases: []string{release}}})
	set := make([]string, len(tags))
	for i, k := range tags {
		set[i] = k + "=" + tag
	}
	ref := p.chart(release)
	p.add(runbook.Step{Name: "upgrade/" + release + "@" + cluster, Kind: runbook.KindHelm, Section: upgradeSec, Parallel: group, Lane: lane,
		Summary: fmt.Sprintf("helm upgrade --install --create-namespace -n %s %s %s/%s --version=%s --set %s -f <values backed up>, on %s, waiting for its workloads",
			in.Namespace, release, ref.Repo, ref.Name, ref.Version, strings.Join(set, " --set "), cluster),
		Activity: helm.UpgradeInstall,
		// ReuseValues is the guide's -f <backup>: the values helm get values
		// printed are the release's own, re-read on this cluster; --set wins.
		Input: activities.HelmUpgradeInput{Cluster: cluster, Namespace: in.Namespace, Release: release, Chart: ref,
			Set: set, ReuseValues: true, CreateNamespace: true, Wait: true, Timeout: in.HelmTimeout},
		Requires: append([]string{backup}, after...),
		Timeout:  in.HelmTimeout.D() + 5*time.Minute})
	if in.ApplyCRDs {
		p.add(runbook.Step{Name: "apply-crds/" + release + "@" + cluster, Kind: runbook.KindKube, Section: "w5", Parallel: group, Lane: lane,
			Summary:  fmt.Sprintf("server-side apply the CRDs of %s that %s lacks or serves differently, and wait until Established", ref, cluster),
			Activity: helm.ApplyChartCRDs, Input: activities.ChartCRDsInput{Cluster: cluster, Chart: ref},
			Requires: []string{"approve/clusters"}})
	}
}

// DCE5SkoalaUpgrade is the guide's workflow.
func DCE5SkoalaUpgrade(ctx workflow.Context, in SkoalaInput) (runbook.RunStatus, error) {
	return runGuide(ctx, SkoalaGuide, &in)
}
