package workflows

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/workflows/runbook"
)

// WeCube400Guide is 「WeCube v4.0.0升级部署文档」 (../shared/seeds/002_d61de7f7379eeef7.txt):
// DDL on the auth_server and wecube databases, four docker-compose files
// started in order on the host, a system variable in coexist mode, and every
// running plugin re-registered by hand in the new UI. The guide has no
// section numbers: Map follows its headings.
var WeCube400Guide = runbook.Guide{Name: "wecube-4.0.0", Title: "WeCube v3.x → v4.0.0 (docker-compose)", Map: []runbook.Section{
	{ID: "notes", Title: "Upgrade notes", Heading: "升级说明", NotAutomated: "a heading; its two parts follow"},
	{ID: "modes", Title: "Coexist or replace", Heading: "升级支持两种方式：",
		Manual: "the config's mode chooses; replace mode waits for a person at approve/replace-mode with the guide's warning, and stops the old containers only after the new WeCube answers"},
	{ID: "coexist", Title: "Running old and new side by side", Heading: "在两套并存的情况下需要注意的一些事项：",
		Manual:   "shared plugin instances: every plugin is re-registered on both WeCubes (the reregister-plugin steps say so); orchestration settings inside plugins are reviewed by a person (review/plugin-orchestrations)",
		Anywhere: "the guide's cautions for coexist mode come first but apply once the plugins are re-registered, at the end"},
	{ID: "prepare", Title: "Preparation", Heading: "升级准备", NotAutomated: "a heading; its parts follow"},
	{ID: "hardware", Title: "Hosts and ports", Heading: "硬件资源",
		Manual: "new hosts (2 × 4 cores/8 GB/100 GB) are prepared by a person; preflight/ports checks the new ports are free beside the old WeCube"},
	{ID: "ddl-files", Title: "DDL files", Heading: "数据库升级ddl"},
	{ID: "images", Title: "Images", Heading: "容器镜像下载"},
	{ID: "paths", Title: "Deployment folders", Heading: "部署路径",
		NotAutomated: "the config's deployRoot (checked apart from the old root); the folders are made in 部署目录创建与授权"},
	{ID: "compose", Title: "docker-compose files", Heading: "升级docker-compose", NotAutomated: "a heading; its parts follow"},
	{ID: "env", Title: "Variables", Heading: "环境变量整理",
		NotAutomated: "the config holds these values (passwords, keys and the S3 keys as worker-side secret names) and Validate checks them"},
	{ID: "yaml", Title: "The four files", Heading: "准备yaml内容",
		NotAutomated: "the guide's four files are kept verbatim in the workflow (wecube400Compose) and filled in by the steps of 修正yaml内容的值"},
	{ID: "render", Title: "Fill in the files", Heading: "修正yaml内容的值"},
	{ID: "steps", Title: "Upgrade steps", Heading: "升级步骤", NotAutomated: "a heading; its parts follow"},
	{ID: "run-ddl", Title: "Run the DDL", Heading: "执行数据库升级ddl"},
	{ID: "dirs", Title: "Folders and files", Heading: "部署目录创建与授权"},
	{ID: "start", Title: "Start the containers", Heading: "启动docker容器"},
	{ID: "sysvar", Title: "System variable", Heading: "更改系统变量值"},
	{ID: "plugins", Title: "Re-register plugins", Heading: "重注册插件包",
		Manual: "each running plugin is re-registered by a person in the new UI (插件配置 → 确定 → 重注册插件包), one step each"},
}}

// wecube400Spec describes the guide to the worker and the starter (guides.go lists it).
var wecube400Spec = Spec{
	Guide:        WeCube400Guide,
	WorkflowType: "WeCubeUpgrade_4_0_0",
	Workflow:     WeCubeUpgrade400,
	NewInput:     func() Input { in := NewWeCube400Input(); return &in },
	Example:      "config/examples/wecube-4.0.0.yaml",
	Seed:         "002_d61de7f7379eeef7.txt",
}

// The guide's two modes (升级支持两种方式).
const (
	WeCubeModeCoexist = "coexist" // (推荐)新老两套wecube并存
	WeCubeModeReplace = "replace" // 直接替换升级
)

