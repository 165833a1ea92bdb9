package workflows

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/workflows/runbook"
)

// BlueKingGuide is 「6.1 升级至 6.2.0」 (../shared/seeds/004_f4a11d9d28d232ab.txt,
// read line by line in ../shared/guide-notes/blueking.md): on the control
// host (中控机) and the hosts install.config names, the package is checked
// and unpacked, MySQL, MongoDB, /data/install and /data/src are backed up,
// the deploy scripts and env files are replaced and extended, and every
// product is upgraded in the guide's order, ending with the BlueKing
// business topology rebuilt in CMDB.
var BlueKingGuide = runbook.Guide{Name: "blueking-6.1-6.2", Title: "BlueKing 6.1 → 6.2", Map: blueKingMap}

// blueKingSpec describes the guide to the worker and the starter (guides.go lists it).
var blueKingSpec = Spec{
	Guide:        BlueKingGuide,
	WorkflowType: "BlueKingUpgrade_6_1_to_6_2",
	Workflow:     BlueKingUpgrade61To62,
	NewInput:     func() Input { in := NewBlueKingInput(); return &in },
	Example:      "config/examples/blueking-6.1-6.2.yaml",
	Seed:         "004_f4a11d9d28d232ab.txt",
}

// BlueKingUpgrade61To62 runs the BlueKing 6.1 → 6.2 guide.
func BlueKingUpgrade61To62(ctx workflow.Context, in BlueKingInput) (runbook.RunStatus, error) {
	return runGuide(ctx, BlueKingGuide, &in)
}

// blueKingMap is the guide's sections in its order. 7.17.2 numbers its
// steps 1, 2, 1 and the last section repeats the number 7.14; its ID here is
// 7.18 and its heading is kept as printed.
var blueKingMap = []runbook.Section{
	{ID: "1", Title: "Scope: 6.1 to 6.2", Heading: "1. 适用范围", NotAutomated: "states the versions; preflight/version checks the site is 6.1"},
	{ID: "2", Title: "Notes: paths, control host, outage, agent support", Heading: "2. 说明",
		Manual: "a person picks the maintenance window and checks the agent fleet against GSE 2.0's OS support (approve/maintenance-window)"},
	{ID: "3", Title: "Get the package and check its MD5", Heading: "3. 获取软件包"},
	{ID: "4", Title: "Unpack the 6.2 package", Heading: "4. 解压6.2安装包"},
	{ID: "5", Title: "Back up data", Heading: "5. 数据备份"},
	{ID: "5.1", Title: "Back up MySQL", Heading: "5.1. 备份mysql"},
	{ID: "5.2", Title: "Back up MongoDB", Heading: "5.2. 备份 MongoDB"},
	{ID: "5.3", Title: "Back up /data/install and /data/src", Heading: "5.3. 备份 install、src 目录"},
	{ID: "6", Title: "Replace the package and files", Heading: "6. 更新软件包及相关文件"},
	{ID: "6.1", Title: "Replace the deploy scripts and product packages"},
	{ID: "6.2", Title: "Place the new modules in install.config",
		Manual: "a person confirms (or edits by hand) the install.config layout with redis_cluster, auth, etcd, apigw and iam_search_engine (approve/install-config)"},
	{ID: "6.3", Title: "Add the variables 6.2 needs"},
	{ID: "6.4", Title: "Add the monitor and log variables"},
	{ID: "6.5", Title: "Sync the deploy scripts"},
	{ID: "7", Title: "Upgrade the products", Heading: "7. 开始更新"},
	{ID: "7.1", Title: "PaaS", Heading: "7.1. PaaS 平台"},
	{ID: "7.2", Title: "Nginx templates and the JOB front end", Heading: "7.2. 更新 Nginx 配置文件"},
	{ID: "7.3", Title: "Install bkauth", Heading: "7.3. 安装 bkauth"},
	{ID: "7.4", Title: "Install the API gateway", Heading: "7.4. 安装蓝鲸 API 网关"},
	{ID: "7.5", Title: "Deploy paas_plugins", Heading: "7.5. 部署 paas_plugins"},
	{ID: "7.6", Title: "IAM and its data migration", Heading: "7.6. 权限中心",
		Manual: "the guide's comment (check, then migrate) and its commands (migrate, then check) disagree: a person reads the check's output before migrate (approve/iam-migrate)"},
	{ID: "7.7", Title: "User management", Heading: "7.7. 用户管理"},
	{ID: "7.8", Title: "GSE V1 to V2", Heading: "7.8. 管控平台"},
	{ID: "7.9", Title: "CMDB", Heading: "7.9. 配置平台"},
	{ID: "7.10", Title: "JOB", Heading: "7.10. 作业平台"},
	{ID: "7.10.1", Title: "JOB: yq and the GSE 2.0 switch", Heading: "7.10.1. 前置准备"},
	{ID: "7.10.2", Title: "JOB: upgrade", Heading: "7.10.2. 开始升级"},
	{ID: "7.10.3", Title: "JOB: the upgrader jar, versions read from the VERSION files", Heading: "7.10.3. 升级后操作"},
	{ID: "7.11", Title: "Node manager", Heading: "7.11. 节点管理"},
	{ID: "7.12", Title: "Node manager plugins", Heading: "7.12. 更新插件"},
	{ID: "7.13", Title: "Standard operations (SOPS)", Heading: "7.13. 标准运维"},
	{ID: "7.14", Title: "ITSM", Heading: "7.14. 流程服务"},
	{ID: "7.15", Title: "Monitor", Heading: "7.15. 监控平台"},
	{ID: "7.16", Title: "Log", Heading: "7.16. 日志平台"},
	{ID: "7.17", Title: "Rebuild the BlueKing business topology", Heading: "7.17. 升级拓扑",
		Manual: "only for a topology without custom levels or templates, and it deletes the BlueKing business's topology: a person approves (approve/topology)"},
	{ID: "7.17.1", Title: "Move the hosts to the idle pool", Heading: "7.17.1. 转移主机",
		Manual: "a person moves every host of the 蓝鲸 business to its idle pool in the CMDB UI (signal/hosts-to-idle-pool)"},
	{ID: "7.17.2", Title: "Delete the old topology", Heading: "7.17.2. 删除原有拓扑结构",
		Manual: "a person deletes every cluster of the 蓝鲸 business in the CMDB UI (signal/clusters-deleted)"},
	{ID: "7.17.3", Title: "Rebuild the topology", Heading: "7.17.3. 重建蓝鲸业务拓扑"},
	{ID: "7.18", Title: "Refresh the version table (the guide numbers it 7.14 again)", Heading: "7.14. 刷新版本信息"},
}

// BlueKingInput configures the 6.1 → 6.2 upgrade of one site.
type BlueKingInput struct {
	runbook.Target `mapstructure:",squash" json:",inline"`
	// Hosts is the site: every host of install.config with its modules as
	// install.config lists them for 6.2 (the new redis_cluster, auth, etcd,
	// apigw and iam_search_engine placed), plus the control host. A host
	// whose modules are only [control] is the control host alone and is not
	// written to install.config.
	Hosts config.Inventory `mapstructure:"hosts" json:"hosts"`
	// Control names the control host (中控机) in hosts: where bkcli runs.
	Control string `mapstructure:"control" json:"control"`
	// LanIPs gives the IP install.config lists for a host, by host name;
	// a host not named here is listed by its address's host part.
	LanIPs map[string]string `mapstructure:"lanIPs" json:"lanIPs,omitempty"`
	// Paths are the guide's folders (「目录路径均以默认为主」): change them
	// only where the site differs from the defaults.
	Paths BlueKingPaths `mapstructure:"paths" json:"paths"`
	// Package is the 6.2 package on the control host and its MD5.
	Package BlueKingPackage `mapstructure:"package" json:"package"`
	// MySQL is the server §5.1 dumps, as the MySQL host reaches it. The
	// worker lists its databases to check the dump holds every one, so it
	// needs the admin password as a worker-side secret (passwordRef).
	MySQL DBServer `mapstructure:"mysql" json:"mysql"`
	// MongoDB is the server §5.2 dumps (mongodump --oplog --gzip), as the
	// MongoDB host reaches it.
	MongoDB BlueKingMongo `mapstructure:"mongodb" json:"mongodb"`
	// IAMMigrateScriptURL is where §7.6 downloads migrate_subject_system_group.py.
	IAMMigrateScriptURL string `mapstructure:"iamMigrateScriptURL" json:"iamMigrateScriptURL"`
	// CMDBAdminPort is CMDB's admin server port (the topology unlock call).
	CMDBAdminPort int `mapstructure:"cmdbAdminPort" json:"cmdbAdminPort"`
	// JobUpgradeTimeout bounds `bkcli upgrade job` (「upgrade 需要较长的时间」).
	JobUpgradeTimeout contract.Duration `mapstructure:"jobUpgradeTimeout" json:"jobUpgradeTimeout"`
	// CommandTimeout bounds every other host command.
	CommandTimeout contract.Duration `mapstructure:"commandTimeout" json:"commandTimeout"`
	// DumpTimeout bounds each backup.
	DumpTimeout contract.Duration `mapstructure:"dumpTimeout" json:"dumpTimeout"`
	// GateRemindAfter, when set, reminds about an unanswered gate this often.
	GateRemindAfter contract.Duration `mapstructure:"gateRemindAfter" json:"gateRemindAfter,omitempty"`
}

