package workflows

import (
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/internal/text"
	"upgrader/workflows/runbook"
)

// ChoerodonSite is what both Choerodon guides need to know about one
// installation: where it runs, how the worker reaches it, and every value
// the guides say "replace with yours".
type ChoerodonSite struct {
	// Cluster names a cluster configured on the worker (clusters: in its config).
	Cluster string `mapstructure:"cluster" json:"cluster"`
	// Namespace is where the platform's releases live (c7n-system, choerodon-devops-prod).
	Namespace string `mapstructure:"namespace" json:"namespace"`
	// ChartRepo names the chart repository (c7n); the worker maps it to a
	// URL or finds the charts in its chart folders.
	ChartRepo string `mapstructure:"chartRepo" json:"chartRepo"`
	// Releases maps the guide's release names to the names used at this
	// site (the guide: "if you chose another RELEASE NAME, use yours").
	Releases map[string]string `mapstructure:"releases" json:"releases,omitempty"`
	// Versions overrides the guide's chart versions, by the guide's release name.
	Versions map[string]string `mapstructure:"versions" json:"versions,omitempty"`
	// Values are the site's own Helm values, by the guide's release name,
	// applied over the guide's.
	Values map[string]map[string]any `mapstructure:"values" json:"values,omitempty"`
	// Probe says how the "verify" steps reach the services.
	Probe ChoerodonProbe `mapstructure:"probe" json:"probe"`
	// DB is the platform's MySQL.
	DB ChoerodonDB `mapstructure:"db" json:"db"`
	// API is the platform's gateway, for the API calls the guides make by hand.
	API ChoerodonAPI `mapstructure:"api" json:"api"`
	// HelmTimeout bounds one helm install or upgrade.
	HelmTimeout contract.Duration `mapstructure:"helmTimeout" json:"helmTimeout,omitempty"`
	// GateRemindAfter makes a gate log a reminder this often while nobody answers.
	GateRemindAfter contract.Duration `mapstructure:"gateRemindAfter" json:"gateRemindAfter,omitempty"`
	// Helm2 converts a Helm 2 site's releases first (choerodon_helm2.go).
	Helm2 ChoerodonHelm2 `mapstructure:"helm2" json:"helm2"`
}

// ChoerodonProbe says how to check that a service is up.
type ChoerodonProbe struct {
	// Via is pod-ip (the worker runs in the cluster) or proxy (through the
	// API server: a kubeconfig is enough).
	Via string `mapstructure:"via" json:"via"`
	// LabelKey selects a release's pods (choerodon.io/release).
	LabelKey string `mapstructure:"labelKey" json:"labelKey,omitempty"`
	// Timeout bounds each wait; Interval is the pause between probes.
	Timeout  contract.Duration `mapstructure:"timeout" json:"timeout"`
	Interval contract.Duration `mapstructure:"interval" json:"interval,omitempty"`
	// Ports overrides the guide's health ports, by the guide's release name.
	Ports map[string]int `mapstructure:"ports" json:"ports,omitempty"`
	// LogTimeout bounds each wait for a log line (data migration, data fix).
	LogTimeout contract.Duration `mapstructure:"logTimeout" json:"logTimeout"`
	// LogFailure are the patterns that, in a migration log, stop the
	// upgrade (the guide: "if an exception appears you cannot continue").
	LogFailure []string `mapstructure:"logFailure" json:"logFailure,omitempty"`
	// LogFailureBy overrides LogFailure for one release's log, by the
	// guide's release name. Spring services print non-fatal ERROR lines,
	// and the guide names no failure line for knowledgebase-service's data
	// fix or devops-service's (whose missing line it answers with the
	// repair call): their default is none — the step waits for its success
	// line until logTimeout.
	LogFailureBy map[string][]string `mapstructure:"logFailureBy" json:"logFailureBy,omitempty"`
}

// choerodonFollowedLogs are the releases whose logs the guides follow
// (follow-log/<release>): the keys probe.logFailureBy may have.
var choerodonFollowedLogs = []string{"data-migration", "devops-service", "knowledgebase-service"}

// logFailure is the failure patterns for one release's log.
func (p ChoerodonProbe) logFailure(release string) []string {
	if f, ok := p.LogFailureBy[release]; ok {
		return f
	}
	return p.LogFailure
}

// ChoerodonDB is the platform's MySQL, as the services and the worker reach it.
type ChoerodonDB struct {
	// Host and Port as pods reach the server (the guides' JDBC URLs).
	Host string `mapstructure:"host" json:"host"`
	Port int    `mapstructure:"port" json:"port"`
	// User is the services' account (choerodon); PasswordRef names the
	// worker-side secret holding its password.
	User        string `mapstructure:"user" json:"user"`
	PasswordRef string `mapstructure:"passwordRef" json:"passwordRef"`
	// Admin, when set, lets the worker reach the server itself: it then
	// creates the databases directly and backs them up with mysqldump.
	// Without it, a person is asked to do both, with the exact SQL.
	Admin *ChoerodonDBAdmin `mapstructure:"admin" json:"admin,omitempty"`
}

// ChoerodonDBAdmin is an administrator account the worker uses.
type ChoerodonDBAdmin struct {
	DBServer `mapstructure:",squash"`
	// Backup dumps the databases with mysqldump on the worker into the
	// run's artifact folder before anything is deleted.
	Backup bool `mapstructure:"backup" json:"backup"`
}

// ChoerodonAPI is the platform gateway the guides' swagger calls go through.
type ChoerodonAPI struct {
	// URL of the gateway (http://api.example.choerodon.io); empty turns
	// every API call into a gate where a person makes it by hand.
	URL string `mapstructure:"url" json:"url,omitempty"`
	// TokenRef names a worker-side secret holding an admin's
	// "Bearer …" Authorization header value.
	TokenRef string `mapstructure:"tokenRef" json:"tokenRef,omitempty"`
}