// WeCube400Input configures the v3.x → v4.0.0 upgrade of one WeCube.
type WeCube400Input struct {
	runbook.Target `mapstructure:",squash" json:",inline"`
	// Mode is coexist (the guide's recommendation: old and new side by
	// side) or replace.
	Mode string `mapstructure:"mode" json:"mode"`
	// SharedPluginInstances: in coexist mode, both WeCubes use one set of
	// plugin instances (the same JWT signing key), so every plugin is
	// re-registered on both.
	SharedPluginInstances bool `mapstructure:"sharedPluginInstances" json:"sharedPluginInstances"`
	// Host is the machine the containers run on, reached over SSH.
	Host WeCubeSSH `mapstructure:"host" json:"host"`
	// HostIP is the guide's HOSTIP: the address the ports are published on
	// and the components reach each other at.
	HostIP string `mapstructure:"hostIP" json:"hostIP"`
	// DockerHost, when set, is DOCKER_HOST for docker and docker-compose on
	// the host (an engine on another socket); empty: the default engine.
	DockerHost string `mapstructure:"dockerHost" json:"dockerHost,omitempty"`
	// DeployRoot is the guide's /data/app/platform: one folder per component under it.
	DeployRoot string `mapstructure:"deployRoot" json:"deployRoot"`
	// OldDeployRoot is the v3 installation's root, which DeployRoot must
	// not be (建议与老版本wecube根路径分开); optional.
	OldDeployRoot string `mapstructure:"oldDeployRoot" json:"oldDeployRoot,omitempty"`
	// Version is WECUBE_VERSION, the images' tag.
	Version string `mapstructure:"wecubeVersion" json:"wecubeVersion"`
	// LogLevel is LOG_LEVEL.
	LogLevel string `mapstructure:"logLevel" json:"logLevel"`
	// PrivateKey is WECUBE_PRIVATE_KEY (optional in the guide).
	PrivateKey WeCubeKey `mapstructure:"privateKey" json:"privateKey"`
	// JWTSigningKeyRef names the secret holding JWT_SIGNING_KEY; with
	// shared plugin instances it must be the old WeCube's.
	JWTSigningKeyRef string `mapstructure:"jwtSigningKeyRef" json:"jwtSigningKeyRef"`
	// MySQL are the old WeCube's two database servers (the new one uses
	// them too: old accounts log in).
	MySQL WeCubeMySQL `mapstructure:"mysql" json:"mysql"`
	// S3 is the object store plugins' packages live in.
	S3 WeCubeS3 `mapstructure:"s3" json:"s3"`
	// StaticResource is host_wecube_username/password: the account
	// platform-core uses over SSH to unpack plugin UIs on HOSTIP.
	StaticResource WeCubeAccount `mapstructure:"staticResource" json:"staticResource"`
	// DDL are the guide's two upgrade scripts, as files on the worker.
	DDL WeCubeDDL `mapstructure:"ddl" json:"ddl"`
	// Images says where the four images come from when they are not on
	// the host yet.
	Images WeCubeImages `mapstructure:"images" json:"images"`
	// Login is an account of the old WeCube, for the guide's login check
	// and the platform's API.
	Login WeCubeAccount `mapstructure:"login" json:"login"`
	// LoadBalancer: the site has one; a person adds portal and gateway to it.
	LoadBalancer bool `mapstructure:"loadBalancer" json:"loadBalancer"`
	// Replace lists the old WeCube's containers, stopped at the end in replace mode.
	Replace WeCubeReplace `mapstructure:"replace" json:"replace"`
	// Waits bound the waits for each container.
	Waits WeCubeWaits `mapstructure:"waits" json:"waits"`
	// GateRemindAfter makes the gates log a reminder this often (0: none).
	GateRemindAfter contract.Duration `mapstructure:"gateRemindAfter" json:"gateRemindAfter,omitempty"`
}

// WeCubeSSH is how the worker reaches the host.
type WeCubeSSH struct {
	Address string `mapstructure:"address" json:"address"` // host:port
	User    string `mapstructure:"user" json:"user"`
	KeyRef  string `mapstructure:"keyRef" json:"keyRef"`
	// HostKey pins the host's key ("ssh-ed25519 AAAA…"); empty: the
	// worker's known_hosts.
	HostKey string `mapstructure:"hostKey" json:"hostKey,omitempty"`
}

// WeCubeKey is WECUBE_PRIVATE_KEY: the file name under the certs folders,
// and optionally the secret the worker writes there.
type WeCubeKey struct {
	File      string `mapstructure:"file" json:"file"`
	SecretRef string `mapstructure:"secretRef" json:"secretRef,omitempty"`
}

// WeCubeMySQL are the guide's mysql_wecube_* and mysql_auth_* values.
type WeCubeMySQL struct {
	WeCube DBServer `mapstructure:"wecube" json:"wecube"`
	Auth   DBServer `mapstructure:"auth" json:"auth"`
}

// WeCubeS3 are the guide's s3_* values.
type WeCubeS3 struct {
	Address      string `mapstructure:"address" json:"address"` // s3_host:s3_port
	AccessKeyRef string `mapstructure:"accessKeyRef" json:"accessKeyRef"`
	SecretKeyRef string `mapstructure:"secretKeyRef" json:"secretKeyRef"`
}

// WeCubeAccount is a user name and the secret holding its password.
type WeCubeAccount struct {
	Username    string `mapstructure:"username" json:"username"`
	PasswordRef string `mapstructure:"passwordRef" json:"passwordRef"`
}

// WeCubeDDL are the two scripts of 数据库升级ddl.
type WeCubeDDL struct {
	// Auth is wecube_platform_auth_4.0.0.sql, run on auth_server.
	Auth WeCubeScript `mapstructure:"auth" json:"auth"`
	// WeCube is v4.0.0.sql, run on wecube.
	WeCube WeCubeScript `mapstructure:"wecube" json:"wecube"`
}