// BlueKingPaths are the guide's folders.
type BlueKingPaths struct {
	CtrlDir     string `mapstructure:"ctrlDir" json:"ctrlDir"`         // /data/install (CTRL_DIR)
	SrcDir      string `mapstructure:"srcDir" json:"srcDir"`           // /data/src (BK_PKG_SRC_PATH)
	InstallPath string `mapstructure:"installPath" json:"installPath"` // /data/bkce (INSTALL_PATH)
	TmpDir      string `mapstructure:"tmpDir" json:"tmpDir"`           // /data/tmp
	MySQLBackup string `mapstructure:"mysqlBackup" json:"mysqlBackup"` // /data/dbbak
	MongoBackup string `mapstructure:"mongoBackup" json:"mongoBackup"` // /data/mongodb_bak
}

// BlueKingPackage is the 6.2 package.
type BlueKingPackage struct {
	// Path is bkce-src-6.2.2.tgz on the control host.
	Path string `mapstructure:"path" json:"path"`
	// MD5 is the guide's: 4213478c6b2c3e645c0c30009de474b8.
	MD5 string `mapstructure:"md5" json:"md5"`
}

// BlueKingMongo is the MongoDB server §5.2 dumps.
type BlueKingMongo struct {
	DBServer `mapstructure:",squash" json:",inline"`
	// Oplog is the guide's --oplog (a point-in-time dump; BlueKing's MongoDB
	// is a replica set). Turn it off only for a standalone server.
	Oplog bool `mapstructure:"oplog" json:"oplog"`
}

// blueKingNewModules are the modules 6.2 adds to install.config (§6.2).
var blueKingNewModules = []string{"redis_cluster", "auth", "etcd", "apigw", "iam_search_engine"}

// blueKingControlOnly is the module a control host that runs nothing else lists.
const blueKingControlOnly = "control"

// NewBlueKingInput returns the guide's defaults.
func NewBlueKingInput() BlueKingInput {
	return BlueKingInput{
		Target: runbook.Target{From: "6.1", To: "6.2"},
		Paths: BlueKingPaths{CtrlDir: "/data/install", SrcDir: "/data/src", InstallPath: "/data/bkce", TmpDir: "/data/tmp",
			MySQLBackup: "/data/dbbak", MongoBackup: "/data/mongodb_bak"},
		Package:             BlueKingPackage{Path: "/data/bkce-src-6.2.2.tgz", MD5: "4213478c6b2c3e645c0c30009de474b8"},
		MySQL:               DBServer{User: "root"},
		MongoDB:             BlueKingMongo{DBServer: DBServer{User: "admin"}, Oplog: true},
		IAMMigrateScriptURL: "https://bkopen-1252002024.file.myqcloud.com/ce/3c2955e/migrate_subject_system_group.py",
		CMDBAdminPort:       9000,
		JobUpgradeTimeout:   contract.Duration(2 * time.Hour),
		CommandTimeout:      contract.Duration(30 * time.Minute),
		DumpTimeout:         contract.Duration(2 * time.Hour),
	}
}

// GetTarget implements Input.
func (in *BlueKingInput) GetTarget() *runbook.Target { return &in.Target }

var md5Hex = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Validate implements Input: every problem of the config, by key.
func (in *BlueKingInput) Validate() error {
	var p config.Problems
	validateTarget(&p, in.Target, "6.1", "6.2")
	if len(in.Hosts) == 0 {
		p.Add("hosts", "is empty; list the control host and every host of install.config with its modules")
	}
	in.Hosts.Validate("hosts", &p)
	for _, n := range sortedKeys(in.Hosts) {
		if !dns1123Label.MatchString(n) {
			p.Add("hosts."+n+" (key)", "%q is not a host name for step names: lower-case letters, digits and -", n)
		}
		h := in.Hosts[n]
		if h.KeyRef != "" {
			checkSecretRef(&p, "hosts."+n+".keyRef", h.KeyRef, "this host's SSH private key")
		}
	}
	switch {
	case in.Control == "":
		p.Add("control", "is empty; name the control host (中控机) in hosts")
	case len(in.Hosts) > 0:
		if _, ok := in.Hosts[in.Control]; !ok {
			p.Add("control", "%q is not in hosts (%s)", in.Control, strings.Join(sortedKeys(in.Hosts), ", "))
		}
	}
	for _, n := range sortedKeys(in.LanIPs) {
		if _, ok := in.Hosts[n]; !ok {
			p.Add("lanIPs."+n, "names no host in hosts")
		}
		if net.ParseIP(in.LanIPs[n]) == nil {
			p.Add("lanIPs."+n, "%q is not an IP address", in.LanIPs[n])
		}
	}
	if len(in.Hosts) > 0 {
		for _, m := range append([]string{"mysql", "mongodb", "job", "paas", "nginx", "gse", "usermgr", "nodeman", "monitorv3", "log", "cmdb"}, blueKingNewModules...) {
			if len(in.hostsOf(m)) == 0 {
				p.Add("hosts", "no host runs %s; install.config for 6.2 places it on a host (modules: [%s, …])", m, m)
			}
		}
		for _, n := range in.installConfigHosts() {
			if ip := in.lanIP(n); net.ParseIP(ip) == nil {
				p.Add("lanIPs."+n, "is not set and the address %q has no IP; give the IP install.config lists", in.Hosts[n].Address)
			}
		}
		if ms := in.Hosts[in.Control].Modules; len(ms) > 1 && containsStr(ms, blueKingControlOnly) {
			p.Add("hosts."+in.Control+".modules", "lists %s with other modules: [control] means the control host runs nothing else", blueKingControlOnly)
		}
	}
	for _, f := range []struct{ key, v string }{
		{"paths.ctrlDir", in.Paths.CtrlDir}, {"paths.srcDir", in.Paths.SrcDir}, {"paths.installPath", in.Paths.InstallPath},
		{"paths.tmpDir", in.Paths.TmpDir}, {"paths.mysqlBackup", in.Paths.MySQLBackup}, {"paths.mongoBackup", in.Paths.MongoBackup},
		{"package.path", in.Package.Path},
	} {
		switch {
		case f.v == "":
			p.Add(f.key, "is empty")
		case !path.IsAbs(f.v) || path.Clean(f.v) != f.v || f.v == "/":
			p.Add(f.key, "%q must be a clean absolute path, not /", f.v)
		case strings.ContainsAny(f.v, " '\"$`\\;&|<>*?"):
			p.Add(f.key, "%q holds a space or shell character; the guide's commands take it as is", f.v)
		}
	}
	if in.Paths.SrcDir != "" && in.Paths.SrcDir == in.Paths.TmpDir {
		p.Add("paths.tmpDir", "must differ from paths.srcDir (the package unpacks to tmpDir/src)")
	}
	if !md5Hex.MatchString(in.Package.MD5) {
		p.Add("package.md5", "%q is not an MD5 (32 lower-case hex digits; the guide's is 4213478c6b2c3e645c0c30009de474b8)", in.Package.MD5)
	}
	in.MySQL.check(&p, "mysql", "10.0.0.3:3306", "the MySQL admin (for the backup)", false)
	in.MongoDB.check(&p, "mongodb", "10.0.0.3:27017", "the MongoDB admin (for the backup)", true)
	if in.IAMMigrateScriptURL == "" {
		p.Add("iamMigrateScriptURL", "is empty; the guide's is https://bkopen-1252002024.file.myqcloud.com/ce/3c2955e/migrate_subject_system_group.py")
	} else {
		checkURL(&p, "iamMigrateScriptURL", in.IAMMigrateScriptURL, nil)
	}
	checkPort(&p, "cmdbAdminPort", in.CMDBAdminPort)
	checkTimeout(&p, "jobUpgradeTimeout", in.JobUpgradeTimeout.D(), "2h")
	checkTimeout(&p, "commandTimeout", in.CommandTimeout.D(), "30m")
	checkTimeout(&p, "dumpTimeout", in.DumpTimeout.D(), "2h")
	validateRemindAfter(&p, "gateRemindAfter", in.GateRemindAfter.D())
	return finish(&p, in)
}