// defaultChoerodonSite holds what both guides default to.
func defaultChoerodonSite(namespace string) ChoerodonSite {
	return ChoerodonSite{
		Cluster:   "c7n",
		Namespace: namespace,
		ChartRepo: "c7n",
		Probe: ChoerodonProbe{Via: activities.ViaPodIP, LabelKey: activities.DefaultReleaseLabel,
			Timeout: contract.Duration(20 * time.Minute), Interval: contract.Duration(time.Second), LogTimeout: contract.Duration(30 * time.Minute),
			LogFailure:   []string{`Exception`, `\bERROR\b`},
			LogFailureBy: map[string][]string{"knowledgebase-service": {}, "devops-service": {}}},
		DB:              ChoerodonDB{Port: 3306, User: "choerodon"},
		HelmTimeout:     contract.Duration(15 * time.Minute),
		GateRemindAfter: contract.Duration(time.Hour),
	}
}

// validate reports the site's problems into p. upgraded are the guide's
// release names, which releases:, versions:, values: and probe.ports: may be
// keyed by; old are the releases the guide deletes (they may be renamed
// too). Where api.url may point (the admin token goes there) is checked by
// preflight/api on the worker, which knows its trustedHosts.
func (s *ChoerodonSite) validate(p *config.Problems, upgraded, old []string) {
	if s.Cluster == "" {
		p.Add("cluster", "is empty; name a cluster configured on the worker (clusters: in worker.yaml)")
	} else {
		checkLabel(p, "cluster", s.Cluster, "cluster")
	}
	checkLabel(p, "namespace", s.Namespace, "namespace")
	if s.ChartRepo == "" {
		p.Add("chartRepo", "is empty; name the chart repository (c7n)")
	} else {
		checkLabel(p, "chartRepo", s.ChartRepo, "chart repository")
	}
	checkKeys := func(field string, keys []string, allowed []string) {
		ok := map[string]bool{}
		for _, r := range allowed {
			ok[r] = true
		}
		for _, k := range keys {
			if !ok[k] {
				p.Add(field+"."+k, "is not a release of this guide (known: %s)", strings.Join(allowed, ", "))
			}
		}
	}
	var all []string
	for _, r := range append(append([]string{}, upgraded...), old...) {
		if !slices.Contains(all, r) {
			all = append(all, r)
		}
	}
	checkKeys("releases", sortedKeys(s.Releases), all)
	checkKeys("versions", sortedKeys(s.Versions), upgraded)
	checkKeys("values", sortedKeys(s.Values), upgraded)
	checkKeys("probe.ports", sortedKeys(s.Probe.Ports), all) // old releases: the undo's wait-up
	// Every release ends up under one name, and no two share it: one
	// release upgraded with another's chart would complete without a word.
	target := map[string]string{}
	for _, r := range all {
		name := r
		if n, ok := s.Releases[r]; ok {
			checkLabel(p, "releases."+r, n, "release")
			name = n
		}
		if other, dup := target[name]; dup && other != r {
			key, with := r, other
			if _, mapped := s.Releases[r]; !mapped {
				key, with = other, r
			}
			p.Add("releases."+key, "%q is also the release of %s; each of the guide's releases needs its own", name, with)
		}
		target[name] = r
	}
	for _, k := range sortedKeys(s.Versions) {
		checkSemver(p, "versions."+k, s.Versions[k])
	}
	for _, k := range sortedKeys(s.Probe.Ports) {
		checkPort(p, "probe.ports."+k, s.Probe.Ports[k])
	}
	switch s.Probe.Via {
	case activities.ViaPodIP, activities.ViaProxy:
	default:
		p.Add("probe.via", "%q: use pod-ip (the worker runs in the cluster) or proxy (through the API server)", s.Probe.Via)
	}
	if s.Probe.LabelKey == "" {
		p.Add("probe.labelKey", "is empty; the guides select pods by %s", activities.DefaultReleaseLabel)
	}
	checkTimeout(p, "probe.timeout", s.Probe.Timeout.D(), "20m")
	checkTimeout(p, "probe.logTimeout", s.Probe.LogTimeout.D(), "30m")
	checkTimeout(p, "helmTimeout", s.HelmTimeout.D(), "15m")
	validateInterval(p, "probe.interval", s.Probe.Interval.D(), s.Probe.Timeout.D())
	if len(s.Probe.LogFailure) == 0 {
		p.Add("probe.logFailure", "is empty: a migration log that prints an exception would not stop the run; the guide's are [Exception, '\\bERROR\\b']")
	}
	checkPatterns := func(key string, res []string) {
		for i, re := range res {
			if strings.TrimSpace(re) == "" {
				p.Add(fmt.Sprintf("%s[%d]", key, i), "is empty; it would match every line")
			} else if _, err := regexp.Compile(re); err != nil {
				p.Add(fmt.Sprintf("%s[%d]", key, i), "%q is not a regular expression (Go RE2 syntax): %v", re, err)
			}
		}
	}
	checkPatterns("probe.logFailure", s.Probe.LogFailure)
	for _, r := range sortedKeys(s.Probe.LogFailureBy) {
		if !slices.Contains(choerodonFollowedLogs, r) {
			p.Add("probe.logFailureBy."+r, "%q is not a release whose log the guides follow (%s); a misspelt name would change nothing",
				r, strings.Join(choerodonFollowedLogs, ", "))
		}
		if r == "data-migration" && len(s.Probe.LogFailureBy[r]) == 0 {
			p.Add("probe.logFailureBy.data-migration", "is empty: the guide stops on any exception in the migration log (如果出现异常信息，不能再继续升级)")
		}
		checkPatterns("probe.logFailureBy."+r, s.Probe.LogFailureBy[r])
	}
	validateRemindAfter(p, "gateRemindAfter", s.GateRemindAfter.D())
	s.Helm2.validate(p)
	if s.DB.Host == "" {
		p.Add("db.host", "is empty; give the MySQL host as the pods reach it (c7n-mysql.c7n-system)")
	} else if net.ParseIP(s.DB.Host) == nil {
		checkHostName(p, "db.host", s.DB.Host)
	}
	checkPort(p, "db.port", s.DB.Port)
	if s.DB.User == "" {
		p.Add("db.user", "is empty; the guides use choerodon")
	} else {
		checkMySQLIdent(p, "db.user", s.DB.User)
	}
	checkSecretRef(p, "db.passwordRef", s.DB.PasswordRef, "the password of "+s.DB.User)
	if a := s.DB.Admin; a != nil {
		a.check(p, "db.admin", "10.0.0.12:3306, as the worker reaches MySQL", "an account that may create databases, users and grants", false)
	}
	if s.API.URL != "" {
		checkURL(p, "api.url", s.API.URL, nil)
		checkSecretRef(p, "api.tokenRef", s.API.TokenRef, "an admin's \"Bearer …\" token")
	}
}

