package workflows

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/workflows/runbook"
)

// Choerodon08Guide is "从0.8升级到0.9" (../shared/seeds/001_051ac39c05e686c8.txt):
// the framework services in order, two new services (notify, asgard) on
// new databases, the C7NHelmRelease CRD, DevOps, agile, test, the XWiki
// procedure done by hand, and the front end.
var Choerodon08Guide = runbook.Guide{Name: "choerodon-0.8-0.9", Title: "Choerodon 0.8 → 0.9",
	// 1: the read-only checks before any change are 0.21's (preflight/releases,
	// cluster-access, secrets, mysql with privileges) instead of
	// preflight/installed-version and a bare MySQL login.
	PlanRevision: 1,
	// The guide has no numbering of its own: parts 1–6 are its "##"
	// headings, their sections its "###" headings, in its order (as
	// ../shared/guide-notes/choerodon-0.8-0.9.md numbers them).
	Map: []runbook.Section{
		{ID: "pre", Title: "read-only site checks before any change (ours, not in the guide)"},
		{ID: "backup", Title: "every release's values saved before any change (ours, not in the guide)"},
		helm2Section,
		{ID: "1", Title: "framework services, in the guide's order (no going back once upgraded)", Heading: "微服务开发框架升级"},
		{ID: "1.1", Title: "chart repository", Heading: "添加Choerodon Chart仓库"},
		{ID: "1.2", Title: "register-server (go-register-server), checked in the registry", Heading: "升级register server"},
		{ID: "1.3", Title: "config-server", Heading: "升级config server"},
		{ID: "1.4", Title: "manager-service", Heading: "升级manager service"},
		{ID: "1.5", Title: "iam-service", Heading: "升级iam service"},
		{ID: "1.6", Title: "notify-service: its database, then the chart", Heading: "部署notify service"},
		{ID: "1.7", Title: "asgard-service: its database, then the chart", Heading: "部署asgard service"},
		{ID: "1.8", Title: "api-gateway", Heading: "升级api gateway"},
		{ID: "1.9", Title: "gateway-helper", Heading: "升级gateway helper"},
		{ID: "1.10", Title: "oauth-server", Heading: "升级oauth server"},
		{ID: "1.11", Title: "file-service", Heading: "升级file service"},
		{ID: "2", Title: "DevOps services", Heading: "DevOps服务升级"},
		{ID: "2.1", Title: "devops-service: the C7NHelmRelease CRD, GitLab SSH confirmed, the chart, the smooth upgrade call", Heading: "升级devops service"},
		{ID: "2.2", Title: "gitlab-service", Heading: "升级gitlab service"},
		{ID: "3", Title: "agile-service", Heading: "敏捷管理升级"},
		{ID: "4", Title: "test-manager-service", Heading: "测试管理升级"},
		{ID: "5", Title: "knowledge management: XWiki by hand, wiki-service, the home pages refreshed", Heading: "知识管理升级",
			Manual: "the XWiki upgrade happens in XWiki's volume and admin UI, which the worker does not reach: one gate a sub-step"},
		{ID: "6", Title: "front end and the choerodon OAuth client", Heading: "整合前端升级"},
		{ID: "end", Title: "end state checked: the guide's releases at their versions (ours)"},
		helm2CleanupSection,
	}}

// choerodon08Spec describes the guide to the worker and the starter (guides.go lists it).
var choerodon08Spec = Spec{
	Guide:        Choerodon08Guide,
	WorkflowType: "ChoerodonUpgrade_0_8_to_0_9",
	Workflow:     ChoerodonUpgrade08To09,
	NewInput:     func() Input { in := NewChoerodon08Input(); return &in },
	Example:      "config/examples/choerodon-0.8-0.9.yaml",
	Seed:         "001_051ac39c05e686c8.txt",
}