// WeCubeScript is a file on the worker and its SHA-256: the guide links
// the files on master, which has changed since v4.0.0.
type WeCubeScript struct {
	Path   string `mapstructure:"path" json:"path"`
	SHA256 string `mapstructure:"sha256" json:"sha256"`
}

// WeCubeImages says how missing images get onto the host.
type WeCubeImages struct {
	// LoadFrom is a folder on the host holding the guide's `docker save`
	// tars (webankpartners-platform-core.tar, …); empty: the images must be
	// on the host already.
	LoadFrom string `mapstructure:"loadFrom" json:"loadFrom,omitempty"`
}

// WeCubeReplace is what replace mode stops.
type WeCubeReplace struct {
	OldContainers []string `mapstructure:"oldContainers" json:"oldContainers,omitempty"`
}

// WeCubeWaits bound the wait for each container.
type WeCubeWaits struct {
	// Timeout bounds one wait.
	Timeout contract.Duration `mapstructure:"timeout" json:"timeout"`
	// StableFor is how long a container must run without restarting.
	StableFor contract.Duration `mapstructure:"stableFor" json:"stableFor"`
	// Interval is the pause between probes (below the waits' heartbeat).
	Interval contract.Duration `mapstructure:"interval" json:"interval"`
	// FailAfterRestarts: this many restarts during a wait are a restart loop.
	FailAfterRestarts int `mapstructure:"failAfterRestarts" json:"failAfterRestarts"`
}

// NewWeCube400Input returns the guide's defaults.
func NewWeCube400Input() WeCube400Input {
	return WeCube400Input{
		Target:         runbook.Target{To: "v4.0.0"},
		Mode:           WeCubeModeCoexist,
		DeployRoot:     "/data/app/platform",
		Version:        "v4.0.0",
		LogLevel:       "info",
		PrivateKey:     WeCubeKey{File: "key.pem"},
		MySQL:          WeCubeMySQL{WeCube: DBServer{User: "root"}, Auth: DBServer{User: "root"}},
		StaticResource: WeCubeAccount{Username: "root"},
		Waits:          WeCubeWaits{Timeout: contract.Duration(5 * time.Minute), StableFor: contract.Duration(10 * time.Second), Interval: contract.Duration(time.Second), FailAfterRestarts: 2},
	}
}

// GetTarget implements Input.
func (in *WeCube400Input) GetTarget() *runbook.Target { return &in.Target }

var (
	wecubeFrom      = regexp.MustCompile(`^v?3\.\d+\.\d+$`)
	wecubeFileName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	containerName   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)
	sha256Hex       = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	wecubeLogLevels = []string{"debug", "info", "warn", "error"}
)