// sortedKeys lists a map's keys in order: deterministic, whatever order
// the range below visits them in.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	//workflowcheck:ignore
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// c7nService is one release as a guide handles it.
type c7nService struct {
	Release string // the guide's release name
	// Install: the guide installs the release (helm install / upgrade
	// --install); otherwise it must exist and is upgraded.
	Install bool
	// Reuse: the guide passes -f <(helm get values X).
	Reuse  bool
	Values map[string]any
	// Set is the guide's --set flags as structured values: dotted path →
	// value. Config values go in as data; nothing is parsed as --set
	// syntax, so a comma or = in a value is just a character.
	Set     map[string]any
	Secrets map[string]string // --set path → secret name
	// Port and Path of the guide's verify command; zero Port: no check.
	Port   int
	Path   string
	Expect activities.WaitHTTPInput
}

// c7nChart is one chart a guide installs: release name, chart name when it
// differs (register-server is c7n/go-register-server), version.
type c7nChart struct {
	Release, Chart, Version string
}

// c7nPlan builds a Choerodon guide's steps.
type c7nPlan struct {
	site   *ChoerodonSite
	charts []c7nChart
	// problems are config problems only the plan can see (an override of
	// a key the guide sets); Plan returns them all at once.
	problems config.Problems
	// platform are the site's own host names: the only hosts, besides the
	// worker's trustedHosts, the admin token may go to.
	platform []string
	steps    []runbook.Step
	// section is the guide section (Guide.Map) the steps added next carry
	// out; in sets it as the plan walks through the guide.
	section string
	// preflightAt is the index of preflight/releases, filled in by
	// finishPreflight; fromReleases show the site's version.
	preflightAt  int
	fromReleases []string
}

// in says which section of the guide the steps added next carry out.
func (p *c7nPlan) in(section string) { p.section = section }

// required marks the step named name, added before, as one the guide warns
// must not be skipped: only an answer acknowledging id skips it.
func (p *c7nPlan) required(name, id, text string) {
	for i := range p.steps {
		if p.steps[i].Name == name {
			p.steps[i].Required = &runbook.Warning{ID: id, Text: text}
			return
		}
	}
	panic("guide bug: no step " + name + " to mark required")
}

// noReturn marks the step named name, added before, as the plan's point of
// no return: once it has started, `abort --rollback` is refused with text.
func (p *c7nPlan) noReturn(name, text string) {
	for i := range p.steps {
		if p.steps[i].Name == name {
			p.steps[i].NoReturn = text
			return
		}
	}
	panic("guide bug: no step " + name + " to mark the point of no return")
}

// undo gives the step named name, added before, its undo steps.
func (p *c7nPlan) undo(name string, undo []runbook.Step) {
	for i := range p.steps {
		if p.steps[i].Name == name {
			p.steps[i].Undo = undo
			return
		}
	}
	panic("guide bug: no step " + name + " to undo")
}

// destructive marks the gate named name, added before, as one before a
// change that cannot be undone.
//
// The gate shows the proof of every backup restored before it (the
// restore drills' "backup verified: N tables, M rows, sha256 …"): what the
// person approves on the strength of.
func (p *c7nPlan) destructive(name string) {
	for i := range p.steps {
		if p.steps[i].Name == name && p.steps[i].Gate != nil {
			p.steps[i].Gate.Destructive = true
			p.steps[i].Gate.Show = append(p.steps[i].Gate.Show, drillsBefore(p.steps[:i])...)
			return
		}
	}
	panic("guide bug: no gate " + name + " to mark destructive")
}

var (
	helm      *activities.Helm
	kube      *activities.Kube
	mysqlA    *activities.MySQL
	preflight *activities.Preflight
)

func (p *c7nPlan) add(s runbook.Step) {
	if s.Section == "" {
		s.Section = p.section
	}
	p.steps = append(p.steps, s)
}

// name is the site's name for one of the guide's releases.
func (p *c7nPlan) name(release string) string {
	if n, ok := p.site.Releases[release]; ok {
		return n
	}
	return release
}

// chart is the chart the site installs for one of the guide's releases.
func (p *c7nPlan) chart(release string) activities.ChartRef {
	for _, c := range p.charts {
		if c.Release != release {
			continue
		}
		ref := activities.ChartRef{Repo: p.site.ChartRepo, Name: c.Release, Version: c.Version}
		if c.Chart != "" {
			ref.Name = c.Chart
		}
		if v, ok := p.site.Versions[release]; ok {
			ref.Version = v
		}
		return ref
	}
	panic("guide bug: release " + release + " is not in the guide's chart table")
}

// releases lists the guide's releases, in the guide's order.
func (p *c7nPlan) releases() []string {
	out := make([]string, len(p.charts))
	for i, c := range p.charts {
		out[i] = c.Release
	}
	return out
}