// Choerodon08Input configures the 0.8 → 0.9 upgrade of one site.
type Choerodon08Input struct {
	runbook.Target `mapstructure:",squash" json:",inline"`
	ChoerodonSite  `mapstructure:",squash" json:",inline"`
	// Kafka and ZooKeeper are the brokers notify and asgard use (host:port each).
	Kafka     []string `mapstructure:"kafka" json:"kafka"`
	ZooKeeper []string `mapstructure:"zookeeper" json:"zookeeper"`
	// ManagerDatabase is the manager-service database the new services'
	// preConfig job writes to.
	ManagerDatabase string `mapstructure:"managerDatabase" json:"managerDatabase"`
	// Domains are the site's host names.
	Domains Choerodon08Domains `mapstructure:"domains" json:"domains"`
	// MinIOURL is PRO_FILE_SERVER of the front end.
	MinIOURL string `mapstructure:"minioURL" json:"minioURL"`
	// OAuthClientSecretRef names the worker-side secret used as the
	// `choerodon` OAuth client's secret.
	OAuthClientSecretRef string `mapstructure:"oauthClientSecretRef" json:"oauthClientSecretRef"`
}

// Choerodon08Domains are the host names the 0.9 values use.
type Choerodon08Domains struct {
	API    string `mapstructure:"api" json:"api"`       // api.example.choerodon.io
	GitLab string `mapstructure:"gitlab" json:"gitlab"` // gitlab.example.choerodon.io (SSH URL)
	Front  string `mapstructure:"front" json:"front"`   // choerodon.example.choerodon.io (OAuth redirect)
	HTTPS  bool   `mapstructure:"https" json:"https"`
}

// choerodon08Charts are the guide's charts, in the guide's order.
var choerodon08Charts = []c7nChart{
	{Release: "register-server", Chart: "go-register-server", Version: "0.9.0"},
	{Release: "config-server", Version: "0.9.0"}, {Release: "manager-service", Version: "0.9.0"},
	{Release: "iam-service", Version: "0.9.0"}, {Release: "notify-service", Version: "0.9.0"},
	{Release: "asgard-service", Version: "0.9.0"}, {Release: "api-gateway", Version: "0.9.0"},
	{Release: "gateway-helper", Version: "0.9.0"}, {Release: "oauth-server", Version: "0.9.0"},
	{Release: "file-service", Version: "0.9.0"}, {Release: "devops-service", Version: "0.9.3"},
	{Release: "gitlab-service", Version: "0.9.1"}, {Release: "agile-service", Version: "0.9.1"},
	{Release: "test-manager-service", Version: "0.9.2"}, {Release: "wiki-service", Version: "0.9.1"},
	{Release: "choerodon-front", Version: "0.9.1"},
}

// NewChoerodon08Input returns the guide's defaults.
func NewChoerodon08Input() Choerodon08Input {
	site := defaultChoerodonSite("choerodon-devops-prod")
	return Choerodon08Input{
		Target:          runbook.Target{From: "0.8", To: "0.9"},
		ChoerodonSite:   site,
		ManagerDatabase: "manager_service",
	}
}

// GetTarget implements Input.
func (in *Choerodon08Input) GetTarget() *runbook.Target { return &in.Target }

// Validate implements Input.
func (in *Choerodon08Input) Validate() error {
	var p config.Problems
	validateTarget(&p, in.Target, "0.8", "0.9")
	in.ChoerodonSite.validate(&p, (&c7nPlan{charts: choerodon08Charts}).releases(), nil)
	if len(in.Kafka) == 0 {
		p.Add("kafka", "is empty; list the Kafka brokers as host:port (kafka-0.kafka-headless.<ns>.svc.cluster.local:9092, …)")
	}
	if len(in.ZooKeeper) == 0 {
		p.Add("zookeeper", "is empty; list the ZooKeeper nodes as host:port")
	}
	for i, b := range append(append([]string{}, in.Kafka...), in.ZooKeeper...) {
		if !strings.Contains(b, ":") || strings.ContainsAny(b, " ,") {
			p.Add(fmt.Sprintf("kafka/zookeeper[%d]", i), "%q: give one host:port per entry", b)
		}
	}
	if in.ManagerDatabase == "" {
		p.Add("managerDatabase", "is empty; the guide uses manager_service")
	} else {
		checkMySQLIdent(&p, "managerDatabase", in.ManagerDatabase)
	}
	for _, h := range []hostField{{"domains.api", in.Domains.API}, {"domains.gitlab", in.Domains.GitLab}, {"domains.front", in.Domains.Front}} {
		checkHostName(&p, h.field, h.v)
	}
	if in.MinIOURL == "" {
		p.Add("minioURL", "is empty; give MinIO's http(s) URL (PRO_FILE_SERVER of the front end)")
	} else {
		checkURL(&p, "minioURL", in.MinIOURL, nil)
	}
	if in.API.URL != "" {
		checkSecretRef(&p, "oauthClientSecretRef", in.OAuthClientSecretRef, "the choerodon OAuth client's secret")
	}
	return finish(&p, in)
}