func containsStr(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// hostsOf is `pcmd -m module`: the hosts whose install.config line names the
// module, alone or with a project in brackets (monitorv3(monitor)); "all"
// is every host of install.config. Sorted by name.
func (in *BlueKingInput) hostsOf(module string) []string {
	var out []string
	for _, n := range sortedKeys(in.Hosts) {
		for _, m := range in.Hosts[n].Modules {
			if m == blueKingControlOnly {
				continue
			}
			if module == "all" || m == module || strings.HasPrefix(m, module+"(") {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// installConfigHosts are the hosts install.config lists.
func (in *BlueKingInput) installConfigHosts() []string { return in.hostsOf("all") }

func (in *BlueKingInput) lanIP(name string) string {
	if ip, ok := in.LanIPs[name]; ok {
		return ip
	}
	h := in.Hosts[name].Address
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

// installConfig is the install.config the inventory describes: one line
// per host, "IP module,module,…", in the inventory's order.
func (in *BlueKingInput) installConfig() string {
	var b strings.Builder
	for _, n := range in.installConfigHosts() {
		fmt.Fprintf(&b, "%s %s\n", in.lanIP(n), strings.Join(in.Hosts[n].Modules, ","))
	}
	return b.String()
}

// first is the first host running a module (the guide's $BK_MYSQL_IP, ssh
// $BK_JOB_IP: bash takes an array's first element).
func (in *BlueKingInput) first(module string) string {
	hs := in.hostsOf(module)
	if len(hs) == 0 {
		return ""
	}
	return hs[0]
}

// bkCmd is one of the guide's commands, as a step runs it.
type bkCmd struct {
	name, summary string
	// script is the guide's command; the plan puts `cd` and `source` before it.
	script string
	// utils sources utils.fc first (the guide's `source /data/install/utils.fc`).
	utils bool
	// repeatable: safe to run again (checks, reads, idempotent writes). Not
	// set, the command runs once per step try under a marker on the host.
	repeatable bool
	kind       runbook.Kind
	expectExit []int
	success    []string
	failure    []string
	ignore     []string
	timeout    time.Duration
	attempts   int32
	requires   []string
	inputs     map[string]runbook.From
	env        map[string]string
	// publish: `name=value` lines that become outputs; tail: the last lines
	// as output "tail" (a gate shows them).
	publish []string
	tail    int
}

// bkPlan builds the guide's steps.
type bkPlan struct {
	in      *BlueKingInput
	section string
	steps   []runbook.Step
}

func (p *bkPlan) add(s runbook.Step) {
	s.Section = p.section
	p.steps = append(p.steps, s)
}

func (p *bkPlan) target(host string) activities.SSHTarget {
	t, _ := activities.TargetFor(p.in.Hosts, host)
	return t
}

// hostStep is a command on one host, with the guide's prologue.
func (p *bkPlan) hostStep(host string, c bkCmd, prologue string) runbook.Step {
	kind := c.kind
	if kind == "" {
		kind = runbook.KindHost
	}
	timeout := c.timeout
	if timeout == 0 {
		timeout = p.in.CommandTimeout.D()
	}
	script := prologue + c.script
	return runbook.Step{
		Name: c.name, Kind: kind, Summary: c.summary,
		Activity: hostA.Run,
		Input: activities.HostCommandInput{
			Host: p.target(host), Command: script, Shell: "bash", Repeatable: c.repeatable, Env: c.env,
			ExpectExit: c.expectExit, Success: c.success, Failure: c.failure, Ignore: c.ignore,
			Publish: c.publish, PublishTail: c.tail,
		},
		Timeout: timeout, MaxAttempts: c.attempts, Requires: c.requires, Inputs: c.inputs,
	}
}

// ctrl runs a command on the control host, in CTRL_DIR (「如无特殊说明，所述操作均在中控机执行」).
func (p *bkPlan) ctrl(c bkCmd) {
	pro := "set -o pipefail\ncd " + p.in.Paths.CtrlDir + "\n"
	if c.utils {
		pro += "source " + p.in.Paths.CtrlDir + "/utils.fc\n"
	}
	p.add(p.hostStep(p.in.Control, c, pro))
}

// on runs a command on one module host (the guide's `ssh $BK_X_IP`).
func (p *bkPlan) on(host string, c bkCmd) {
	pro := "set -o pipefail\nsource " + p.in.Paths.CtrlDir + "/utils.fc\n"
	p.add(p.hostStep(host, c, pro))
}

// pcmd is `pcmd -m module "command"`: the command on every host of the
// module side by side, one step per host (name/host), each with the
// environment pcmd loads first (load_env.sh).
func (p *bkPlan) pcmd(module string, c bkCmd) {
	hosts := p.in.hostsOf(module)
	base := c.name
	for _, h := range hosts {
		hc := c
		hc.name = base + "/" + h
		hc.summary = fmt.Sprintf("pcmd -m %s on %s: %s", module, h, c.summary)
		s := p.hostStep(h, hc, "source "+p.in.Paths.CtrlDir+"/load_env.sh\n")
		if len(hosts) > 1 {
			s.Parallel = base
		}
		s.Section = p.section
		p.steps = append(p.steps, s)
	}
}

// bkcli is `./bkcli ACTION MODULE` on the control host. bkcli prints
// usage and exits 0 on a wrong action, and its pcmd fan-outs print one
// `[FAILURE] <ip>` line per host that failed: those lines fail the step.
func (p *bkPlan) bkcli(args string, c bkCmd) {
	c.script = "./bkcli " + args
	if c.name == "" {
		f := strings.Fields(args)
		c.name = f[0] + "/" + strings.Join(f[1:], "-")
	}
	if c.summary == "" {
		c.summary = "./bkcli " + args
	}
	if f := strings.Fields(args); f[0] == "status" || f[0] == "check" {
		c.kind = runbook.KindCheck
	}
	c.failure = append(c.failure, `\[FAILURE\]`, `^Usage:`, `(?i)\bFATAL\b`)
	p.ctrl(c)
}

// gate adds a step that only asks a person.
func (p *bkPlan) gate(name, summary, prompt string, skipOnReject bool) {
	p.add(runbook.Step{Name: name, Kind: runbook.KindGate, Summary: summary,
		Gate: &runbook.Gate{Prompt: prompt, RemindAfter: p.in.GateRemindAfter.D(), SkipOnReject: skipOnReject}})
}

// guarded appends lines to an env file once: only when its first key is
// not there yet, so a retried step (or a second run) writes nothing twice
// (「>>」 is not idempotent, and rows 32–33 would otherwise regenerate values).
func guardedAppend(file, key, write string) string {
	return fmt.Sprintf("if grep -q '^%s=' %s 2>/dev/null; then echo '%s already holds %s; not appended again'; else\n%s\nfi", key, file, file, key, write)
}

// Service lists of the guide's `systemctl` lines.
var (
	bkPaaSUnits = []string{"bk-paas-apigw.service", "bk-paas-console.service", "bk-paas-login.service", "bk-paas-appengine.service", "bk-paas-esb.service", "bk-paas-paas.service"}
	bkGSEV1     = []string{"bk-gse-config.service", "bk-gse-alarm.service", "bk-gse-api.service", "bk-gse-btsvr.service", "bk-gse-dba.service", "bk-gse-procmgr.service"}
)

// systemctl status exits 3 for a unit that is not running (4 once its
// file is gone): the expected answer when the guide checks that services
// are stopped. A unit still active fails the check.
var stoppedCheck = bkCmd{repeatable: true, expectExit: []int{3, 4}, failure: []string{`Active: active`, `Active: activating`}}

// stopOld is the guide's stop / check stopped / remove units / remove
// virtualenvs sequence for a product whose deployment changed (PaaS,
// usermgr, nodeman, monitor, log).
func (p *bkPlan) stopOld(module, what string, units []string, venvs string, venvViaScript bool) {
	list := strings.Join(units, " ")
	p.pcmd(module, bkCmd{name: "stop-old/" + what, summary: "systemctl disable --now " + list,
		script: "systemctl disable --now " + list})
	check := stoppedCheck
	check.kind = runbook.KindCheck
	check.name, check.summary, check.script = "check-stopped/"+what, "systemctl status "+list+" (exit 3: not running)", "systemctl status "+list
	p.pcmd(module, check)
	files := "/usr/lib/systemd/system/" + units[0]
	if len(units) > 1 {
		files = "/usr/lib/systemd/system/{" + strings.Join(units, ",") + "}"
	}
	p.pcmd(module, bkCmd{name: "remove-units/" + what, summary: "rm -vf the old unit files && systemctl daemon-reload",
		script: "rm -vf " + files + " && systemctl daemon-reload", repeatable: true})
	// rmvirtualenv of a missing env prints "Did not find environment … to
	// remove." and succeeds: safe to repeat.
	c := bkCmd{name: "remove-virtualenv/" + what, summary: "rmvirtualenv " + venvs, script: "rmvirtualenv " + venvs, repeatable: true}
	if venvViaScript {
		// 7.7 writes ./pcmd.sh -m usermgr: the same fan-out.
		c.summary = "./pcmd.sh -m " + module + " rmvirtualenv " + venvs
	}
	p.pcmd(module, c)
}

// Plan implements Input: the guide's steps, in the guide's order.
func (in *BlueKingInput) Plan() ([]runbook.Step, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	p := &bkPlan{in: in}
	P := in.Paths
	ctl := in.Control

	// Read-only checks first: every host answers, the site is 6.1 and the
	// package is the one the guide names.
	p.section = "1"
	var hosts []activities.SSHTarget
	for _, h := range sortedKeys(in.Hosts) {
		hosts = append(hosts, p.target(h))
	}
	// The tools the guide's commands call on every host (tar/rsync/gzip to
	// unpack and copy, flock and sha256sum for the backups' protocol).
	p.add(runbook.Step{Name: "preflight/hosts", Kind: runbook.KindCheck,
		Summary:  fmt.Sprintf("every host (%s) answers over SSH with its host key verified (never trusted on first use) and has tar, rsync, gzip, flock and sha256sum", strings.Join(sortedKeys(in.Hosts), ", ")),
		Activity: preflight.CheckHosts,
		Input:    activities.HostsCheckInput{Hosts: hosts, Tools: []string{"tar", "rsync", "gzip", "flock", "sha256sum"}}})
	p.ctrl(bkCmd{name: "preflight/version", kind: runbook.KindCheck, summary: "the site is 6.1 (" + P.SrcDir + "/VERSION) and bkcli is there",
		script: "test -x ./bkcli && cat " + P.SrcDir + "/VERSION", repeatable: true, success: []string{`^6\.1(\.|$)`}})
	p.ctrl(bkCmd{name: "preflight/not-started", kind: runbook.KindCheck, summary: "nothing of this upgrade ran yet: " + P.SrcDir + ".bak and " + P.TmpDir + "/src are absent",
		script: fmt.Sprintf("for d in %s.bak %s/src; do if [ -e \"$d\" ]; then echo \"$d exists: an upgrade was started here before; finish or clean it by hand\"; exit 1; fi; done; echo clean",
			P.SrcDir, P.TmpDir), repeatable: true})

	p.section = "2"
	p.gate("approve/maintenance-window", "services stop during the upgrade; GSE Agent 2.0 support checked",
		"本次升级会停止部分服务: PaaS, usermgr, GSE, nodeman, monitor and log stop while they are upgraded (about 90 minutes). "+
			"Approve when this is the maintenance window (outside business peak hours) and the agent fleet was checked against GSE 2.0's "+
			"operating-system support (Agent 1.0 → 2.0). Reject to stop before anything changes.", false)

	p.section = "3"
	p.add(runbook.Step{Name: "checksum/package", Kind: runbook.KindCheck, Summary: "MD5 of " + in.Package.Path + " is " + in.Package.MD5,
		Activity: hostA.Checksum, Input: activities.ChecksumInput{Host: ptr(p.target(ctl)), Path: in.Package.Path, Algorithm: "md5", Expect: in.Package.MD5}})

	p.section = "4"
	p.ctrl(bkCmd{name: "unpack/package", summary: "mkdir -p " + P.TmpDir + "; tar xf the package -C " + P.TmpDir,
		script:     "mkdir -p " + P.TmpDir + " && tar xf " + in.Package.Path + " -C " + P.TmpDir + " && ls " + P.TmpDir,
		repeatable: true, requires: []string{"checksum/package"}})

	// 5. Backups: nothing after them runs unless every one succeeded.
	p.section = "5.1"
	mysqlHost, mongoHost := in.first("mysql"), in.first("mongodb")
	dump := path.Join(P.MySQLBackup, "bk_mysql_alldata.sql")
	mysqlDB := in.MySQL.mysql("mysql")
	p.add(runbook.Step{Name: "backup/mysql", Kind: runbook.KindBackup, Timeout: in.DumpTimeout.D(),
		Summary:  "on " + mysqlHost + ": mysqldump (the guide's options) of every database but the ignored ones into " + dump + ", every CREATE DATABASE checked",
		Activity: mysqlA.DumpMySQL,
		Input:    activities.DumpInput{DB: mysqlDB, Via: ptr(p.target(mysqlHost)), OutPath: dump, Options: activities.GuideDumpOptions}})
	drill := restoreDrill("backup/mysql", mysqlDB, p.section, ptr(p.target(mysqlHost)))
	drill.Timeout = in.DumpTimeout.D()
	p.add(drill)
	p.add(runbook.Step{Name: "verify-backup/mysql", Kind: runbook.KindCheck, Summary: "the dump on " + mysqlHost + " is still the one written (sha256)",
		Activity: mysqlA.VerifyBackup, Input: activities.VerifyBackupInput{Via: ptr(p.target(mysqlHost))},
		Inputs: map[string]runbook.From{"path": {Step: "backup/mysql", Output: "path"}, "sha256": {Step: "backup/mysql", Output: "sha256"}}})

	p.section = "5.2"
	mongoDB := activities.MongoTarget{Name: "mongodb", Address: in.MongoDB.Address, User: in.MongoDB.User, PasswordRef: in.MongoDB.PasswordRef}
	p.add(runbook.Step{Name: "backup/mongodb", Kind: runbook.KindBackup, Timeout: in.DumpTimeout.D(),
		Summary:  "on " + mongoHost + ": mongodump --oplog --gzip --out " + P.MongoBackup + ", every collection checked",
		Activity: mongoA.DumpMongo,
		Input:    activities.MongoDumpInput{DB: mongoDB, Via: p.target(mongoHost), OutDir: P.MongoBackup, Oplog: in.MongoDB.Oplog, Gzip: true}})
	drill = mongoRestoreDrill("backup/mongodb", mongoDB, p.section, p.target(mongoHost))
	drill.Timeout = in.DumpTimeout.D()
	p.add(drill)
	p.add(runbook.Step{Name: "verify-backup/mongodb", Kind: runbook.KindCheck, Summary: "the dump on " + mongoHost + " is still the one written (manifest sha256)",
		Activity: mysqlA.VerifyBackup, Input: activities.VerifyBackupInput{Via: ptr(p.target(mongoHost))},
		Inputs: map[string]runbook.From{"path": {Step: "backup/mongodb", Output: "path"}, "sha256": {Step: "backup/mongodb", Output: "sha256"}}})

	p.section = "5.3"
	// The copy's name is made at run time ($(date +%Y%m%d%H%M)): the log records it.
	p.ctrl(bkCmd{name: "backup/install", summary: "cp -a -r " + P.CtrlDir + " " + P.CtrlDir + "_$(date +%Y%m%d%H%M)",
		script: "b=" + P.CtrlDir + "_$(date +%Y%m%d%H%M); cp -a -r " + P.CtrlDir + " \"$b\" && echo \"backup: $b\""})
	// mv twice would move the new src into src.bak/src and lose the old tree
	// 7.10.3 reads: run once, and a retry that finds it done says so.
	p.ctrl(bkCmd{name: "move/src-aside", summary: "mv " + P.SrcDir + " " + P.SrcDir + ".bak (once)",
		script:   fmt.Sprintf("if [ -d %[1]s.bak ] && [ ! -e %[1]s ]; then echo '%[1]s.bak already holds the old tree'; else mv %[1]s %[1]s.bak; fi", P.SrcDir),
		requires: []string{"backup/mysql", "verify-restore/mysql", "verify-backup/mysql", "backup/mongodb", "verify-restore/mongodb", "verify-backup/mongodb", "backup/install"}})
	backups := []string{"backup/mysql", "verify-restore/mysql", "verify-backup/mysql", "backup/mongodb", "verify-restore/mongodb", "verify-backup/mongodb", "backup/install", "move/src-aside"}

	// 6.1 New deploy scripts and packages.
	p.section = "6.1"
	p.ctrl(bkCmd{name: "replace/src", summary: "mv " + P.TmpDir + "/src " + path.Dir(P.SrcDir) + "/ (once)",
		script:   fmt.Sprintf("if [ -d %[2]s ] && [ ! -e %[1]s/src ]; then echo '%[2]s is already the new tree'; else mv %[1]s/src %[3]s/; fi", P.TmpDir, P.SrcDir, path.Dir(P.SrcDir)),
		requires: backups})
	p.ctrl(bkCmd{name: "replace/install", summary: `rsync -avz --delete --exclude=".*" --exclude="install.config" --exclude="bin/0[1234]-*" ` + P.TmpDir + "/install/ " + P.CtrlDir + "/",
		script:     `rsync -avz --delete --exclude=".*" --exclude="install.config" --exclude="bin/0[1234]-*" ` + P.TmpDir + "/install/ " + P.CtrlDir + "/",
		repeatable: true, requires: backups})
	p.ctrl(bkCmd{name: "unpack/products", summary: "cd " + P.SrcDir + "/; for f in *gz; do tar xf $f; done",
		script: "cd " + P.SrcDir + "/ && for f in *gz; do tar xf $f || exit 1; done"})
	p.ctrl(bkCmd{name: "restore/cert", summary: "cp -a " + P.SrcDir + ".bak/cert " + P.SrcDir + "/", script: "cp -a " + P.SrcDir + ".bak/cert " + P.SrcDir + "/", repeatable: true})
	p.ctrl(bkCmd{name: "restore/backup", summary: "cp -a " + P.SrcDir + ".bak/backup " + P.SrcDir + "/", script: "cp -a " + P.SrcDir + ".bak/backup " + P.SrcDir + "/", repeatable: true})

	// 6.2 install.config: the layout the inventory gives, confirmed by a person.
	p.section = "6.2"
	layout := in.installConfig()
	p.ctrl(bkCmd{name: "show/install-config", kind: runbook.KindCheck, summary: "the current install.config", script: "cat install.config", repeatable: true})
	p.add(runbook.Step{Name: "approve/install-config", Kind: runbook.KindHost,
		Summary: "write install.config with the new modules (redis_cluster, auth, etcd, apigw, iam_search_engine)",
		Gate: &runbook.Gate{RemindAfter: in.GateRemindAfter.D(), SkipOnReject: true, Show: []string{"show/install-config"},
			Prompt: "Proposed " + P.CtrlDir + "/install.config (from the inventory; 请合理评估机器资源):\n" + layout +
				"Approve to write it (the current one is kept as install.config.bak-6.1). Reject, with a comment, when you edited install.config by hand instead; " +
				"check/install-config then checks your file."},
		Activity: hostA.Run, Timeout: in.CommandTimeout.D(),
		Input: activities.HostCommandInput{Host: p.target(ctl), Shell: "bash", Repeatable: true,
			Command: fmt.Sprintf("set -e\ncd %s\n[ -e install.config.bak-6.1 ] || cp -a install.config install.config.bak-6.1\ncat > install.config.new <<'__INSTALL_CONFIG__'\n%s__INSTALL_CONFIG__\nmv install.config.new install.config\ncat install.config", P.CtrlDir, layout)}})
	var grepNew []string
	for _, m := range blueKingNewModules {
		grepNew = append(grepNew, fmt.Sprintf("grep -Eq '[ ,]%s(,|$)' install.config || { echo 'install.config places no %s'; exit 1; }", m, m))
	}
	p.ctrl(bkCmd{name: "check/install-config", kind: runbook.KindCheck, summary: "install.config places every new module", repeatable: true,
		script: strings.Join(grepNew, "\n") + "\necho 'install.config places redis_cluster, auth, etcd, apigw, iam_search_engine'"})

	// 6.3 and 6.4: appended once, even when a step is retried.
	p.section = "6.3"
	p.ctrl(bkCmd{name: "env/dbadmin", utils: true, summary: "./bin/generate_blueking_generate_envvars.sh dbadmin >> bin/01-generate/dbadmin.env (it prints only missing keys)",
		script: "./bin/generate_blueking_generate_envvars.sh dbadmin >> bin/01-generate/dbadmin.env"})
	p.ctrl(bkCmd{name: "env/gse", utils: true, summary: "BK_GSE_REDIS_PASSWORD, BK_GSE_ZK_TOKEN into bin/03-userdef/gse.env (once)",
		script: guardedAppend("bin/03-userdef/gse.env", "BK_GSE_REDIS_PASSWORD",
			"cat >> bin/03-userdef/gse.env <<__GSE__\n\nBK_GSE_REDIS_PASSWORD=$(awk -F '=' '/BK_REDIS_CLUSTER_ADMIN_PASSWORD/{print $2}' bin/01-generate/dbadmin.env)\nBK_GSE_ZK_TOKEN=${BK_GSE_ZK_AUTH}\n__GSE__") +
			"\nfor k in BK_GSE_REDIS_PASSWORD BK_GSE_ZK_TOKEN; do grep -Eq \"^$k=.+\" bin/03-userdef/gse.env || { echo \"$k is empty in bin/03-userdef/gse.env\"; exit 1; }; done"})
	p.ctrl(bkCmd{name: "env/job", utils: true, summary: "BK_JOB_RUN_MODE=stable and the JOB 6.2 keys into bin/03-userdef/job.env (once)",
		script: guardedAppend("bin/03-userdef/job.env", "BK_JOB_RUN_MODE",
			"cat >> bin/03-userdef/job.env <<__JOB__\n\nBK_JOB_RUN_MODE=stable\nBK_JOB_MONGODB_URI=${BK_JOB_LOGSVR_MONGODB_URI}\nBK_JOB_RABBITMQ_PASSWORD=${BK_JOB_EXECUTE_RABBITMQ_PASSWORD}\nBK_JOB_MYSQL_PASSWORD=${BK_JOB_EXECUTE_MYSQL_PASSWORD}\nBK_JOB_REDIS_PASSWORD=${BK_JOB_EXECUTE_REDIS_PASSWORD}\nBK_JOB_CRONTAB_SERVER_HOST0=$BK_JOB_IP\n__JOB__")})
	p.ctrl(bkCmd{name: "env/job-domain", utils: true, repeatable: true, summary: "BK_JOB_API_PUBLIC_URL/ADDR = the JOB domain in bin/03-userdef/global.env (sed, idempotent)",
		script: "sed  -i -e \"\\#BK_JOB_API_PUBLIC_URL#s#=.*#=\\\"${BK_JOB_PUBLIC_URL}\\\"#g\" \\\n     -e \"\\#BK_JOB_API_PUBLIC_ADDR#s#=.*#=\\\"${BK_JOB_PUBLIC_ADDR}\\\"#g\" \\\n     bin/03-userdef/global.env"})
	for _, f := range []string{"gse", "cmdb", "bknodeman"} {
		file := "bin/03-userdef/" + f + ".env"
		p.ctrl(bkCmd{name: "env/agent-v1-" + f, summary: "BK_GSE_AGENT_VERSION=v1 into " + file + " (once)",
			script: guardedAppend(file, "BK_GSE_AGENT_VERSION", "printf '\\nBK_GSE_AGENT_VERSION=v1\\n' >> "+file)})
	}
	p.section = "6.4"
	for _, f := range []string{"bkmonitorv3", "bklog"} {
		file := "bin/default/" + f + ".env"
		p.ctrl(bkCmd{name: "env/ssm-keys-" + f, summary: "BK_SSM_HOST=, BK_SSM_PORT= into " + file + " (once)",
			script: guardedAppend(file, "BK_SSM_HOST", "printf '\\nBK_SSM_HOST=\\nBK_SSM_PORT=\\n' >> "+file)})
	}
	p.ctrl(bkCmd{name: "env/monitor-run-mode", summary: "BK_MONITOR_RUN_MODE=stable into bin/03-userdef/bkmonitorv3.env (once)",
		script: guardedAppend("bin/03-userdef/bkmonitorv3.env", "BK_MONITOR_RUN_MODE",
			// printf without a leading newline would glue it to an unterminated last line.
			"[ -z \"$(tail -c1 bin/03-userdef/bkmonitorv3.env 2>/dev/null)\" ] || echo >> bin/03-userdef/bkmonitorv3.env\nprintf 'BK_MONITOR_RUN_MODE=stable\\n' >> bin/03-userdef/bkmonitorv3.env")})
	for _, f := range []string{"bkmonitorv3", "bklog"} {
		file := "bin/03-userdef/" + f + ".env"
		p.ctrl(bkCmd{name: "env/ssm-" + f, summary: "BK_SSM_HOST=bkssm.service.consul, BK_SSM_PORT=5000 into " + file + " (once)",
			script: guardedAppend(file, "BK_SSM_HOST", "printf '\\nBK_SSM_HOST=bkssm.service.consul\\nBK_SSM_PORT=5000\\n' >> "+file)})
	}
	p.section = "6.5"
	p.bkcli("install bkenv", bkCmd{repeatable: true})
	p.bkcli("sync common", bkCmd{repeatable: true})

	// 7.1 PaaS.
	p.section = "7.1"
	p.stopOld("paas", "paas", bkPaaSUnits, "open_paas-apigw open_paas-appengine open_paas-console open_paas-esb open_paas-login open_paas-paas", false)
	p.bkcli("sync paas", bkCmd{repeatable: true})
	p.bkcli("install paas", bkCmd{})
	p.bkcli("status paas", bkCmd{repeatable: true})
	p.bkcli("check paas", bkCmd{repeatable: true})
	p.ctrl(bkCmd{name: "saas-env/add", summary: "source tools.sh; add_saas_environment", script: "source tools.sh\nadd_saas_environment", repeatable: true})

	// 7.2 Nginx templates, then the JOB front end at once (the domains merged).
	p.section = "7.2"
	p.pcmd("nginx", bkCmd{name: "nginx/templates", summary: "rsync the nginx templates into /etc/consul-template/templates", repeatable: true,
		script: "rsync -av --delete " + P.CtrlDir + "/support-files/templates/nginx/*.conf /etc/consul-template/templates"})
	p.pcmd("nginx", bkCmd{name: "nginx/reload", summary: "systemctl reload consul-template.service", repeatable: true,
		script: "systemctl reload consul-template.service"})
	p.pcmd("nginx", bkCmd{name: "job-frontend/release", summary: "release_job_frontend.sh", repeatable: true,
		script: "${CTRL_DIR}/bin/release_job_frontend.sh -p ${INSTALL_PATH} -B ${BK_PKG_SRC_PATH}/backup -s ${BK_PKG_SRC_PATH}/ -i $BK_JOB_API_PUBLIC_URL"})

	p.section = "7.3"
	p.bkcli("sync bkauth", bkCmd{repeatable: true})
	p.bkcli("install bkauth", bkCmd{})
	p.bkcli("start bkauth", bkCmd{repeatable: true})
	p.bkcli("status bkauth", bkCmd{repeatable: true})

	p.section = "7.4"
	// bk_install journals its own sub-steps in .bk_install.step and skips done ones.
	p.ctrl(bkCmd{name: "bk_install/apigw", summary: "./bk_install apigw (etcd, apigw, apisix)", script: "./bk_install apigw", repeatable: true,
		failure: []string{`(?i)\bFATAL\b`, `^Usage:`, `\[FAILURE\]`}})
	p.bkcli("status apigw", bkCmd{repeatable: true})
	p.bkcli("status apisix", bkCmd{repeatable: true})

	p.section = "7.5"
	p.bkcli("sync paas_plugins", bkCmd{repeatable: true})
	p.bkcli("install paas_plugins", bkCmd{})
	p.bkcli("restart paas_plugins", bkCmd{repeatable: true})
	p.bkcli("status paas_plugins", bkCmd{repeatable: true})

	// 7.6 IAM, then the data migration: check → a person reads it → migrate → check.
	p.section = "7.6"
	p.bkcli("upgrade bkiam", bkCmd{})
	p.bkcli("status bkiam", bkCmd{repeatable: true})
	p.bkcli("check bkiam", bkCmd{repeatable: true})
	p.bkcli("install saas-o bk_iam", bkCmd{name: "install-saas/bk_iam", success: []string{`SaaS application bk_iam has been deployed successfully`}, failure: []string{`Deploy saas .* failed`}})
	script := "/data/migrate_subject_system_group.py"
	p.ctrl(bkCmd{name: "download/iam-migrate-script", summary: "curl -L -o " + script + " (sha256 recorded)", repeatable: true,
		script: "curl -fsSL -o " + script + " " + in.IAMMigrateScriptURL + " && chmod +x " + script + " && sha256sum " + script})
	p.ctrl(bkCmd{name: "install/pymysql", summary: "/opt/py36/bin/pip3 install PyMySQL", script: "/opt/py36/bin/pip3 install PyMySQL", repeatable: true})
	migrate := func(action string) string {
		return "/opt/py36/bin/python3 " + script + " -H ${BK_MYSQL_IP} -P 3306 -u ${BK_MYSQL_ADMIN_USER} -p ${BK_MYSQL_ADMIN_PASSWORD} -D bkiam " + action
	}
	// Before migrate the vendor's check raises on data not migrated yet
	// (exit 1: "… not exists", "… not match"), which is what it should find;
	// a check that cannot reach or read the database, or crashes otherwise,
	// is a problem and stops the run here, before migrate.
	p.ctrl(bkCmd{name: "check/iam-before-migrate", kind: runbook.KindCheck, utils: true, repeatable: true, expectExit: []int{0, 1},
		summary: "migrate_subject_system_group.py check, before migrate (its output is shown at approve/iam-migrate)",
		script:  migrate("check"),
		failure: []string{`OperationalError`, `ProgrammingError`, `InternalError`, `Access denied`, `Can't connect`, `No module named`, `command not found`, `No such file`},
		ignore:  []string{`^Exception: .*(not exists|not match)`}, tail: 15})
	p.ctrl(bkCmd{name: "migrate/iam-subject-system-group", utils: true,
		summary: "migrate_subject_system_group.py migrate (re-entrant per bk-iam: CREATE TABLE IF NOT EXISTS, INSERT … ON DUPLICATE KEY, INSERT IGNORE)",
		script:  migrate("migrate"), failure: []string{`Traceback`, `Exception`}})
	p.steps[len(p.steps)-1].Gate = &runbook.Gate{RemindAfter: in.GateRemindAfter.D(), Show: append([]string{"check/iam-before-migrate"}, drillsBefore(p.steps)...),
		Prompt: "先执行 check 观察输出无异常后再执行 migrate: read check/iam-before-migrate's output (below, and its log). Before the first migrate it reports data " +
			"not migrated yet (\"… not exists\" / \"… not match\"); anything else is a problem. Do not grant group permissions in the IAM SaaS while it runs. " +
			"Approve to migrate; reject to stop the run here."}
	p.ctrl(bkCmd{name: "check/iam-after-migrate", kind: runbook.KindCheck, utils: true, repeatable: true, summary: "migrate_subject_system_group.py check: all data migrated",
		script: migrate("check"), success: []string{`check completed, all data migrate completed`}, failure: []string{`Traceback`, `Exception`}})

	// 7.7 User management.
	p.section = "7.7"
	p.stopOld("usermgr", "usermgr", []string{"bk-usermgr.service"}, "usermgr-api", true)
	p.bkcli("install saas-o bk_user_manage", bkCmd{name: "install-saas/bk_user_manage", success: []string{`SaaS application bk_user_manage has been deployed successfully`}, failure: []string{`Deploy saas .* failed`}})
	p.bkcli("sync usermgr", bkCmd{repeatable: true})
	p.bkcli("install usermgr", bkCmd{})
	p.bkcli("status usermgr", bkCmd{repeatable: true})

	// 7.8 GSE: the new V2 processes first, then the old V1 ones go.
	p.section = "7.8"
	p.bkcli("install redis_cluster", bkCmd{})
	p.bkcli("status redis_cluster", bkCmd{repeatable: true})
	p.bkcli("sync gse", bkCmd{repeatable: true})
	// The guide names this output as expected (「可以忽略」); nothing else is.
	p.ctrl(bkCmd{name: "install/gse", summary: "./bkcli install gse (the guide's 400 网关 SDK 发布失败 output is expected)", script: "./bkcli install gse",
		failure: []string{`\[FAILURE\]`, `(?i)\bFATAL\b`, `(?i)\berror\b`, `(?i)\bfailed\b`, `^Usage:`},
		ignore: []string{
			`^API gateway released .*, title bk-gse-v2, stages \['prod'\]$`,
			`^warning!! generate sdks failed: status_code: 400, code: 50100, 网关 SDK 发布失败，请联系管理员。$`,
			`^Stderr: request bkapi failed\. status_code: <Response \[400\]>,$`,
			`^bkapi_client_core\.exceptions\.HTTPResponseError: 400 Client Error: Bad Request for url: http://apigw-apigateway\.service\.consul:6006/api/bk-apigateway/prod/api/v1/apis/bk-gse/sdk/, status_code: 400, request_id: [0-9a-f-]+$`,
		}})
	p.bkcli("restart gse", bkCmd{repeatable: true})
	gseV1 := strings.Join(bkGSEV1, " ")
	p.pcmd("gse", bkCmd{name: "stop-old/gse-v1", summary: "systemctl disable --now the six GSE V1 services", script: "systemctl disable --now " + gseV1, repeatable: true})
	p.pcmd("gse", bkCmd{name: "remove-units/gse-v1", summary: "rm -vf the GSE V1 unit files && systemctl daemon-reload", repeatable: true,
		script: "rm -vf /usr/lib/systemd/system/{" + strings.Join(bkGSEV1, ",") + "} && systemctl daemon-reload"})
	p.bkcli("status gse", bkCmd{repeatable: true})
	p.bkcli("check gse", bkCmd{repeatable: true})

	// 7.9 CMDB.
	p.section = "7.9"
	p.bkcli("upgrade cmdb", bkCmd{})
	p.bkcli("status cmdb", bkCmd{repeatable: true})
	p.bkcli("check cmdb", bkCmd{repeatable: true})

	// 7.10 JOB.
	p.section = "7.10.1"
	p.pcmd("all", bkCmd{name: "install/yq", summary: "rsync -a ${CTRL_DIR}/bin/yq /usr/local/bin/ && chmod +x", repeatable: true,
		script: "rsync -a ${CTRL_DIR}/bin/yq /usr/local/bin/ && chmod +x /usr/local/bin/yq"})
	appYml := "'" + P.SrcDir + "/job/support-files/templates/#etc#job#job-common#application.yml'"
	p.ctrl(bkCmd{name: "job/gse-v2-off", summary: "yq -i '.job.features.gseV2.enabled = false' application.yml", repeatable: true,
		script: "yq -i '.job.features.gseV2.enabled = false' " + appYml})
	// yq prints null for a missing path and exits 0: only "false" will do.
	p.ctrl(bkCmd{name: "job/gse-v2-check", kind: runbook.KindCheck, summary: "yq '.job.features.gseV2.enabled' reads back false", repeatable: true,
		script: "yq '.job.features.gseV2.enabled' " + appYml, success: []string{`^false$`}, failure: []string{`^(true|null)$`}})
	p.section = "7.10.2"
	// Not repeatable: a retry after a lost worker reattaches to the running upgrade.
	p.bkcli("upgrade job", bkCmd{timeout: in.JobUpgradeTimeout.D()})
	p.bkcli("check job", bkCmd{repeatable: true})
	p.section = "7.10.3"
	p.ctrl(bkCmd{name: "job/versions", kind: runbook.KindCheck, summary: "from_version = " + P.SrcDir + ".bak/job/VERSION, to_version = " + P.SrcDir + "/job/VERSION", repeatable: true,
		script:  fmt.Sprintf("echo \"from_version=$(cat %s.bak/job/VERSION)\"\necho \"to_version=$(cat %s/job/VERSION)\"", P.SrcDir, P.SrcDir),
		success: []string{`^from_version=\S+$`, `^to_version=\S+$`}, publish: []string{"from_version", "to_version"}})
	jobHost := in.first("job")
	for _, phase := range []string{"BEFORE_UPDATE_JOB", "AFTER_UPDATE_JOB"} {
		p.on(jobHost, bkCmd{name: "job/upgrader-" + strings.ToLower(strings.TrimSuffix(phase, "_UPDATE_JOB")),
			summary: "on " + jobHost + ": upgrader-$to_version.jar $from_version $to_version " + phase + " (once)",
			script: "test -n \"$from_version\" && test -n \"$to_version\" || { echo 'from_version/to_version not read'; exit 2; }\n" +
				"/usr/bin/java -Dfile.encoding=utf8 -Djob.log.dir=$INSTALL_PATH/logs/job -Dconfig.file=$INSTALL_PATH/etc/job/upgrader/upgrader.properties -jar $INSTALL_PATH/job/backend/upgrader-$to_version.jar $from_version $to_version " + phase + " </dev/null",
			// The upgrader exited 0 on failed tasks before bk-job 421ceff27: its words decide.
			success: []string{`(All \d+ upgradeTasks finished successfully|No matched upgradeTasks need to run)`},
			failure: []string{`others not run yet, please check`, `Please input param value`, `Exception in thread`},
			inputs:  map[string]runbook.From{"env.from_version": {Step: "job/versions", Output: "from_version"}, "env.to_version": {Step: "job/versions", Output: "to_version"}},
			env:     map[string]string{"from_version": "", "to_version": ""}})
	}

	// 7.11 Node manager, 7.12 its plugins.
	p.section = "7.11"
	p.stopOld("nodeman", "nodeman", []string{"bk-nodeman.service"}, "bknodeman-nodeman", false)
	p.bkcli("install saas-o bk_nodeman", bkCmd{name: "install-saas/bk_nodeman", success: []string{`SaaS application bk_nodeman has been deployed successfully`}, failure: []string{`Deploy saas .* failed`}})
	p.bkcli("sync nodeman", bkCmd{repeatable: true})
	p.bkcli("install nodeman", bkCmd{})
	p.bkcli("status nodeman", bkCmd{repeatable: true})
	p.section = "7.12"
	p.bkcli("initdata nodeman", bkCmd{})

	p.section = "7.13"
	p.ctrl(bkCmd{name: "install-saas/bk_sops", summary: "./bk_install saas-o bk_sops", script: "./bk_install saas-o bk_sops",
		success: []string{`SaaS application bk_sops has been deployed successfully`}, failure: []string{`Deploy saas .* failed`}})
	p.section = "7.14"
	p.ctrl(bkCmd{name: "install-saas/bk_itsm", summary: "./bk_install saas-o bk_itsm", script: "./bk_install saas-o bk_itsm",
		success: []string{`SaaS application bk_itsm has been deployed successfully`}, failure: []string{`Deploy saas .* failed`}})

	// 7.15 Monitor: SaaS first (retried once on a timeout, as the guide says), then the back end.
	p.section = "7.15"
	p.stopOld("monitorv3", "monitor", []string{"bk-monitor.service"}, "bkmonitorv3-monitor", false)
	p.ctrl(bkCmd{name: "install-saas/bk_monitorv3", summary: "./bkcli install saas-o bk_monitorv3 (「首次部署可能会超时失败，重试即可」: one automatic retry)",
		script:  "./bkcli install saas-o bk_monitorv3 || { echo 'first deploy failed (the guide: it may time out); retrying once'; ./bkcli install saas-o bk_monitorv3; }",
		success: []string{`SaaS application bk_monitorv3 has been deployed successfully`}, failure: []string{`\[FAILURE\]`}})
	p.bkcli("stop bkmonitorv3", bkCmd{repeatable: true})
	p.bkcli("sync bkmonitorv3", bkCmd{repeatable: true})
	p.bkcli("install bkmonitorv3", bkCmd{})
	p.bkcli("status bkmonitorv3", bkCmd{repeatable: true})
	p.bkcli("check bkmonitorv3", bkCmd{repeatable: true})
	monHost := in.first("monitorv3(monitor)")
	if monHost == "" {
		monHost = in.first("monitorv3")
	}
	p.on(monHost, bkCmd{name: "monitor/init-space-data", summary: "docker exec bk-monitor ./bin/manage.sh init_space_data", repeatable: true,
		script: "docker exec bk-monitor ./bin/manage.sh init_space_data", success: []string{`init space data successfully`}})
	p.on(monHost, bkCmd{name: "monitor/iam-upgrade-v2", summary: "docker cp support-files; docker exec bk-monitor ./bin/api_manage.sh iam_upgrade_action_v2", repeatable: true,
		script: "docker cp " + P.InstallPath + "/bkmonitorv3/support-files bk-monitor:" + P.InstallPath + "/bkmonitorv3/monitor/support-files\ndocker exec bk-monitor ./bin/api_manage.sh iam_upgrade_action_v2",
		// It exits 0 either way: its words decide.
		success: []string{`Congratulations! IAM upgrade successfully!!!`}, failure: []string{`Sorry, maybe something wrong with IAM upgrade`}})

	// 7.16 Log.
	p.section = "7.16"
	p.stopOld("log", "log", []string{"bk-log-api.service"}, "bklog-api", false)
	p.bkcli("stop bklog", bkCmd{repeatable: true})
	p.bkcli("install saas-o bk_log_search", bkCmd{name: "install-saas/bk_log_search", success: []string{`SaaS application bk_log_search has been deployed successfully`}, failure: []string{`Deploy saas .* failed`}})
	p.bkcli("sync bklog", bkCmd{repeatable: true})
	p.bkcli("install bklog", bkCmd{})
	p.bkcli("status bklog", bkCmd{repeatable: true})
	p.bkcli("check bklog", bkCmd{repeatable: true})
	logHost := in.first("log(api)")
	if logHost == "" {
		logHost = in.first("log")
	}
	p.on(logHost, bkCmd{name: "log/iam-upgrade-v2", summary: "docker exec bk-log-api … manage.py iam_upgrade_action_v2", repeatable: true,
		script: "docker exec bk-log-api mkdir -p " + P.InstallPath + "/bklog/api/support-files/iam\ndocker cp " + P.InstallPath + "/bklog/support-files/iam/  bk-log-api:" + P.InstallPath + "/bklog/api/support-files\n" +
			"docker exec bk-log-api bash -lc \"source bin/environ.sh; /cache/.bk/env/bin/python3 manage.py iam_upgrade_action_v2\"",
		success: []string{`Congratulations! IAM upgrade successfully!!!`}, failure: []string{`Sorry, maybe something wrong with IAM upgrade`},
		// 「输出的堆栈中带有 report.bkmonitorv3.service.consul Name or service not known，可以忽略」
		ignore: []string{`report\.bkmonitorv3\.service\.consul`, `Name or service not known`}})

	// 7.17 Topology: after every back end above; people do the CMDB UI parts.
	p.section = "7.17"
	p.gate("approve/topology", "the BlueKing business topology is rebuilt",
		"升级拓扑 deletes every topology, service template and set template of the 蓝鲸 business and rebuilds them. It applies only when that business has "+
			"no custom levels and no custom service templates (otherwise handle it by hand: reject, with a comment, to skip 7.17's automatic steps and stop). "+
			"Approve to go on.", false)
	p.steps[len(p.steps)-1].Gate.Show = drillsBefore(p.steps) // what the databases' backups proved
	p.section = "7.17.1"
	for _, h := range in.installConfigHosts() {
		s := p.hostStep(h, bkCmd{name: "show/installed-module/" + h, kind: runbook.KindCheck, summary: "cat " + P.InstallPath + "/.installed_module", repeatable: true,
			script: "cat " + P.InstallPath + "/.installed_module", tail: 40}, "")
		s.Parallel = "show/installed-module"
		s.Section = p.section
		p.steps = append(p.steps, s)
	}
	var shown []string
	for _, h := range in.installConfigHosts() {
		shown = append(shown, "show/installed-module/"+h)
	}
	p.add(runbook.Step{Name: "signal/hosts-to-idle-pool", Kind: runbook.KindGate, Summary: "a person moved every host of the 蓝鲸 business to its idle pool",
		Gate: &runbook.Gate{RemindAfter: in.GateRemindAfter.D(), Show: shown,
			Prompt: "In the CMDB UI, move every host of the 蓝鲸 business to the business's idle pool (转移主机至空闲机). Each host's " + P.InstallPath +
				"/.installed_module (below) lists the modules it goes back to when initdata topo rebuilds the topology. Approve when done."}})
	p.section = "7.17.2"
	cmdbHost := in.first("cmdb")
	p.ctrl(bkCmd{name: "cmdb/allow-blueking-modify", utils: true, repeatable: true,
		summary: "POST " + in.lanIP(cmdbHost) + ":" + fmt.Sprint(in.CMDBAdminPort) + "/migrate/v3/migrate/system/user_config/blueking_modify/true (an upsert; open for 6 hours)",
		script:  fmt.Sprintf("curl -sS -H 'BK_USER:admin' -H 'BK_SUPPLIER_ID:0' -H 'HTTP_BLUEKING_SUPPLIER_ID:0' -X POST $BK_CMDB_IP0:%d/migrate/v3/migrate/system/user_config/blueking_modify/true; echo", in.CMDBAdminPort),
		success: []string{`"result":\s*true`}})
	p.add(runbook.Step{Name: "signal/clusters-deleted", Kind: runbook.KindGate, Summary: "a person deleted every cluster of the 蓝鲸 business in the CMDB UI",
		Gate: &runbook.Gate{RemindAfter: in.GateRemindAfter.D(),
			Prompt: "In the CMDB UI, delete every cluster (集群) of the 蓝鲸 business: 节点信息 → 删除节点 on each. The unlock of cmdb/allow-blueking-modify lasts 6 hours; " +
				"if it ran longer ago, run it again first (decide … retry is not needed: it is repeatable by hand with the same curl). Approve when every cluster is gone; " +
				"your name and comment are recorded."}})
	p.ctrl(bkCmd{name: "topology/delete-templates", utils: true, summary: "create_blueking_set.py --delete: every service and set template of the 蓝鲸 business (once)",
		script:  "/opt/py36/bin/python ${CTRL_DIR}/bin/create_blueking_set.py -c ${BK_PAAS_APP_CODE}  -t ${BK_PAAS_APP_SECRET} --delete",
		failure: []string{`Traceback`}, requires: []string{"signal/hosts-to-idle-pool", "signal/clusters-deleted"}})
	p.section = "7.17.3"
	p.ctrl(bkCmd{name: "topology/job-full-modules", repeatable: true, summary: "create_blueking_set.py lists the full JOB module set (sed, idempotent)",
		script: `sed -i 's/"job": \[.*\]/"job": \["job-config", "job-crontab", "job-execute", "job-gateway", "job-logsvr", "job-manage", "job-backup", "job-analysis"\]/' ` + P.CtrlDir + "/bin/create_blueking_set.py\n" +
			"grep -F '\"job\": [\"job-config\", \"job-crontab\", \"job-execute\", \"job-gateway\", \"job-logsvr\", \"job-manage\", \"job-backup\", \"job-analysis\"]' " + P.CtrlDir + "/bin/create_blueking_set.py"})
	p.bkcli("sync common", bkCmd{name: "sync/common-topology", repeatable: true})
	// Creating again on a half-done topology hits duplicate names: once.
	p.bkcli("initdata topo", bkCmd{requires: []string{"topology/delete-templates"}})

	p.section = "7.18"
	p.ctrl(bkCmd{name: "version/update-common-info", summary: "source tools.sh; _update_common_info (REPLACE INTO bksuite_common.production_info)", repeatable: true,
		script: "source " + P.CtrlDir + "/tools.sh\n_update_common_info"})

	steps := p.steps
	if err := runbook.ValidatePlan(steps); err != nil {
		return nil, err
	}
	return steps, nil
}

func ptr[T any](v T) *T { return &v }

var (
	hostA  *activities.Host
	mongoA *activities.Mongo
)