// backupDB adds the guide's database backup, backup-db/mysql: a dump of
// every database into the run's artifact folder when the worker dumps
// (dumps), else a gate asking a person for the dump with prompt. It
// returns the step's name; a dump's check (verifyBackup) goes right before
// the first destructive step.
func (p *c7nPlan) backupDB(prompt string) string {
	name := "backup-db/mysql"
	if p.dumps() {
		p.add(runbook.Step{Name: name, Kind: runbook.KindBackup,
			Summary:  "mysqldump every database into the run's artifact folder, then check each CREATE DATABASE is in the dump",
			Activity: mysqlA.DumpMySQL, Input: activities.DumpInput{DB: p.dbTarget()}})
		p.add(restoreDrill(name, p.dbTarget(), p.section, nil))
	} else {
		p.gate(name, prompt, false)
	}
	return name
}

// dumps says whether the worker dumps the databases itself (admin access
// and db.admin.backup).
func (p *c7nPlan) dumps() bool { return p.site.DB.Admin != nil && p.site.DB.Admin.Backup }

// verifyBackup adds a check of the dump made by step backup, right before
// the first destructive step: its SHA-256 is computed again on the file in
// place, which must be the one the dump recorded (read-only, and no late
// writer from a lost try can have changed it). It returns the names of
// the proofs of that dump (its restore drill, added by backupDB, and this
// check), for the destructive steps' Requires.
func (p *c7nPlan) verifyBackup(backup string) []string {
	name := "verify-backup/mysql"
	drill := drillName(backup)
	p.add(runbook.Step{Name: name, Kind: runbook.KindCheck,
		Summary:  fmt.Sprintf("hash the dump of %s again: it must be the one that step recorded, before anything is deleted", backup),
		Activity: mysqlA.VerifyBackup,
		Input:    activities.VerifyBackupInput{},
		Inputs:   map[string]runbook.From{"path": {Step: backup, Output: "path"}, "sha256": {Step: backup, Output: "sha256"}},
		Requires: []string{backup, drill}})
	return []string{drill, name}
}

// preflightFrom adds the read-only checks of the site itself, before
// anything changes: every release the run upgrades or deletes exists
// (under its name or its releases: mapping), deployed, and those of
// fromReleases (the guide's names) at the config's from; the worker may do
// on the cluster what the run does; every secret the config names resolves.
// The releases are known when the plan is complete: finishPreflight fills
// them in.
func (p *c7nPlan) preflightFrom(from string, fromReleases []string, secrets map[string]string) {
	p.fromReleases = fromReleases
	p.preflightAt = len(p.steps)
	p.add(runbook.Step{Name: "preflight/releases", Kind: runbook.KindCheck,
		Summary: fmt.Sprintf("check that every release this run upgrades or deletes is deployed in %s, and that %s are at chart %s.x, the version this upgrade starts from",
			p.site.Namespace, strings.Join(p.names(fromReleases), ", "), from),
		Activity: preflight.CheckReleases,
		Input: activities.ReleasesCheckInput{Cluster: p.site.Cluster, Namespace: p.site.Namespace, From: from,
			Helm2: p.site.Helm2.Convert, TillerNamespace: p.tillerNamespace()}})
	p.add(runbook.Step{Name: "preflight/cluster-access", Kind: runbook.KindCheck,
		Summary:  fmt.Sprintf("ask cluster %s (SelfSubjectAccessReview) whether the worker may do what the run does in %s", p.site.Cluster, p.site.Namespace),
		Activity: preflight.CheckKubeAccess,
		Input:    activities.KubeAccessInput{Cluster: p.site.Cluster, Namespace: p.site.Namespace}})
	p.add(runbook.Step{Name: "preflight/secrets", Kind: runbook.KindCheck,
		Summary:  fmt.Sprintf("resolve the %d secrets the config names on the worker (never shown)", len(secrets)),
		Activity: preflight.CheckSecrets,
		Input:    activities.SecretsCheckInput{Refs: secrets}})
}

// finishPreflight fills preflight/releases and preflight/cluster-access
// from the complete plan: the releases its helm steps upgrade (must exist)
// and delete, and the access its steps need.
func (p *c7nPlan) finishPreflight() {
	if p.preflightAt < 0 || p.preflightAt >= len(p.steps) || p.steps[p.preflightAt].Name != "preflight/releases" {
		return
	}
	in := p.steps[p.preflightAt].Input.(activities.ReleasesCheckInput)
	seen := map[string]bool{}
	need := func(name, why string) {
		if seen[name] {
			return
		}
		seen[name] = true
		guide := name
		for _, g := range sortedKeys(p.site.Releases) {
			if p.site.Releases[g] == name {
				guide = g
			}
		}
		in.Releases = append(in.Releases, activities.ReleaseNeeds{Name: name, Guide: guide, Why: why,
			AtFrom: slices.Contains(p.fromReleases, guide)})
	}
	for _, r := range p.fromReleases {
		need(p.name(r), "it shows the site's version")
	}
	crd := false
	for _, s := range p.steps {
		switch v := s.Input.(type) {
		case activities.HelmUninstallInput:
			need(v.Release, "deleted by "+s.Name)
		case activities.HelmUpgradeInput:
			if v.MustExist {
				need(v.Release, "upgraded by "+s.Name)
			}
		case activities.KubeApplyInput:
			crd = true
		}
	}
	p.steps[p.preflightAt].Input = in
	rw := []string{"get", "list", "create", "update", "patch", "delete"}
	access := []activities.KubeAccess{
		{Verbs: rw, Resource: "secrets", Why: "helm keeps releases in secrets"},
		{Verbs: rw, Resource: "configmaps", Why: "the charts' config"},
		{Verbs: rw, Resource: "services", Why: "the charts' services"},
		{Verbs: rw, Group: "apps", Resource: "deployments", Why: "the charts' workloads"},
		{Verbs: rw, Group: "batch", Resource: "jobs", Why: "the charts' init jobs (helm hooks)"},
		{Verbs: []string{"get", "list", "watch"}, Resource: "pods", Why: "wait-up and follow-log find the new pods"},
		{Verbs: []string{"get"}, Resource: "pods/log", Why: "follow-log reads the migration logs"},
	}
	if p.site.Probe.Via == activities.ViaProxy {
		access = append(access, activities.KubeAccess{Verbs: []string{"get"}, Resource: "pods/proxy", Why: "probe.via proxy reaches the pods through the API server"})
	}
	if tns := p.tillerNamespace(); tns != "" {
		access = append(access, helm2Access(tns)...)
	}
	if crd {
		access = append(access, activities.KubeAccess{Verbs: []string{"get", "create", "update"}, Group: "apiextensions.k8s.io",
			Resource: "customresourcedefinitions", ClusterScoped: true, Why: "the guide applies the C7NHelmRelease CRD"})
	}
	for i := range p.steps {
		if p.steps[i].Name == "preflight/cluster-access" {
			ka := p.steps[i].Input.(activities.KubeAccessInput)
			ka.Access = access
			p.steps[i].Input = ka
		}
	}
}