// Validate implements Input.
func (in *WeCube400Input) Validate() error {
	var p config.Problems
	validateTarget(&p, in.Target, "", "v4.0.0")
	if in.From != "" && !wecubeFrom.MatchString(in.From) {
		p.Add("from", "%q: this guide upgrades a WeCube v3.x.x (quote it: from: \"v3.2.6\")", in.From)
	}
	switch in.Mode {
	case WeCubeModeCoexist:
		if len(in.Replace.OldContainers) > 0 {
			p.Add("replace.oldContainers", "is for mode: replace; coexist mode leaves the old WeCube running")
		}
	case WeCubeModeReplace:
		if in.SharedPluginInstances {
			p.Add("sharedPluginInstances", "is for mode: coexist; in replace mode only the new WeCube remains")
		}
		if len(in.Replace.OldContainers) == 0 {
			p.Add("replace.oldContainers", "is empty; list the old WeCube's containers (docker ps), stopped once the new one answers")
		}
	default:
		p.Add("mode", "%q: give coexist (the guide's recommendation: 新老两套wecube并存) or replace (直接替换升级)", in.Mode)
	}
	for i, c := range in.Replace.OldContainers {
		if !containerName.MatchString(c) {
			p.Add(fmt.Sprintf("replace.oldContainers[%d]", i), "%q is not a container name", c)
		}
	}
	config.CheckHostPort(&p, "host.address", in.Host.Address, "10.0.0.1:22")
	if in.Host.User == "" {
		p.Add("host.user", "is empty; give the SSH user that runs docker-compose on the host")
	}
	checkSecretRef(&p, "host.keyRef", in.Host.KeyRef, "the SSH private key for the host")
	if ip := net.ParseIP(in.HostIP); ip == nil || ip.To4() == nil {
		p.Add("hostIP", "%q is not an IPv4 address (the guide's HOSTIP, e.g. 10.0.0.1)", in.HostIP)
	}
	if in.DockerHost != "" && !strings.HasPrefix(in.DockerHost, "unix:///") && !strings.HasPrefix(in.DockerHost, "tcp://") {
		p.Add("dockerHost", "%q: give unix:///path/docker.sock or tcp://host:port, or leave it empty for the default engine", in.DockerHost)
	}
	checkDeployPath(&p, "deployRoot", in.DeployRoot)
	if in.OldDeployRoot != "" {
		checkDeployPath(&p, "oldDeployRoot", in.OldDeployRoot)
		if in.DeployRoot == in.OldDeployRoot || strings.HasPrefix(in.DeployRoot+"/", in.OldDeployRoot+"/") || strings.HasPrefix(in.OldDeployRoot+"/", in.DeployRoot+"/") {
			p.Add("deployRoot", "%q overlaps the old WeCube's %q; the guide: 建议与老版本wecube根路径分开", in.DeployRoot, in.OldDeployRoot)
		}
	}
	if in.Version != in.To {
		p.Add("wecubeVersion", "%q must be the version upgraded to (%s): it is the images' tag", in.Version, in.To)
	}
	if !contains(wecubeLogLevels, in.LogLevel) {
		p.Add("logLevel", "%q: one of %s", in.LogLevel, strings.Join(wecubeLogLevels, ", "))
	}
	if !wecubeFileName.MatchString(in.PrivateKey.File) {
		p.Add("privateKey.file", "%q is not a file name (the guide's key.pem)", in.PrivateKey.File)
	}
	if in.PrivateKey.SecretRef != "" {
		checkSecretRef(&p, "privateKey.secretRef", in.PrivateKey.SecretRef, "the RSA private key")
	}
	checkSecretRef(&p, "jwtSigningKeyRef", in.JWTSigningKeyRef, "JWT_SIGNING_KEY (the old WeCube's, with shared plugin instances)")
	in.MySQL.WeCube.check(&p, "mysql.wecube", "10.0.0.10:3307", "the wecube database's user (the guide uses root)", false)
	in.MySQL.Auth.check(&p, "mysql.auth", "10.0.0.10:3307", "the auth_server database's user (the guide uses root)", false)
	config.CheckHostPort(&p, "s3.address", in.S3.Address, "10.0.0.12:9000")
	checkSecretRef(&p, "s3.accessKeyRef", in.S3.AccessKeyRef, "s3_access")
	checkSecretRef(&p, "s3.secretKeyRef", in.S3.SecretKeyRef, "s3_secret")
	for _, a := range []struct {
		key string
		v   WeCubeAccount
	}{{"staticResource", in.StaticResource}, {"login", in.Login}} {
		if a.v.Username == "" || strings.ContainsAny(a.v.Username, " \t") {
			p.Add(a.key+".username", "%q: give the user name", a.v.Username)
		}
		checkSecretRef(&p, a.key+".passwordRef", a.v.PasswordRef, "its password")
	}
	for _, s := range []struct {
		key string
		v   WeCubeScript
	}{{"ddl.auth", in.DDL.Auth}, {"ddl.wecube", in.DDL.WeCube}} {
		if !path.IsAbs(s.v.Path) || path.Clean(s.v.Path) != s.v.Path {
			p.Add(s.key+".path", "%q must be an absolute, clean path on the worker", s.v.Path)
		}
		if !sha256Hex.MatchString(s.v.SHA256) {
			p.Add(s.key+".sha256", "%q is not a SHA-256 (64 hex digits; sha256sum the file you checked)", s.v.SHA256)
		}
	}
	if in.Images.LoadFrom != "" {
		checkDeployPath(&p, "images.loadFrom", in.Images.LoadFrom)
	}
	checkTimeout(&p, "waits.timeout", in.Waits.Timeout.D(), "5m")
	if in.Waits.StableFor < 0 || (in.Waits.Timeout > 0 && in.Waits.StableFor >= in.Waits.Timeout) {
		p.Add("waits.stableFor", "%s must be zero or more and shorter than waits.timeout", in.Waits.StableFor)
	}
	validateInterval(&p, "waits.interval", in.Waits.Interval.D(), in.Waits.Timeout.D())
	if in.Waits.FailAfterRestarts < 0 || in.Waits.FailAfterRestarts > 100 {
		p.Add("waits.failAfterRestarts", "%d: give 1 to 100 (0 keeps the default, 2)", in.Waits.FailAfterRestarts)
	}
	validateRemindAfter(&p, "gateRemindAfter", in.GateRemindAfter.D())
	return finish(&p, in)
}

var deployPath = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)