func (in *Choerodon08Input) url(host string) string { return siteURL(in.Domains.HTTPS, host) }

// Plan implements Input: the guide's steps, in the guide's order.
func (in *Choerodon08Input) Plan() ([]runbook.Step, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	p := &c7nPlan{site: &in.ChoerodonSite, charts: choerodon08Charts, platform: []string{in.Domains.API, in.Domains.GitLab, in.Domains.Front}}
	ns := in.Namespace
	health := func(release string, port int) c7nService {
		return c7nService{Release: release, Reuse: true, Port: port, Path: "/health"}
	}

	p.in("1.1")
	p.preflightCharts()
	// The framework's releases show the version: the guide upgrades them all from 0.8.
	p.in("pre")
	atFrom := []string{"register-server", "manager-service", "iam-service", "api-gateway"}
	if in.PlanRevision == runbook.OriginalPlan {
		// Runs that started before revision 1 keep the checks they
		// started with (workflows/testdata/choerodon-0.8-0.9-history.json).
		p.preflightInstalledVersion(in.From, atFrom)
		p.preflightHelm2()
		p.preflightAPI()
		p.preflightMySQLAdmin()
	} else {
		// Revision 1: 0.21's checks. Every release the run upgrades or
		// deletes is there (the framework's at 0.8), the worker may do what
		// the run does in the namespace, every secret resolves, and the
		// admin holds what the run's SQL needs.
		p.preflightFrom(in.From, atFrom, SecretRefs(in))
		p.preflightHelm2()
		p.preflightAPI()
		p.preflightMySQL(activities.PrivilegeNeed{Privilege: "SELECT", Why: "reading devops_check_log (2.1.7)"})
	}
	// Not in the guide, but cheap and what every operator wants first: the
	// values of every release as they were.
	p.in("backup")
	p.backupValues()
	dbBackup := p.backupDB(fmt.Sprintf("Back up the databases first: dump every database of %s:%d (manager_service, "+
		"iam_service, devops_service, agile_service, …) and check the dump. After this upgrade the schema may change and "+
		"there is no going back (升级后可能数据库结构会发生改变，故不能进行版本回退).", in.DB.Host, in.DB.Port))
	p.in("helm2")
	p.convertHelm2()

	// 微服务开发框架升级, in the guide's order. The guide warns first: 升级后可
	// 能数据库结构会发生改变，故不能进行版本回退 — a person takes that step
	// knowingly, with the values and the databases saved.
	p.in("1")
	noWayBack := "approve/no-way-back"
	p.gate(noWayBack, fmt.Sprintf("Upgrade the framework of %s to 0.9? The guide: 升级后可能数据库结构会发生改变，故不能进行版本回退 — "+
		"once the services start at 0.9 their databases may change and there is no going back. The values are saved by "+
		"backup-values/all and the databases by %s.", ns, dbBackup), false)
	p.destructive(noWayBack)
	requires := []string{"backup-values/all", dbBackup, noWayBack}
	if p.dumps() {
		requires = append(requires, p.verifyBackup(dbBackup)...)
	}
	p.in("1.2")
	p.upgrade(c7nService{Release: "register-server", Reuse: true})
	p.steps[len(p.steps)-1].Requires = requires
	// 验证升级: the registry lists go-register-server itself, UP, at the new
	// version. go-register-server 0.9.0 answers GET /eureka/apps with
	// {"applications":{"application":[{"name","instance":[…]}]}}
	// (pkg/eureka/apps/types.go); an instance's metadata.VERSION is its pod's
	// choerodon.io/version label (pkg/convertor/instance_convertor.go). The
	// guide prints one application element of that answer.
	p.waitUp(c7nService{Release: "register-server", Port: 8000, Path: "/eureka/apps",
		Expect: activities.WaitHTTPInput{Element: &activities.JSONElement{Path: "applications.application.*.instance.*",
			Where: map[string]string{"app": "go-register-server", "status": "UP", "metadata.VERSION": p.chart("register-server").Version}}}})
	// Until manager-service's upgrade (its init job is the first to change
	// a database), `abort --rollback` upgrades register-server and
	// config-server back to the versions they ran, with their saved values.
	p.undo("upgrade/register-server", p.undoFromBackup("upgrade", c7nService{Release: "register-server", Port: 8000, Path: "/eureka/apps",
		Expect: activities.WaitHTTPInput{Element: &activities.JSONElement{Path: "applications.application.*.instance.*",
			Where: map[string]string{"app": "go-register-server", "status": "UP"}}}}))
	p.in("1.3")
	p.service(health("config-server", 8011))
	p.undo("upgrade/config-server", p.undoFromBackup("upgrade", health("config-server", 8011)))
	p.in("1.4")
	p.service(health("manager-service", 8964))
	p.noReturn("upgrade/manager-service", "升级后可能数据库结构会发生改变，故不能进行版本回退 (after the upgrade the database "+
		"structure may have changed, so there is no going back: manager-service's init job is the first to change a database)")
	p.in("1.5")
	p.service(health("iam-service", 8031))

	// 部署notify service and asgard service: a database each, then the chart.
	brokers := strings.Join(in.Kafka, ",")
	zk := strings.Join(in.ZooKeeper, ",")
	eureka := fmt.Sprintf("http://%s.%s:8000/eureka/", p.name("register-server"), ns)
	configURI := fmt.Sprintf("http://%s.%s:8010/", p.name("config-server"), ns)
	for _, svc := range []struct {
		release, database string
		port              int
		section           string
	}{{"notify-service", "notify_service", 18086, "1.6"}, {"asgard-service", "asgard_service", 18081, "1.7"}} {
		p.in(svc.section)
		p.createDatabases("create-database/"+svc.database, []activities.DatabaseSpec{{Name: svc.database, Charset: "utf8"}})
		set := map[string]any{
			"preJob.preConfig.mysql.host":     in.DB.Host,
			"preJob.preConfig.mysql.port":     in.DB.Port,
			"preJob.preConfig.mysql.database": in.ManagerDatabase,
			"preJob.preConfig.mysql.username": in.DB.User,
			"preJob.preInitDB.mysql.host":     in.DB.Host,
			"preJob.preInitDB.mysql.port":     in.DB.Port,
			"preJob.preInitDB.mysql.database": svc.database,
			"preJob.preInitDB.mysql.username": in.DB.User,
			"env.open.SPRING_DATASOURCE_URL": fmt.Sprintf("jdbc:mysql://%s:%d/%s?useUnicode=true&characterEncoding=utf-8&useSSL=false",
				in.DB.Host, in.DB.Port, svc.database),
			"env.open.SPRING_DATASOURCE_USERNAME":                       in.DB.User,
			"env.open.EUREKA_CLIENT_SERVICEURL_DEFAULTZONE":             eureka,
			"env.open.SPRING_CLOUD_CONFIG_ENABLED":                      true,
			"env.open.SPRING_CLOUD_CONFIG_URI":                          configURI,
			"env.open.CHOERODON_EVENT_CONSUMER_KAFKA_BOOTSTRAP_SERVERS": brokers,
			"env.open.SPRING_CLOUD_STREAM_KAFKA_BINDER_BROKERS":         brokers,
			"env.open.SPRING_KAFKA_BOOTSTRAP_SERVERS":                   brokers,
			"env.open.SPRING_CLOUD_STREAM_KAFKA_BINDER_ZK_NODES":        zk,
		}
		pw := in.DB.PasswordRef
		p.service(c7nService{Release: svc.release, Install: true, Set: set, Port: svc.port, Path: "/health",
			Secrets: map[string]string{"preJob.preConfig.mysql.password": pw, "preJob.preInitDB.mysql.password": pw,
				"env.open.SPRING_DATASOURCE_PASSWORD": pw}})
	}

	p.in("1.8")
	p.service(health("api-gateway", 8081))
	p.in("1.9")
	p.service(health("gateway-helper", 9181))
	p.in("1.10")
	p.service(health("oauth-server", 8021))
	p.in("1.11")
	p.service(health("file-service", 9091))

	// DevOps服务升级: the CRD, GitLab's SSH, devops-service, the smooth upgrade call.
	p.in("2.1")
	p.add(runbook.Step{Name: "apply-crd/c7nhelmrelease", Kind: runbook.KindKube,
		Summary:  "kubectl apply the C7NHelmRelease CRD (c7nhelmreleases.choerodon.io)",
		Activity: kube.Apply, Input: activities.KubeApplyInput{Cluster: in.Cluster, Manifests: c7nHelmReleaseCRD}})
	p.add(runbook.Step{Name: "wait-crd/c7nhelmrelease", Kind: runbook.KindWait,
		Summary:  "wait until the API server serves c7nhelmreleases.choerodon.io (Established)",
		Activity: kube.WaitCRDsEstablished, Input: activities.WaitCRDInput{Cluster: in.Cluster, Names: []string{"c7nhelmreleases.choerodon.io"}},
		Timeout: 5 * time.Minute})
	p.gate("approve/gitlab-ssh", fmt.Sprintf("Confirm GitLab has the SSH protocol enabled (the guide: 设置Gitlab启用SSH协议, 必须开启); "+
		"devops-service will use %s as its SSH URL.", in.Domains.GitLab), false)
	p.service(c7nService{Release: "devops-service", Reuse: true, Port: 8061, Path: "/health", Set: map[string]any{
		"env.open.AGENT_VERSION":                      "0.9.6",
		"env.open.TEMPLATE_VERSION_MICROSERVICE":      "0.9.0",
		"env.open.TEMPLATE_VERSION_MICROSERVICEFRONT": "0.9.0",
		"env.open.TEMPLATE_VERSION_JAVALIB":           "0.9.0",
		"env.open.SERVICES_GITLAB_SSHURL":             in.Domains.GitLab,
		"env.open.SECURITY_IGNORED":                   "/ci,/webhook,/v2/api-docs,/agent/**,/ws/**,/webhook/**",
		"env.open.SERVICES_GATEWAY_URL":               in.url(in.Domains.API),
	}})
	p.markCheckLog()
	p.apiCall("devops-smooth-upgrade/0.9",
		fmt.Sprintf("As the platform admin, call devops-service's smooth upgrade API (swagger-ui at %s/manager/swagger-ui.html → "+
			"devops-service → devops-check-controller → 平滑升级接口) with version 0.9: it adds GitOps to the applications made "+
			"before 0.9; the result is in the log column of devops-service's devops_check_log table.", in.url(in.Domains.API)),
		activities.HTTPCallInput{Method: "GET", URL: "/devops/v1/upgrade?version=0.9",
			// A GET that upgrades data each time it is called: never sent twice.
			Repeatable:  activities.Repeat(false),
			CheckByHand: "the log column of devops-service's devops_check_log table for a 0.9 entry"}, "")
	// 调用完之后可以查看devops-service的devops-check-log表里面的log字段查看平滑升级信息.
	p.waitCheckLog()
	p.in("2.2")
	p.service(health("gitlab-service", 8071))

	// 敏捷管理升级, 测试管理升级.
	p.in("3")
	p.service(health("agile-service", 8379))
	p.in("4")
	p.service(health("test-manager-service", 8094))

	// 知识管理升级: the XWiki procedure is done by hand, one gate a sub-step.
	p.in("5")
	for _, g := range []struct{ name, prompt string }{
		{"xwiki/download-package", "XWiki 0.9.0 needs the Choerodon framework at 0.9.0 (done above). Download the upgrade package " +
			"Choerodon-wiki-0.9.0-update.rar from https://file.choerodon.com.cn/choerodon-install/wiki/Choerodon-wiki-0.9.0-update.rar."},
		{"xwiki/edit-properties", fmt.Sprintf("In XWiki's volume, /data/data/xwiki.properties: set oidc.endpoint.userinfo=%s/iam/v1/users/self "+
			"and add on the next line oidc.endpoint.logout=%s/oauth/logout (the platform gateway's domain).", in.url(in.Domains.API), in.url(in.Domains.API))},
		{"xwiki/copy-repository", "Copy the contents of repository-0.9.0-update from the package into XWiki's volume, /data/data/extension/repository."},
		{"xwiki/import-xar", "As admin in XWiki: 设置 → Content → 导入, upload Choerodon-wiki-0.9.0-update.xar, select it, choose " +
			"给已有文档添加一个新的版本 (add a new version to existing documents) and import; wait until the import is done."},
		{"xwiki/delete-confluencetest", "Open /bin/view/ConfluenceTest in XWiki (the page may look broken; that is expected), " +
			"更多 → 删除, tick Affect children and confirm."},
		{"xwiki/restart", "Restart XWiki."},
	} {
		p.gate(g.name, g.prompt, false)
	}
	p.upgrade(c7nService{Release: "wiki-service", Reuse: true})
	p.apiCall("wiki-refresh-home/0.9",
		fmt.Sprintf("Refresh the wiki spaces' home pages: in swagger-ui (%s/manager/swagger-ui.html) choose wiki:wiki-service → "+
			"wiki-scanning-controller → 更新wiki系统主页 and Try it out.", in.url(in.Domains.API)),
		// wiki-service 0.9.1's WikiScanningController (@RequestMapping("/v1"),
		// src/main/java/io/choerodon/wiki/api/controller/v1/WikiScanningController.java):
		// 更新wiki系统主页 is POST /v1/wiki/page, answered 201 Created; the
		// gateway serves wiki-service under /wiki. It rewrites each space's
		// home page with the same content, so a second call is harmless.
		// It answers only when every space is done: minutes on a big site,
		// so the answer is waited for (10 min), not cut at the client's 10 s
		// and sent again.
		activities.HTTPCallInput{Method: "POST", URL: "/wiki/v1/wiki/page", ExpectStatus: []int{http.StatusCreated},
			Repeatable: activities.Repeat(true), AnswerTimeout: contract.Duration(wikiRefreshAnswer)}, "")

	// 整合前端升级.
	p.in("6")
	p.service(c7nService{Release: "choerodon-front", Reuse: true, Port: 80, Path: "/",
		Set:    map[string]any{"env.open.PRO_FILE_SERVER": in.MinIOURL},
		Expect: activities.WaitHTTPInput{BodyContains: "<title>Choerodon</title>"}})
	p.apiCall("create-oauth-client/choerodon",
		fmt.Sprintf("Create the OAuth client `choerodon`: swagger-ui (%s/manager/swagger-ui.html) → iam_service → client-controller → 创建client, "+
			"organization 1, grant types implicit,client_credentials,authorization_code,refresh_token, scope default, "+
			"redirect URI %s.", in.url(in.Domains.API), in.url(in.Domains.Front)),
		// Config values are the template's data, never its text.
		activities.HTTPCallInput{Method: "POST", URL: "/iam/v1/organizations/1/clients", Body: `{"accessTokenValidity":60,` +
			`"additionalInformation":"","authorizedGrantTypes":"implicit,client_credentials,authorization_code,refresh_token",` +
			`"autoApprove":"default","name":"choerodon","objectVersionNumber":0,"organizationId":1,"refreshTokenValidity":60,` +
			`"resourceIds":"default","scope":"default","secret":{{ secret .secretRef | json }},"webServerRedirectUri":{{ .redirect | json }}}`,
			BodyTemplate: true, BodyVars: map[string]string{"secretRef": in.OAuthClientSecretRef, "redirect": in.url(in.Domains.Front)},
			// iam-service 0.9 lists clients as a page ({"content": […]}); a
			// client named choerodon there means the create already happened.
			Check: &activities.HTTPCheck{URL: "/iam/v1/organizations/1/clients?name=choerodon",
				Done: map[string]string{"content.*.name": "choerodon"}},
			CheckByHand: "whether organization 1 has an OAuth client named choerodon (iam client list)"}, "")

	p.in("end")
	p.verify(nil)
	p.in("helm2-cleanup")
	p.cleanupTiller()
	if err := p.problems.Err(); err != nil {
		return nil, err
	}
	p.finishPreflight()
	p.finishHelm2()
	return p.steps, nil
}

// c7nHelmReleaseCRD is the guide's C7NHelmRelease.yaml. The guide's
// apiextensions.k8s.io/v1beta1 is gone from Kubernetes 1.22 on; this is
// the same definition in v1, which needs a schema: it keeps every field.
const c7nHelmReleaseCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: c7nhelmreleases.choerodon.io
spec:
  group: choerodon.io
  names:
    kind: C7NHelmRelease
    listKind: C7NHelmReleaseList
    plural: c7nhelmreleases
    singular: c7nhelmrelease
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

// ChoerodonUpgrade08To09 is the guide's workflow.
func ChoerodonUpgrade08To09(ctx workflow.Context, in Choerodon08Input) (runbook.RunStatus, error) {
	return runGuide(ctx, Choerodon08Guide, &in)
}