// names is the site's names of some of the guide's releases.
func (p *c7nPlan) names(releases []string) []string {
	out := make([]string, len(releases))
	for i, r := range releases {
		out[i] = p.name(r)
	}
	return out
}

// preflightAPI checks, before anything changes, that api.url is one of the
// site's hosts (or the worker's trustedHosts): the admin token goes there.
func (p *c7nPlan) preflightAPI() {
	if p.site.API.URL == "" {
		return
	}
	p.add(runbook.Step{Name: "preflight/api", Kind: runbook.KindCheck,
		Summary:  fmt.Sprintf("check that api.url (%s) is one of the site's hosts, where the admin token may go; nothing is sent", p.site.API.URL),
		Activity: web.PreflightSecretHosts,
		Input:    activities.SecretHostsInput{Key: "api.url", URL: p.site.API.URL, Hosts: p.platform, Secrets: []string{p.site.API.TokenRef}}})
}

// preflightMySQL checks the worker's admin access before anything
// changes: the server answers, the account holds what the run uses (DDL
// for CREATE DATABASE/USER/GRANT and the restore drill's scratch database;
// for the dump, mysqldump's --single-transaction --master-data=2 needs
// RELOAD and REPLICATION CLIENT besides the reads), and the worker's disk
// holds the dump.
//
// extra are what the guide's own statements need beyond that.
func (p *c7nPlan) preflightMySQL(extra ...activities.PrivilegeNeed) {
	a := p.site.DB.Admin
	if a == nil {
		return
	}
	privs := append([]activities.PrivilegeNeed{
		{Privilege: "CREATE", Why: "CREATE DATABASE"},
		{Privilege: "DROP", Why: "dropping the restore drill's scratch database"},
		{Privilege: "CREATE USER", Why: "creating the services' user"}, {Privilege: "GRANT OPTION", Why: "granting it the new databases"},
	}, extra...)
	summary := "connect to MySQL as the admin account (read-only session) and check it may create databases, users and grants"
	if a.Backup {
		privs = append(privs, activities.PrivilegeNeed{Privilege: "SELECT", Why: "mysqldump"}, activities.PrivilegeNeed{Privilege: "LOCK TABLES", Why: "mysqldump"},
			activities.PrivilegeNeed{Privilege: "SHOW VIEW", Why: "mysqldump of views"}, activities.PrivilegeNeed{Privilege: "EVENT", Why: "mysqldump -E"},
			activities.PrivilegeNeed{Privilege: "TRIGGER", Why: "mysqldump of triggers"},
			activities.PrivilegeNeed{Privilege: "RELOAD", Why: "mysqldump --master-data=2 (FLUSH TABLES WITH READ LOCK)"},
			activities.PrivilegeNeed{Privilege: "REPLICATION CLIENT", Why: "mysqldump --master-data=2 (SHOW MASTER STATUS)"})
		summary += ", dump them (RELOAD, REPLICATION CLIENT for --master-data=2), and that the worker's disk holds the dump"
	}
	p.add(runbook.Step{Name: "preflight/mysql", Kind: runbook.KindCheck, Summary: summary,
		Activity: preflight.CheckMySQL,
		Input:    activities.MySQLCheckInput{DB: p.dbTarget(), Privileges: privs, Backup: a.Backup}})
}

// preflightInstalledVersion (0.8's plan before its revision 1, kept for runs that
// started with it) checks, before anything changes, that the site is at the
// config's from version: releases are the guide's names of releases that
// show it.
func (p *c7nPlan) preflightInstalledVersion(from string, releases []string) {
	names := make([]string, len(releases))
	for i, r := range releases {
		names[i] = p.name(r)
	}
	p.add(runbook.Step{Name: "preflight/installed-version", Kind: runbook.KindCheck,
		Summary:  fmt.Sprintf("check that %s are deployed at chart %s.x, the version this upgrade starts from", strings.Join(names, ", "), from),
		Activity: helm.CheckInstalledVersion,
		Input: activities.InstalledVersionInput{Cluster: p.site.Cluster, Namespace: p.site.Namespace, From: from, Releases: names,
			Helm2: p.site.Helm2.Convert, TillerNamespace: p.tillerNamespace()}})
}

// preflightMySQLAdmin (0.8's plan before its revision 1, as preflightInstalledVersion) checks the worker's admin access before anything changes.
func (p *c7nPlan) preflightMySQLAdmin() {
	if p.site.DB.Admin == nil {
		return
	}
	p.add(runbook.Step{Name: "preflight/mysql", Kind: runbook.KindCheck,
		Summary:  "connect to MySQL as the admin account and check it may create databases, users and grants",
		Activity: mysqlA.PreflightMySQL,
		Input:    activities.MySQLPreflightInput{DB: p.dbTarget(), Privileges: []string{"CREATE", "CREATE USER", "GRANT OPTION"}}})
}