// checkDeployPath reports a host folder that is not absolute and clean or
// that holds characters the guide's shell lines would trip on.
func checkDeployPath(p *config.Problems, key, v string) {
	if !deployPath.MatchString(v) || path.Clean(v) != v || v == "/" {
		p.Add(key, "%q must be an absolute, clean folder of letters, digits and . _ - /", v)
	}
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// wecube400Component is one of the four components, as the guide lays it out.
type wecube400Component struct {
	Name    string // step names: auth-server, core, gateway, portal
	Dir     string // folder under the deploy root
	File    string // the compose file
	Service string // its one service; the container is Service-WECUBE_VERSION
	Port    int    // the port published on HOSTIP
	Tar     string // the guide's docker save file
}

// wecube400Components are in the guide's start order (启动docker容器).
var wecube400Components = []wecube400Component{
	{"auth-server", "platform-auth-server", "1-wecube-platform-auth-server.yml", "platform-auth-server", 8002, "webankpartners-platform-auth-server.tar"},
	{"core", "platform-core", "2-wecube-platform-core.yml", "platform-core", 8000, "webankpartners-platform-core.tar"},
	{"gateway", "platform-gateway", "3-wecube-platform-gateway.yml", "platform-gateway", 8005, "webankpartners-platform-gateway.tar"},
	{"portal", "wecube-portal", "4-wecube-portal.yml", "wecube-portal", 8080, "webankpartners-wecube-portal.tar"},
}

// WeCube400Registry is where the guide's images come from.
const WeCube400Registry = "ccr.ccs.tencentyun.com/webankpartners/"

func (in *WeCube400Input) image(c wecube400Component) string {
	return WeCube400Registry + c.Service + ":" + in.Version
}

func (in *WeCube400Input) target() activities.SSHTarget {
	return activities.SSHTarget{Name: "wecube-host", Address: in.Host.Address, User: in.Host.User, KeyRef: in.Host.KeyRef, HostKey: in.Host.HostKey}
}

// composeFile is the step input that fills in and places one of the
// guide's files: the guide's sed lines for that file say which
// placeholders it takes (修正yaml内容的值).
func (in *WeCube400Input) composeFile(c wecube400Component) activities.ComposeFileInput {
	f := activities.ComposeFileInput{
		Host:     in.target(),
		Path:     path.Join(in.DeployRoot, c.Dir, c.File),
		Template: strings.ReplaceAll(wecube400Compose[c.Name], "/data/app/platform/", in.DeployRoot+"/"),
		Vars:     map[string]string{"WECUBE_VERSION": in.Version, "HOSTIP": in.HostIP},
		Service:  c.Service,
	}
	common := func() {
		f.Vars["LOG_LEVEL"] = in.LogLevel
		f.Vars["WECUBE_PRIVATE_KEY"] = in.PrivateKey.File
	}
	hostPort := func(addr string) (string, string) { h, p, _ := net.SplitHostPort(addr); return h, p }
	switch c.Name {
	case "auth-server":
		common()
		h, p := hostPort(in.MySQL.Auth.Address)
		f.Vars["mysql_auth_host"], f.Vars["mysql_auth_port"], f.Vars["mysql_auth_username"] = h, p, in.MySQL.Auth.User
		f.SecretVars = map[string]string{"JWT_SIGNING_KEY": in.JWTSigningKeyRef, "mysql_auth_password": in.MySQL.Auth.PasswordRef}
	case "core":
		common()
		h, p := hostPort(in.MySQL.WeCube.Address)
		f.Vars["mysql_wecube_host"], f.Vars["mysql_wecube_port"], f.Vars["mysql_wecube_username"] = h, p, in.MySQL.WeCube.User
		h, p = hostPort(in.S3.Address)
		f.Vars["s3_host"], f.Vars["s3_port"] = h, p
		f.Vars["host_wecube_username"] = in.StaticResource.Username
		f.SecretVars = map[string]string{"JWT_SIGNING_KEY": in.JWTSigningKeyRef, "mysql_wecube_password": in.MySQL.WeCube.PasswordRef,
			"s3_access": in.S3.AccessKeyRef, "s3_secret": in.S3.SecretKeyRef, "host_wecube_password": in.StaticResource.PasswordRef}
	case "gateway":
		f.Vars["LOG_LEVEL"] = in.LogLevel
	}
	return f
}

// The tables and columns each script adds (the v4.0.0 tag's files): the
// schema check after each DDL step looks for them.
var (
	wecube400AuthTables   = []string{"auth_sys_role_apply"}
	wecube400AuthColumns  = []string{"auth_sys_role.administrator"}
	wecube400CoreTables   = []string{"proc_def", "proc_def_node", "proc_ins", "proc_run_workflow", "proc_schedule_config", "proc_ins_event", "batch_execution_template", "batch_execution_template_role"}
	wecube400CoreColumns  = []string{"plugin_package_data_model.updated_time", "plugin_package_attributes.is_array", "batch_execution_template.publish_status"}
	wecube400GatewayNewKV = "GATEWAY_URL_NEW"
)

// Plan implements Input: the guide's steps, in the guide's order, after the
// read-only preflight checks.
func (in *WeCube400Input) Plan() ([]runbook.Step, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var steps []runbook.Step
	add := func(s runbook.Step) { steps = append(steps, s) }
	host := in.target()
	gate := func(name, section, prompt string) runbook.Step {
		return runbook.Step{Name: name, Kind: runbook.KindGate, Section: section, Summary: "a person: " + firstSentence(prompt),
			Gate: &runbook.Gate{Prompt: prompt, RemindAfter: in.GateRemindAfter.D()}}
	}
	portal := fmt.Sprintf("http://%s:8080", in.HostIP)
	account := activities.WeCubeAccount{URL: portal, Username: in.Login.Username, PasswordRef: in.Login.PasswordRef}
	authDB := in.MySQL.Auth.mysql("auth_server")
	coreDB := in.MySQL.WeCube.mysql("wecube")

	// Read-only checks first: nothing below runs on a host that cannot.
	var images []string
	loadFrom := map[string]string{}
	for _, c := range wecube400Components {
		images = append(images, in.image(c))
		if in.Images.LoadFrom != "" {
			loadFrom[in.image(c)] = path.Join(in.Images.LoadFrom, c.Tar)
		}
	}
	add(runbook.Step{Name: "preflight/docker", Kind: runbook.KindCheck, Section: "images",
		Summary:  fmt.Sprintf("on %s: docker and docker-compose answer, the four %s images are there (or their saved tars)", in.Host.Address, in.Version),
		Activity: compose.PreflightDocker,
		Input:    activities.PreflightDockerInput{Host: host, DockerHost: in.DockerHost, Engine: true, Images: images, LoadFrom: loadFrom}})
	var ports []string
	for _, c := range wecube400Components {
		ports = append(ports, net.JoinHostPort(in.HostIP, strconv.Itoa(c.Port)))
	}
	add(runbook.Step{Name: "preflight/ports", Kind: runbook.KindCheck, Section: "hardware",
		Summary:  "nothing listens yet on " + strings.Join(ports, ", ") + " (避开端口冲突 with the old WeCube)",
		Activity: compose.PreflightDocker,
		Input:    activities.PreflightDockerInput{Host: host, DockerHost: in.DockerHost, FreePorts: ports}})
	for _, db := range []activities.DBTarget{authDB, coreDB} {
		add(runbook.Step{Name: "preflight/mysql-" + db.Name, Kind: runbook.KindCheck, Section: "run-ddl",
			Summary:  fmt.Sprintf("%s answers with the privileges the DDL and the dump need", db),
			Activity: mysqlA.PreflightMySQL,
			Input:    activities.MySQLPreflightInput{DB: db, Privileges: []string{"SELECT", "ALTER", "CREATE", "INDEX", "LOCK TABLES"}}})
	}
	for _, s := range []struct {
		db     string
		script WeCubeScript
	}{{"auth_server", in.DDL.Auth}, {"wecube", in.DDL.WeCube}} {
		add(runbook.Step{Name: "preflight/ddl-" + s.db, Kind: runbook.KindCheck, Section: "ddl-files",
			Summary:  fmt.Sprintf("%s on the worker is the file checked (sha256 %s…)", s.script.Path, s.script.SHA256[:12]),
			Activity: hostA.Checksum,
			Input:    activities.ChecksumInput{Path: s.script.Path, Algorithm: "sha256", Expect: s.script.SHA256}})
	}
	for _, c := range wecube400Components {
		add(runbook.Step{Name: "preflight/compose-" + c.Name, Kind: runbook.KindCheck, Section: "render",
			Summary:  fmt.Sprintf("fill in %s on the worker (the guide's sed lines) and load it with compose-go", c.File),
			Activity: compose.ValidateCompose, Input: in.composeFile(c)})
	}

	// 升级支持两种方式: replace hides the old orchestrations; a person decides.
	if in.Mode == WeCubeModeReplace {
		add(gate("approve/replace-mode", "modes", fmt.Sprintf("Replace the old WeCube (直接替换升级)? The guide warns: 新版编排与老版编排不兼容，直接升级的话会看不到老编排，请慎重选择 — "+
			"the new orchestrations are incompatible with the old ones, and after a direct upgrade the old orchestrations are no longer visible. "+
			"The guide recommends coexist mode instead. Approving continues; the old containers (%s) are stopped only at the end, after the new WeCube answers.",
			strings.Join(in.Replace.OldContainers, ", "))))
	}

	// 容器镜像下载: the guide pulls and saves; an offline host loads the saved tars.
	if in.Images.LoadFrom != "" {
		for _, c := range wecube400Components {
			add(runbook.Step{Name: "load-image/" + c.Name, Kind: runbook.KindHost, Section: "images",
				Summary:  fmt.Sprintf("docker load -i %s, unless %s is there already", loadFrom[in.image(c)], in.image(c)),
				Activity: hostA.Run,
				Input: activities.HostCommandInput{Host: host, Repeatable: true,
					Command: `if docker image inspect "$IMG" >/dev/null 2>&1; then echo "present: $IMG"; else docker load -i "$TAR"; fi`,
					Env:     withDocker(map[string]string{"IMG": in.image(c), "TAR": loadFrom[in.image(c)]}, in.DockerHost)}})
		}
	}

	// 执行数据库升级ddl: each database dumped first (the guide asks for no
	// backup, but the DDL alters the live v3 databases and cannot be rolled
	// back), the script run statement by statement, once, then the schema checked.
	for _, s := range []struct {
		db     activities.DBTarget
		script WeCubeScript
		file   string
	}{{authDB, in.DDL.Auth, "wecube_platform_auth_4.0.0.sql"}, {coreDB, in.DDL.WeCube, "v4.0.0.sql"}} {
		add(runbook.Step{Name: "backup-db/" + s.db.Name, Kind: runbook.KindBackup, Section: "run-ddl",
			Summary:  fmt.Sprintf("mysqldump %s from %s into the run's artifact folder, verified", s.db.Name, s.db.Address),
			Activity: mysqlA.DumpMySQL,
			Input:    activities.DumpInput{DB: s.db, Databases: []string{s.db.Name}, Options: []string{"--single-transaction", "-R", "-E", "--hex-blob"}}})
		add(restoreDrill("backup-db/"+s.db.Name, s.db, "run-ddl", nil))
	}
	for _, s := range []struct {
		db      activities.DBTarget
		script  WeCubeScript
		file    string
		tables  []string
		columns []string
	}{{authDB, in.DDL.Auth, "wecube_platform_auth_4.0.0.sql", wecube400AuthTables, wecube400AuthColumns},
		{coreDB, in.DDL.WeCube, "v4.0.0.sql", wecube400CoreTables, wecube400CoreColumns}} {
		add(runbook.Step{Name: "run-ddl/" + s.db.Name, Kind: runbook.KindSQL, Section: "run-ddl",
			Summary:  fmt.Sprintf("在%s数据库中执行 %s: statement by statement, each applied once even across retries and a lost worker", s.db.Name, s.file),
			Activity: mysqlA.RunScript,
			Input: activities.SQLScriptInput{DB: s.db, Database: s.db.Name, Name: s.file + " on " + s.db.Name,
				ScriptPath: s.script.Path, ScriptSHA256: s.script.SHA256},
			Requires: []string{"backup-db/" + s.db.Name, drillName("backup-db/" + s.db.Name), "preflight/ddl-" + s.db.Name}})
		add(runbook.Step{Name: "check-schema/" + s.db.Name, Kind: runbook.KindCheck, Section: "run-ddl",
			Summary:  fmt.Sprintf("%s holds what %s adds (%s)", s.db.Name, s.file, strings.Join(append(append([]string{}, s.tables...), s.columns...), ", ")),
			Activity: mysqlA.CheckSchema,
			Input:    activities.SchemaInput{DB: s.db, Database: s.db.Name, Tables: s.tables, Columns: s.columns}})
	}

	// 部署目录创建与授权: the folders, the log folders opened to the
	// containers' app user, the compose files placed (filled in on the worker).
	root := in.DeployRoot
	dirs := []string{root + "/platform-auth-server/logs", root + "/platform-core/logs", root + "/platform-gateway/logs", root + "/wecube-portal/log"}
	certs := []string{root + "/platform-auth-server/certs", root + "/platform-core/certs"}
	ui := root + "/wecube-portal/data/ui-resources"
	add(runbook.Step{Name: "create-dirs/platform", Kind: runbook.KindHost, Section: "dirs",
		Summary:  "mkdir -p the four log folders, the certs folders and ui-resources under " + root + "; chmod 777 the log folders and ui-resources",
		Activity: hostA.Run,
		Input: activities.HostCommandInput{Host: host, Repeatable: true,
			Command: "mkdir -p " + activities.QuoteArgs(append(append(append([]string{}, dirs...), certs...), ui)) +
				" && chmod 777 " + activities.QuoteArgs(append(append([]string{}, dirs...), ui)) + " && ls -ld " + activities.QuoteArgs(append(append([]string{}, dirs...), ui))}})
	for _, c := range wecube400Components {
		add(runbook.Step{Name: "write-compose/" + c.Name, Kind: runbook.KindHost, Section: "dirs",
			Summary:  fmt.Sprintf("cp %s %s/ (filled in on the worker, checked again, owner-only: it holds passwords)", c.File, path.Join(root, c.Dir)),
			Activity: compose.WriteCompose, Input: in.composeFile(c), Heartbeat: 20 * time.Second})
	}
	if in.PrivateKey.SecretRef != "" {
		for _, c := range wecube400Components[:2] {
			add(runbook.Step{Name: "write-key/" + c.Name, Kind: runbook.KindHost, Section: "dirs",
				Summary:  fmt.Sprintf("put %s (secret %s) into %s/certs", in.PrivateKey.File, in.PrivateKey.SecretRef, path.Join(root, c.Dir)),
				Activity: hostA.Upload,
				Input: activities.UploadInput{Host: host, Path: path.Join(root, c.Dir, "certs", in.PrivateKey.File), Mode: 0o644,
					// The secret's name is the template's data, never its text.
					Template: true, Content: "{{ secret .ref }}", Vars: map[string]string{"ref": in.PrivateKey.SecretRef}}})
		}
	}

	// 启动docker容器: one after another, each waited for before the next
	// (the gateway reads its routes from core; the portal passes to the gateway).
	for _, c := range wecube400Components {
		file := path.Join(root, c.Dir, c.File)
		add(runbook.Step{Name: "up/" + c.Name, Kind: runbook.KindHost, Section: "start",
			Summary:  fmt.Sprintf("cd %s && docker-compose -f %s up -d (run once per try, reattached after a lost worker)", path.Join(root, c.Dir), c.File),
			Activity: compose.ComposeUp, Input: activities.ComposeUpInput{Host: host, File: file, DockerHost: in.DockerHost},
			Requires: requiresForUp(c)})
		add(runbook.Step{Name: "wait-up/" + c.Name, Kind: runbook.KindWait, Section: "start",
			Summary: fmt.Sprintf("%s-%s runs, stays up %s and %s:%d accepts connections; a restart loop stops here with its log",
				c.Service, in.Version, in.Waits.StableFor, in.HostIP, c.Port),
			Activity: compose.WaitContainer,
			Input: activities.WaitContainerInput{Host: host, DockerHost: in.DockerHost, Container: c.Service + "-" + in.Version,
				Address: net.JoinHostPort(in.HostIP, strconv.Itoa(c.Port)), StableFor: in.Waits.StableFor,
				FailAfterRestarts: in.Waits.FailAfterRestarts, Interval: in.Waits.Interval},
			Timeout: in.Waits.Timeout.D()})
	}
	add(runbook.Step{Name: "check-login/portal", Kind: runbook.KindCheck, Section: "start",
		Summary:  fmt.Sprintf("WeCube主页 %s: %s (an old account) logs in through the new portal, and platform-core takes its token", portal, in.Login.Username),
		Activity: wecubeA.WeCubeLogin, Input: account})
	if in.LoadBalancer {
		add(gate("approve/load-balancer", "start", fmt.Sprintf("Add the new portal (%s:8080) and gateway (%s:8005) to the load balancer "+
			"(如果当前环境有负载均衡，需要把portal与gateway的服务加入到相应的负载均衡中), then approve.", in.HostIP, in.HostIP)))
	}

	// 更改系统变量值: coexist only, so plugins started from the new UI reach the new gateway.
	if in.Mode == WeCubeModeCoexist {
		add(runbook.Step{Name: "set-system-variable/gateway-url-new", Kind: runbook.KindHTTP, Section: "sysvar",
			Summary:  fmt.Sprintf("system__global__%s = http://%s:8005 in 系统-系统参数 (read first: create always adds a row), read back", wecube400GatewayNewKV, in.HostIP),
			Activity: wecubeA.EnsureSystemVariable,
			Input: activities.SystemVariableInput{Account: account, Name: wecube400GatewayNewKV, Value: fmt.Sprintf("http://%s:8005", in.HostIP),
				Scope: "global", Source: "system"}})
	}

	// 重注册插件包: one step per plugin running now, done by a person.
	add(runbook.Step{Name: "list-plugins/running", Kind: runbook.KindCheck, Section: "plugins",
		Summary:  "ask the platform which plugin packages have a running instance (GET /platform/v1/packages, …/instances)",
		Activity: wecubeA.ListRunningPlugins, Input: account})
	where := "in the new WeCube (" + portal + ")"
	if in.Mode == WeCubeModeCoexist && in.SharedPluginInstances {
		where = "in the new WeCube (" + portal + ") AND in the old one: the two share the plugin instances, and each keeps its own UI resources"
	}
	add(runbook.Step{Name: "reregister-plugin", Kind: runbook.KindGate, Section: "plugins",
		Summary: "one step per running plugin, each answered by the person who re-registered it",
		Expand: &runbook.Expand{From: "list-plugins/running", Build: func(item string) runbook.Step {
			return gate("reregister-plugin/"+item, "plugins", fmt.Sprintf("Re-register plugin %s %s: 插件注册 → %s → 插件配置 → 确定 → 重注册插件包, "+
				"then refresh the page: its UI must load (加载出插件前端资源). Approve once done; your name and the time are recorded.", item, where, item))
		}}})
	add(gate("review/plugin-orchestrations", "coexist", "Review the plugin pages that pick an orchestration, mainly the monitor plugin's 告警通知回调编排配置: "+
		"old and new orchestrations are not interchangeable (新老版本的编排并不通用), so a setting may show empty or an error; pick the new orchestration where needed, then approve."))

	// Replace mode: the old WeCube stops only now that the new one answers.
	if in.Mode == WeCubeModeReplace {
		add(runbook.Step{Name: "stop-old/containers", Kind: runbook.KindHost, Section: "modes",
			Summary:  "docker stop " + strings.Join(in.Replace.OldContainers, " ") + " (kept, so docker start brings them back)",
			Activity: compose.StopContainers,
			Input:    activities.StopContainersInput{Host: host, DockerHost: in.DockerHost, Containers: in.Replace.OldContainers},
			Requires: []string{"approve/replace-mode", "check-login/portal"}})
	}
	return steps, nil
}

// requiresForUp: a component starts only on a schema its DDL has changed
// and checked (auth-server on auth_server, core on wecube).
func requiresForUp(c wecube400Component) []string {
	switch c.Name {
	case "auth-server":
		return []string{"check-schema/auth_server"}
	case "core":
		return []string{"check-schema/wecube"}
	}
	return nil
}

func withDocker(env map[string]string, dockerHost string) map[string]string {
	if dockerHost != "" {
		env["DOCKER_HOST"] = dockerHost
	}
	return env
}

// Activities this guide adds, referenced through nil pointers.
var (
	compose *activities.Compose
	wecubeA *activities.WeCube
)

// WeCubeUpgrade400 is the guide's workflow.
func WeCubeUpgrade400(ctx workflow.Context, in WeCube400Input) (runbook.RunStatus, error) {
	return runGuide(ctx, WeCube400Guide, &in)
}