// siteURL is a site host name as a URL.
func siteURL(https bool, host string) string {
	if https {
		return "https://" + host
	}
	return "http://" + host
}

// hostField is one host name of a site's config and its key.
type hostField struct{ field, v string }

// preflightCharts checks every chart of the guide is at hand before anything changes.
func (p *c7nPlan) preflightCharts() {
	refs := make([]activities.ChartRef, len(p.charts))
	for i, c := range p.charts {
		refs[i] = p.chart(c.Release)
	}
	p.add(runbook.Step{Name: "preflight/charts", Kind: runbook.KindCheck,
		Summary:  fmt.Sprintf("find the guide's %d charts (repo %s) in the worker's chart folders, cache or repository", len(refs), p.site.ChartRepo),
		Activity: helm.FetchCharts, Input: activities.FetchChartsInput{Charts: refs}, Timeout: 15 * time.Minute})
}

// backupValues saves every release's values (the guide's helm get values loop).
func (p *c7nPlan) backupValues() {
	p.add(runbook.Step{Name: "backup-values/all", Kind: runbook.KindBackup,
		Summary:  fmt.Sprintf("helm get values of every release in %s into the run's artifact folder", p.site.Namespace),
		Activity: helm.BackupReleaseValues,
		Input:    activities.HelmBackupInput{Cluster: p.site.Cluster, Namespace: p.site.Namespace, TillerNamespace: p.tillerNamespace()}})
}

// verify checks the end state: every release of the guide deployed at its
// version, the absent ones gone.
func (p *c7nPlan) verify(absent []string) {
	want := map[string]string{}
	for _, c := range p.charts {
		want[p.name(c.Release)] = p.chart(c.Release).Version
	}
	p.add(runbook.Step{Name: "verify/releases", Kind: runbook.KindCheck,
		Summary:  fmt.Sprintf("check every release of the guide is deployed at its version in %s", p.site.Namespace),
		Activity: helm.VerifyReleases,
		Input:    activities.VerifyReleasesInput{Cluster: p.site.Cluster, Namespace: p.site.Namespace, Absent: absent, Versions: want}})
}

func (p *c7nPlan) gate(name, prompt string, skipOnReject bool) {
	p.add(runbook.Step{Name: name, Kind: runbook.KindGate, Summary: "a person confirms: " + firstSentence(prompt),
		Gate: &runbook.Gate{Prompt: prompt, RemindAfter: p.site.GateRemindAfter.D(), SkipOnReject: skipOnReject}})
}

var sentenceEnd = regexp.MustCompile(`[.;:?](\s|$)`)

// firstSentence shortens a prompt to its first sentence for plan summaries.
func firstSentence(s string) string {
	if loc := sentenceEnd.FindStringIndex(s); loc != nil && loc[0] < 100 {
		return s[:loc[0]]
	}
	return text.Truncate(s, 300) // whole runes: the guides' prompts are half Chinese
}

func (p *c7nPlan) dbTarget() activities.DBTarget {
	a := p.site.DB.Admin
	return a.mysql("choerodon-mysql")
}

// jdbc renders a JDBC URL the way the guides write them.
func (p *c7nPlan) jdbc(database, params string) string {
	return fmt.Sprintf("jdbc:mysql://%s:%d/%s?%s", p.site.DB.Host, p.site.DB.Port, database, params)
}

// The query strings the guides append to their JDBC URLs.
const (
	jdbcParams      = "useUnicode=true&characterEncoding=utf-8&useSSL=false&useInformationSchema=true&remarks=true&serverTimezone=Asia/Shanghai"
	jdbcParamsZero  = "useUnicode=true&characterEncoding=utf-8&useSSL=false&zeroDateTimeBehavior=convertToNull&useInformationSchema=true&remarks=true&serverTimezone=Asia/Shanghai"
	jdbcParamsMulti = "useUnicode=true&characterEncoding=utf-8&useSSL=false&useInformationSchema=true&remarks=true&allowMultiQueries=true&serverTimezone=Asia/Shanghai"
)

// upgrade adds the guide's helm command for svc.
func (p *c7nPlan) upgrade(svc c7nService) {
	ref := p.chart(svc.Release)
	rel := p.name(svc.Release)
	verb := "upgrade"
	summary := fmt.Sprintf("helm upgrade %s %s/%s --version %s", rel, ref.Repo, ref.Name, ref.Version)
	if svc.Install {
		verb = "install"
		summary = fmt.Sprintf("helm upgrade --install %s %s/%s --version %s -n %s", rel, ref.Repo, ref.Name, ref.Version, p.site.Namespace)
	}
	if svc.Reuse {
		summary += ", reusing its values"
	}
	p.checkOverrides(svc)
	p.add(runbook.Step{
		Name: verb + "/" + svc.Release, Kind: runbook.KindHelm, Summary: summary,
		Activity: helm.UpgradeInstall,
		Input: activities.HelmUpgradeInput{Cluster: p.site.Cluster, Namespace: p.site.Namespace, Release: rel,
			Chart:  ref,
			Values: withSetPaths(svc.Values, svc.Set), SetSecrets: svc.Secrets, Overrides: p.site.Values[svc.Release],
			ReuseValues: svc.Reuse, MustExist: !svc.Install, CreateNamespace: svc.Install,
			Timeout: p.site.HelmTimeout},
		Timeout: p.site.HelmTimeout.D() + 5*time.Minute,
	})
}

// checkOverrides refuses site values (values.<release>) that set a key the
// guide sets itself, or a key under it: the database the init job logs in
// to, the services' DB hosts and passwords come from the config's own keys
// (db.host, db.passwordRef), never from free-form values.
func (p *c7nPlan) checkOverrides(svc c7nService) {
	over := p.site.Values[svc.Release]
	if len(over) == 0 {
		return
	}
	var guide []string
	flattenKeys("", withSetPaths(svc.Values, svc.Set), &guide)
	guide = append(guide, sortedKeys(svc.Secrets)...)
	var mine []string
	flattenKeys("", over, &mine)
	for _, o := range mine {
		for _, g := range guide {
			if o == g || strings.HasPrefix(g, o+".") || strings.HasPrefix(o, g+".") {
				p.problems.Add("values."+svc.Release+"."+o, "the guide sets %s itself; change the config key that feeds it (db:, redis:, domains: …), not the chart value", g)
				break
			}
		}
	}
}

// withSetPaths returns values with every dotted path of set put in as a
// nested value (what helm's --set a.b.c=v does, without its parser);
// values itself is not changed.
func withSetPaths(values, set map[string]any) map[string]any {
	out := deepCopy(values)
	for _, path := range sortedKeys(set) {
		m := out
		parts := strings.Split(path, ".")
		for _, k := range parts[:len(parts)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = set[path]
	}
	return out
}

func deepCopy(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for _, k := range sortedKeys(v) {
		if m, ok := v[k].(map[string]any); ok {
			out[k] = deepCopy(m)
		} else {
			out[k] = v[k]
		}
	}
	return out
}

// withSet is set plus one more path, as a new map.
func withSet(set map[string]any, path string, v any) map[string]any {
	out := maps.Clone(set)
	out[path] = v
	return out
}

// flattenKeys lists the dotted paths of a values map's leaves, in order.
func flattenKeys(prefix string, v map[string]any, out *[]string) {
	for _, k := range sortedKeys(v) {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if m, ok := v[k].(map[string]any); ok && len(m) > 0 {
			flattenKeys(path, m, out)
			continue
		}
		*out = append(*out, path)
	}
}

// waitUp adds the guide's verify command for svc: curl … | jq -r .status.
func (p *c7nPlan) waitUp(svc c7nService) { p.add(p.waitUpStep(svc)) }

// waitUpStep is waitUp's step, for a plan or an undo.
func (p *c7nPlan) waitUpStep(svc c7nService) runbook.Step {
	port := svc.Port
	if v, ok := p.site.Probe.Ports[svc.Release]; ok {
		port = v
	}
	expect := svc.Expect
	if expect.JSONField == "" && expect.BodyContains == "" && expect.Element == nil {
		expect = activities.WaitHTTPInput{JSONField: "status", Equals: "UP"}
	}
	expect.Interval = p.site.Probe.Interval
	what := fmt.Sprintf("%s = %s", expect.JSONField, expect.Equals)
	switch {
	case expect.Element != nil:
		what = "an element " + expect.Element.String()
	case expect.BodyContains != "":
		what = fmt.Sprintf("a page containing %s", expect.BodyContains)
	}
	rel := p.name(svc.Release)
	return runbook.Step{
		Section: p.section,
		Name:    "wait-up/" + svc.Release, Kind: runbook.KindWait,
		Summary:  fmt.Sprintf("wait until a pod of %s answers %s on :%d%s", rel, what, port, svc.Path),
		Activity: kube.WaitUp,
		Input: activities.WaitUpInput{Cluster: p.site.Cluster, Namespace: p.site.Namespace, Release: rel,
			LabelKey: p.site.Probe.LabelKey, Port: port, Path: svc.Path, Via: p.site.Probe.Via, Expect: expect,
			NewRevisionOnly: true},
		Timeout: p.site.Probe.Timeout.D(),
	}
}

// undoFromBackup is the undo of step verb/<release> (delete-release,
// upgrade): the release installed again, or upgraded back, at the chart
// version it ran, with the values backup-values/all saved (its outputs
// chart.X, version.X, path.X and sha256.X, X the site's name), then, when
// svc has a port (the site's probe.ports win), a wait until it is up as
// the guide's verify commands check a service.
func (p *c7nPlan) undoFromBackup(verb string, svc c7nService) []runbook.Step {
	rel := p.name(svc.Release)
	backup := "backup-values/all"
	how := "helm install %s at the chart version it ran, with the values backup-values/all saved"
	if verb != "delete-release" {
		how = "helm upgrade %s back to the chart version it ran, with the values backup-values/all saved"
	}
	undo := []runbook.Step{{Section: p.section,
		Name: runbook.UndoPrefix + verb + "/" + svc.Release, Kind: runbook.KindHelm,
		Summary:  fmt.Sprintf(how, rel),
		Activity: helm.Reinstall,
		Input: activities.HelmReinstallInput{Cluster: p.site.Cluster, Namespace: p.site.Namespace, Release: rel,
			Chart: activities.ChartRef{Repo: p.site.ChartRepo}, Timeout: p.site.HelmTimeout},
		Inputs: map[string]runbook.From{
			"chart.name": {Step: backup, Output: "chart." + rel}, "chart.version": {Step: backup, Output: "version." + rel},
			"valuesFile": {Step: backup, Output: "path." + rel}, "valuesSHA256": {Step: backup, Output: "sha256." + rel}},
		Timeout: p.site.HelmTimeout.D() + 5*time.Minute,
	}}
	if _, ok := p.site.Probe.Ports[svc.Release]; ok || svc.Port != 0 {
		w := p.waitUpStep(svc)
		w.Name = runbook.UndoPrefix + w.Name
		undo = append(undo, w)
	}
	return undo
}

// service upgrades svc and, when the guide verifies it, waits until it is up.
func (p *c7nPlan) service(svc c7nService) {
	p.upgrade(svc)
	if svc.Port != 0 {
		p.waitUp(svc)
	}
}

// followLog adds a wait for a line in a release's pod log.
func (p *c7nPlan) followLog(release, success, why string, failure []string) {
	rel := p.name(release)
	p.add(runbook.Step{
		Name: "follow-log/" + release, Kind: runbook.KindWait,
		Summary:  fmt.Sprintf("follow the log of %s until %q; %s", rel, success, why),
		Activity: kube.FollowLog,
		Input: activities.FollowLogInput{Cluster: p.site.Cluster, Namespace: p.site.Namespace, Release: rel,
			LabelKey: p.site.Probe.LabelKey, Success: success, Failure: failure, NewRevisionOnly: true},
		Timeout: p.site.Probe.LogTimeout.D(),
	})
}

// apiCall adds one of the guide's by-hand API calls: a gate saying what
// will be called, then the call. Without api.url the gate asks a person to
// make it by hand and the step has nothing to run.
func (p *c7nPlan) apiCall(name, byHand string, call activities.HTTPCallInput, onlyIfSkipped string) {
	s := runbook.Step{Name: name, Kind: runbook.KindHTTP, OnlyIfSkipped: onlyIfSkipped}
	if p.site.API.URL == "" {
		s.Kind = runbook.KindGate
		s.Summary = "a person makes an API call by hand: " + firstSentence(byHand)
		s.Gate = &runbook.Gate{Prompt: byHand + " Approve once it is done; reject to skip it (with a comment).",
			RemindAfter: p.site.GateRemindAfter.D(), SkipOnReject: true}
		p.add(s)
		return
	}
	call.URL = strings.TrimRight(p.site.API.URL, "/") + call.URL
	if call.Check != nil {
		check := *call.Check
		check.URL = strings.TrimRight(p.site.API.URL, "/") + check.URL
		call.Check = &check
	}
	call.SecretHeaders = map[string]string{"Authorization": p.site.API.TokenRef}
	call.SecretHosts, call.SecretHostsKey = p.platform, "api.url"
	if call.AnswerTimeout > 0 {
		// One try: room for the whole answer (Call's own limit is 5 min).
		s.Timeout = call.AnswerTimeout.D() + time.Minute
	}
	s.Summary = fmt.Sprintf("%s %s, once a person approves", call.Method, call.URL)
	s.Activity = web.Call
	s.Input = call
	s.Gate = &runbook.Gate{Prompt: fmt.Sprintf("%s The worker will call %s %s with the admin token. Approve to call it now; "+
		"reject (with a comment) if you made the call by hand.", byHand, call.Method, call.URL),
		RemindAfter: p.site.GateRemindAfter.D(), SkipOnReject: true}
	p.add(s)
}

// wikiRefreshAnswer is how long wiki-service's home page refresh may take
// to answer.
const wikiRefreshAnswer = 10 * time.Minute

// devopsDatabase is devops-service's database, as the guides create it.
const devopsDatabase = "devops_service"

// markCheckLog reads devops_check_log's last row id before devops-service's
// smooth upgrade is called (with admin access to the database), so
// waitCheckLog knows which row the call's task writes.
func (p *c7nPlan) markCheckLog() {
	if p.site.DB.Admin == nil {
		return
	}
	p.add(runbook.Step{Name: "mark/devops-check-log", Kind: runbook.KindCheck,
		Summary:  "read the last row of devops_service.devops_check_log before the smooth upgrade call",
		Activity: mysqlA.MarkCheckLog, Input: activities.CheckLogInput{DB: p.dbTarget(), Database: devopsDatabase}})
}

// waitCheckLog waits for the row devops-service writes into
// devops_check_log when the smooth upgrade task ends, and reads its log:
// the guide says to look there; a failed item stops the run before the next
// service is upgraded on top of a half-done migration.
func (p *c7nPlan) waitCheckLog() {
	if p.site.DB.Admin == nil {
		return
	}
	p.add(runbook.Step{Name: "wait/devops-check-log", Kind: runbook.KindWait,
		Summary:  "wait for devops-service's upgrade task to write its devops_check_log row, then check every item says success",
		Activity: mysqlA.WaitCheckLog,
		Input:    activities.CheckLogInput{DB: p.dbTarget(), Database: devopsDatabase, Interval: p.site.Probe.Interval},
		Inputs:   map[string]runbook.From{"afterID": {Step: "mark/devops-check-log", Output: "lastID"}},
		Timeout:  p.site.Probe.LogTimeout.D(),
	})
}

// createDatabases adds the guide's CREATE DATABASE/USER/GRANT block: run
// directly when the worker has admin access, else asked of a person with
// the exact SQL.
func (p *c7nPlan) createDatabases(name string, dbs []activities.DatabaseSpec) {
	names := make([]string, len(dbs))
	for i, d := range dbs {
		names[i] = d.Name
	}
	if p.site.DB.Admin != nil {
		p.add(runbook.Step{
			Name: name, Kind: runbook.KindSQL,
			Summary: fmt.Sprintf("create databases %s and user %s with all privileges on them, if missing",
				strings.Join(names, ", "), p.site.DB.User),
			Activity: mysqlA.EnsureDatabases,
			Input: activities.EnsureDatabasesInput{DB: p.dbTarget(), Databases: dbs,
				User: &activities.DBUser{Name: p.site.DB.User, Host: "%", PasswordRef: p.site.DB.PasswordRef}},
		})
		return
	}
	var sql strings.Builder
	sql.WriteString(fmt.Sprintf("CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '<password of %s>'; ", p.site.DB.User, p.site.DB.PasswordRef))
	for _, d := range dbs {
		sql.WriteString(fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s DEFAULT CHARACTER SET %s", d.Name, d.Charset))
		if d.Collation != "" {
			sql.WriteString(" COLLATE " + d.Collation)
		}
		sql.WriteString("; ")
	}
	for _, d := range dbs {
		sql.WriteString(fmt.Sprintf("GRANT ALL PRIVILEGES ON %s.* TO %s@'%%'; ", d.Name, p.site.DB.User))
	}
	sql.WriteString("FLUSH PRIVILEGES;")
	p.gate(name, fmt.Sprintf("The worker has no admin access to MySQL (db.admin is not set). Run this on %s:%d as an administrator: %s",
		p.site.DB.Host, p.site.DB.Port, sql.String()), false)
}
