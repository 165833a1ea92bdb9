package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/workflows/runbook"
)

// Choerodon021Guide is "从0.21升级到0.22" (../shared/seeds/000_5eb1c8e48cb12d5d.txt):
// the switch of the framework to hzero. The old framework's releases are
// deleted, hzero's are installed on new databases after a data migration,
// then the business services and the front ends are upgraded.
var Choerodon021Guide = runbook.Guide{Name: "choerodon-0.21-0.22", Title: "Choerodon 0.21 → 0.22 (framework switch to hzero)",
	// The guide has no numbering of its own: parts 1–4 are its "##"
	// headings, their sections its "###" headings, in its order (as
	// ../shared/guide-notes/choerodon-0.21-0.22.md numbers them).
	Map: []runbook.Section{
		{ID: "pre", Title: "read-only site checks before any change (ours, not in the guide)"},
		{ID: "1", Title: "framework upgrade: the c7n framework replaced by hzero", Heading: "微服务开发框架升级"},
		{ID: "1.1", Title: "chart repository", Heading: "添加Choerodon Chart仓库"},
		{ID: "1.2", Title: "old → new services and databases", Heading: "服务列表",
			NotAutomated: "a table for the reader: sections 1.4–1.17 delete and install what it lists, verify/releases checks the result"},
		{ID: "1.3", Title: "back up the databases and every release's values", Heading: "数据备份"},
		helm2Section,
		{ID: "1.4", Title: "delete the old framework's releases, once a person approves", Heading: "删除旧版猪齿鱼框架服务"},
		{ID: "1.5", Title: "create the hzero databases and grants", Heading: "创建数据库"},
		{ID: "1.6", Title: "data migration, and its log", Heading: "数据迁移"},
		{ID: "1.7", Title: "hzero-register", Heading: "部署 hzero register"},
		{ID: "1.8", Title: "hzero-admin", Heading: "升级 hzero admin"},
		{ID: "1.9", Title: "hzero-iam", Heading: "升级 hzero iam"},
		{ID: "1.10", Title: "hzero-asgard", Heading: "升级 hzero asgard"},
		{ID: "1.11", Title: "hzero-swagger", Heading: "部署 hzero swagger"},
		{ID: "1.12", Title: "hzero-gateway", Heading: "升级 hzero gateway"},
		{ID: "1.13", Title: "hzero-oauth", Heading: "升级 hzero oauth"},
		{ID: "1.14", Title: "hzero-platform", Heading: "升级 hzero platform"},
		{ID: "1.15", Title: "hzero-monitor", Heading: "升级 hzero monitor"},
		{ID: "1.16", Title: "hzero-file", Heading: "升级 hzero file"},
		{ID: "1.17", Title: "hzero-message", Heading: "升级 hzero message"},
		{ID: "2", Title: "agile management services (databases backed up first: 1.3)", Heading: "敏捷管理升级"},
		{ID: "2.1", Title: "agile-service", Heading: "升级 agile service"},
		{ID: "2.2", Title: "test-manager-service", Heading: "升级 test manager service"},
		{ID: "2.3", Title: "knowledgebase-service: backup confirmed again, data fix followed in its log", Heading: "升级 knowledgebase service"},
		{ID: "3", Title: "DevOps services", Heading: "DevOps服务升级"},
		{ID: "3.1", Title: "gitlab-service", Heading: "升级gitlab service"},
		{ID: "3.2", Title: "workflow-service", Heading: "升级workflow service"},
		{ID: "3.3", Title: "devops-service and its data migration log", Heading: "升级devops service"},
		{ID: "4", Title: "front ends", Heading: "整合前端升级"},
		{ID: "4.1", Title: "choerodon-front", Heading: "升级choerodon-front"},
		{ID: "4.2", Title: "hzero-front", Heading: "升级hzero-front"},
		{ID: "3.3-retry", Title: "devops data repair call, if 3.3's migration did not finish (the guide: after the front ends)"},
		{ID: "end", Title: "end state checked: the guide's releases at their versions, the old ones gone (ours)"},
		helm2CleanupSection,
	}}

// choerodon021Spec describes the guide to the worker and the starter (guides.go lists it).
var choerodon021Spec = Spec{
	Guide:        Choerodon021Guide,
	WorkflowType: "ChoerodonUpgrade_0_21_to_0_22",
	Workflow:     ChoerodonUpgrade021To022,
	NewInput:     func() Input { in := NewChoerodon021Input(); return &in },
	Example:      "config/examples/choerodon-0.21-0.22.yaml",
	Seed:         "000_5eb1c8e48cb12d5d.txt",
}

// Choerodon021Input configures the 0.21 → 0.22 upgrade of one site.
type Choerodon021Input struct {
	runbook.Target `mapstructure:",squash" json:",inline"`
	ChoerodonSite  `mapstructure:",squash" json:",inline"`
	// Redis as the services reach it.
	Redis ChoerodonRedis `mapstructure:"redis" json:"redis"`
	// EurekaURL is the registry every hzero service registers with.
	EurekaURL string `mapstructure:"eurekaURL" json:"eurekaURL"`
	// Domains are the site's host names.
	Domains Choerodon021Domains `mapstructure:"domains" json:"domains"`
	// MinIO is hzero-file's object store.
	MinIO ChoerodonMinIO `mapstructure:"minio" json:"minio"`
	// OldReleases are the old framework's releases the guide deletes.
	OldReleases []string `mapstructure:"oldReleases" json:"oldReleases"`
	// KnowledgebasePreConfigUpdatePolicy is how knowledgebase-service's
	// init job writes its new application.yaml into the config store
	// (preJob.preConfig.updatePolicy: not, add, override or update; the
	// chart's default is add). The guide says to change it for this
	// upgrade (修改preConfig的application.yaml配置更新策略) without a value;
	// update takes the new version's changed keys and adds its new ones.
	KnowledgebasePreConfigUpdatePolicy string `mapstructure:"knowledgebasePreConfigUpdatePolicy" json:"knowledgebasePreConfigUpdatePolicy" jsonschema:"enum=not,enum=add,enum=override,enum=update"`
}

// ChoerodonRedis is the platform's Redis.
type ChoerodonRedis struct {
	Host string `mapstructure:"host" json:"host"`
	Port int    `mapstructure:"port" json:"port"`
}

// Choerodon021Domains are the host names the 0.22 values use.
type Choerodon021Domains struct {
	API      string `mapstructure:"api" json:"api"`           // api.example.choerodon.io
	Register string `mapstructure:"register" json:"register"` // register.example.choerodon.io
	Notify   string `mapstructure:"notify" json:"notify"`     // notify.example.choerodon.io
	Hzero    string `mapstructure:"hzero" json:"hzero"`       // hzero.example.choerodon.io
	Front    string `mapstructure:"front" json:"front"`       // example.choerodon.io (login success page)
	// HTTPS: the domains are served over https.
	HTTPS bool `mapstructure:"https" json:"https"`
}

// ChoerodonMinIO is an object store, with keys by secret name.
type ChoerodonMinIO struct {
	Endpoint     string `mapstructure:"endpoint" json:"endpoint"`
	AccessKeyRef string `mapstructure:"accessKeyRef" json:"accessKeyRef"`
	SecretKeyRef string `mapstructure:"secretKeyRef" json:"secretKeyRef"`
}

// The old framework's releases, deleted by the guide.
var choerodon021OldReleases = []string{"base-service", "api-gateway", "file-service", "manager-service",
	"notify-service", "oauth-server", "register-server", "asgard-service"}

// NewChoerodon021Input returns the guide's defaults.
func NewChoerodon021Input() Choerodon021Input {
	return Choerodon021Input{
		Target:        runbook.Target{From: "0.21", To: "0.22"},
		ChoerodonSite: defaultChoerodonSite("c7n-system"),
		Redis:         ChoerodonRedis{Port: 6379},
		OldReleases:   append([]string{}, choerodon021OldReleases...),

		KnowledgebasePreConfigUpdatePolicy: "update",
	}
}

// GetTarget implements Input.
func (in *Choerodon021Input) GetTarget() *runbook.Target { return &in.Target }

// Validate implements Input.
func (in *Choerodon021Input) Validate() error {
	var p config.Problems
	validateTarget(&p, in.Target, "0.21", "0.22")
	upgraded := (&c7nPlan{charts: choerodon021Charts}).releases()
	in.ChoerodonSite.validate(&p, upgraded, in.OldReleases)
	if in.Redis.Host == "" {
		p.Add("redis.host", "is empty; give Redis as the pods reach it (c7n-redis.c7n-system)")
	} else {
		checkHostName(&p, "redis.host", in.Redis.Host)
	}
	checkPort(&p, "redis.port", in.Redis.Port)
	if in.EurekaURL == "" {
		p.Add("eurekaURL", "is empty; the guide uses http://register.c7n-system:8000/eureka/")
	} else {
		checkURL(&p, "eurekaURL", in.EurekaURL, nil)
	}
	for _, h := range []hostField{{"domains.api", in.Domains.API}, {"domains.register", in.Domains.Register},
		{"domains.notify", in.Domains.Notify}, {"domains.hzero", in.Domains.Hzero}, {"domains.front", in.Domains.Front}} {
		checkHostName(&p, h.field, h.v)
	}
	if in.MinIO.Endpoint == "" {
		p.Add("minio.endpoint", "is empty; hzero-file stores files there (https://minio.example.choerodon.io)")
	} else {
		checkURL(&p, "minio.endpoint", in.MinIO.Endpoint, nil)
	}
	checkSecretRef(&p, "minio.accessKeyRef", in.MinIO.AccessKeyRef, "MinIO's access key")
	checkSecretRef(&p, "minio.secretKeyRef", in.MinIO.SecretKeyRef, "MinIO's secret key")
	// Empty leaves the chart's value (runs started before the field existed).
	if v := in.KnowledgebasePreConfigUpdatePolicy; v != "" && !slices.Contains([]string{"not", "add", "override", "update"}, v) {
		p.Add("knowledgebasePreConfigUpdatePolicy", "is %q; one of not, add, override, update (the guide changes it from the chart's add; update is the default)",
			in.KnowledgebasePreConfigUpdatePolicy)
	}
	if len(in.OldReleases) == 0 {
		p.Add("oldReleases", "is empty; the guide deletes the old framework's releases (%s)", strings.Join(choerodon021OldReleases, ", "))
	}
	for i, r := range in.OldReleases {
		key := fmt.Sprintf("oldReleases[%d]", i)
		checkLabel(&p, key, r, "release")
		if slices.Contains(upgraded, r) || slices.Contains(upgraded, in.Releases[r]) {
			p.Add(key, "%q is a release this guide upgrades or installs; deleting it is not part of the upgrade", r)
		}
	}
	return finish(&p, in)
}

func (in *Choerodon021Input) url(host string) string { return siteURL(in.Domains.HTTPS, host) }

// Plan implements Input: the guide's steps, in the guide's order.
func (in *Choerodon021Input) Plan() ([]runbook.Step, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	p := &c7nPlan{site: &in.ChoerodonSite, charts: choerodon021Charts, platform: []string{in.Domains.API, in.Domains.Register, in.Domains.Notify, in.Domains.Hzero, in.Domains.Front}}
	ns := in.Namespace
	dbPW := in.DB.PasswordRef
	redis := func(db int) map[string]any {
		return map[string]any{"SPRING_REDIS_HOST": in.Redis.Host, "SPRING_REDIS_PORT": in.Redis.Port, "SPRING_REDIS_DATABASE": db}
	}
	datasource := func(database string) map[string]any {
		return map[string]any{"SPRING_DATASOURCE_URL": p.jdbc(database, jdbcParams), "SPRING_DATASOURCE_USERNAME": in.DB.User}
	}
	// preInitDB is the hzero charts' DB init job (password by secret).
	preInitDB := func(driver bool) map[string]any {
		ds := map[string]any{"url": p.jdbc("", jdbcParams), "username": in.DB.User}
		if driver {
			ds["driver"] = "com.mysql.jdbc.Driver"
		}
		return map[string]any{"preInitDB": map[string]any{"datasource": ds}}
	}
	secrets := func(preJob bool) map[string]string {
		s := map[string]string{"env.open.SPRING_DATASOURCE_PASSWORD": dbPW}
		if preJob {
			s["preJob.preInitDB.datasource.password"] = dbPW
		}
		return s
	}
	// hzero-iam, hzero-oauth and hzero-message register with hzero-register
	// itself in the guide's values (http://hzero-register.c7n-system:8000/eureka/),
	// the others with eurekaURL (the guide's register.c7n-system).
	hzeroRegister := map[string]any{"EUREKA_CLIENT_SERVICEURL_DEFAULTZONE": fmt.Sprintf("http://%s.%s:8000/eureka/", p.name("hzero-register"), ns)}
	envOpen := func(parts ...map[string]any) map[string]any {
		out := map[string]any{"EUREKA_CLIENT_SERVICEURL_DEFAULTZONE": in.EurekaURL}
		for _, part := range parts {
			for _, k := range sortedKeys(part) {
				out[k] = part[k]
			}
		}
		return out
	}

	// Before anything: the worker can reach what it needs.
	p.in("1.1")
	p.preflightCharts()
	p.in("pre")
	p.preflightFrom(in.From, in.OldReleases, SecretRefs(in))
	p.preflightHelm2()
	p.preflightAPI()
	p.preflightMySQL(activities.PrivilegeNeed{Privilege: "ALTER", Why: "the guide's DDL"}, activities.PrivilegeNeed{Privilege: "INDEX", Why: "the guide's DDL"})

	// 数据备份: every release's values, and the databases.
	p.in("1.3")
	p.backupValues()
	dbBackup := p.backupDB(fmt.Sprintf("Back up the databases first (the guide: 开始进行升级部署前请先备份好数据库): "+
		"dump every database of %s:%d, at least base_service, manager_service, notify_service and asgard_service, "+
		"and check the dump. After this upgrade the schema changes and there is no going back.", in.DB.Host, in.DB.Port))
	p.in("helm2")
	p.convertHelm2()

	// 删除旧版猪齿鱼框架服务.
	p.in("1.4")
	approve := "approve/delete-old-releases"
	old := make([]string, len(in.OldReleases))
	for i, r := range in.OldReleases {
		old[i] = p.name(r)
	}
	p.gate(approve, fmt.Sprintf("Delete the old framework's releases %s from %s? Their values are saved by backup-values/all "+
		"and the databases by %s. The framework is replaced by hzero. Until the data migration starts, `decide … abort --rollback` "+
		"re-installs them from those backups; after it, there is no way back.", strings.Join(old, ", "), ns, dbBackup), false)
	requires := []string{"backup-values/all", dbBackup, approve}
	if p.dumps() {
		requires = append(requires, p.verifyBackup(dbBackup)...)
	}
	for _, r := range in.OldReleases {
		p.add(runbook.Step{Name: "delete-release/" + r, Kind: runbook.KindHelm,
			Summary:  fmt.Sprintf("helm delete --purge %s", p.name(r)),
			Activity: helm.Uninstall,
			Input:    activities.HelmUninstallInput{Cluster: in.Cluster, Namespace: ns, Release: p.name(r)},
			Requires: requires,
			// Before the data migration, `abort --rollback` puts it back.
			Undo: p.undoFromBackup("delete-release", choerodon021OldHealth(r))})
	}

	// 创建数据库.
	hzeroDBs := []activities.DatabaseSpec{}
	for _, d := range []string{"hzero_platform", "hzero_message", "hzero_file", "hzero_monitor", "hzero_admin"} {
		hzeroDBs = append(hzeroDBs, activities.DatabaseSpec{Name: d, Charset: "utf8mb4", Collation: "utf8mb4_unicode_ci"})
	}
	// Backups before deletes: the guide's 数据备份, and 开始进行升级部署前请先备份好数据库.
	p.required("backup-values/all", "backup-before-delete", "数据备份: every release's values are saved before the old "+
		"framework's releases are deleted; without them nothing can be reinstalled as it was")
	p.required(dbBackup, "db-backup", "开始进行升级部署前请先备份好数据库! The schema changes and the version cannot be rolled back "+
		"(故不能进行版本回退); without a dump there is no way back")
	if in.DB.Admin != nil && in.DB.Admin.Backup {
		p.required("verify-backup/mysql", "backup-verified", "the dump is checked unchanged right before the first delete; "+
			"skipping it deletes on the strength of a file nobody checked")
	}
	p.destructive(approve)
	p.in("1.5")
	p.createDatabases("create-databases/hzero", hzeroDBs)

	// 数据迁移: the data-migration chart, then its log.
	p.in("1.6")
	migration := map[string]any{"MODULE_NAME": "emailConfig"}
	migrationSecrets := map[string]string{}
	for _, d := range []struct{ key, db, params string }{
		{"ASGARD_SERVICE", "asgard_service", jdbcParamsZero},
		{"BASE_C7N", "base_service", jdbcParams},
		{"C7N", "", jdbcParams},
		{"HZERO_MESSAGE", "hzero_message", jdbcParamsZero},
		{"HZERO_PLATFORM", "hzero_platform", jdbcParams},
		{"NOTIFY_C7N", "notify_service", jdbcParams},
	} {
		migration["SPRING_DATASOURCE_"+d.key+"_URL"] = p.jdbc(d.db, d.params)
		migration["SPRING_DATASOURCE_"+d.key+"_USERNAME"] = in.DB.User
		migrationSecrets["env.open.SPRING_DATASOURCE_"+d.key+"_PASSWORD"] = dbPW
	}
	p.upgrade(c7nService{Release: "data-migration", Install: true,
		Values: map[string]any{"env": map[string]any{"open": migration}}, Secrets: migrationSecrets})
	// 升级后可能数据库结构会发生改变，故不能进行版本回退: once the migration
	// starts, the old framework's data is being rewritten.
	p.noReturn("install/data-migration", "升级后可能数据库结构会发生改变，故不能进行版本回退 (after the upgrade the database "+
		"structure may have changed, so there is no going back: the data migration is where that starts)")
	p.followLog("data-migration", "修复完成，正常退出",
		"an exception means the upgrade cannot go on (the guide: 如果出现异常信息，不能再继续升级)", in.Probe.logFailure("data-migration"))
	p.required("follow-log/data-migration", "data-migration-exception", "此次升级更换底层框架，数据迁移逻辑较为复杂，请注意迁移服务日志，"+
		"如果出现异常信息，不能再继续升级: with an exception in the migration log the upgrade cannot go on")

	// The hzero framework, in the guide's order.
	p.in("1.7")
	p.service(c7nService{Release: "hzero-register", Install: true, Port: 8001, Path: "/actuator/health",
		Values: map[string]any{"env": map[string]any{"open": envOpen()},
			"ingress": map[string]any{"enabled": true, "host": in.Domains.Register}}})
	p.in("1.8")
	p.service(c7nService{Release: "hzero-admin", Install: true, Port: 8061, Path: "/actuator/health",
		Values: map[string]any{"preJob": preInitDB(false), "env": map[string]any{"open": envOpen(redis(1), datasource("hzero_admin"),
			map[string]any{"HZERO_AUTO_REFRESH_SWAGGER_ENABLE": true})}}, Secrets: secrets(true)})
	p.in("1.9")
	p.service(c7nService{Release: "hzero-iam", Install: true, Port: 8031, Path: "/actuator/health",
		Values: map[string]any{"preJob": preInitDB(true), "env": map[string]any{"open": envOpen(redis(1), datasource("hzero_platform"), hzeroRegister,
			map[string]any{"CHOERODON_GATEWAY_URL": in.url(in.Domains.API)})}}, Secrets: secrets(true)})
	p.in("1.10")
	p.service(c7nService{Release: "hzero-asgard", Install: true, Port: 8041, Path: "/actuator/health",
		Values:  map[string]any{"preJob": preInitDB(true), "env": map[string]any{"open": envOpen(redis(7), datasource("asgard_service"))}},
		Secrets: secrets(true)})
	p.in("1.11")
	p.service(c7nService{Release: "hzero-swagger", Install: true, Port: 8051, Path: "/actuator/health",
		Values: map[string]any{"env": map[string]any{"open": envOpen(redis(1), datasource("hzero_message"),
			map[string]any{"HZERO_OAUTH_URL": in.url(in.Domains.API) + "/oauth/oauth/authorize"})}}, Secrets: secrets(false)})
	p.in("1.12")
	p.service(c7nService{Release: "hzero-gateway", Install: true, Port: 8081, Path: "/actuator/health",
		Values: map[string]any{"env": map[string]any{"open": envOpen(redis(4), datasource("hzero_platform"))},
			"ingress": map[string]any{"enabled": true, "host": in.Domains.API}}, Secrets: secrets(false)})
	p.in("1.13")
	p.service(c7nService{Release: "hzero-oauth", Install: true, Port: 8021, Path: "/actuator/health",
		Values: map[string]any{"env": map[string]any{"open": envOpen(redis(3), datasource("hzero_platform"), hzeroRegister, map[string]any{
			"HZERO_OAUTH_LOGIN_ENABLE_HTTPS":      in.Domains.HTTPS,
			"HZERO_OAUTH_LOGIN_SUCCESS_URL":       in.url(in.Domains.Front),
			"HZERO_OAUTH_LOGIN_DEFAULT_CLIENT_ID": "choerodon",
			"HZERO_GATEWAY_URL":                   in.url(in.Domains.API)})}}, Secrets: secrets(false)})
	p.in("1.14")
	p.service(c7nService{Release: "hzero-platform", Install: true, Port: 8101, Path: "/actuator/health",
		Values: map[string]any{"preJob": preInitDB(true), "env": map[string]any{"open": envOpen(redis(1), datasource("hzero_platform"),
			map[string]any{"HZERO_PLATFORM_HTTP_PROTOCOL": strings.TrimSuffix(in.url(""), "://")})}}, Secrets: secrets(true)})
	p.in("1.15")
	p.service(c7nService{Release: "hzero-monitor", Install: true, Port: 8261, Path: "/actuator/health",
		Values:  map[string]any{"preJob": preInitDB(false), "env": map[string]any{"open": envOpen(redis(1), datasource("hzero_monitor"))}},
		Secrets: secrets(true)})
	fileSecrets := secrets(true)
	fileSecrets["env.open.MINIO_ACCESSKEY"] = in.MinIO.AccessKeyRef
	fileSecrets["env.open.MINIO_SECRETKEY"] = in.MinIO.SecretKeyRef
	p.in("1.16")
	p.service(c7nService{Release: "hzero-file", Install: true, Port: 8111, Path: "/actuator/health",
		Values: map[string]any{"preJob": preInitDB(true), "env": map[string]any{"open": envOpen(redis(1), datasource("hzero_file"), map[string]any{
			"MINIO_ENDPOINT":                            in.MinIO.Endpoint,
			"SPRING_SERVLET_MULTIPART_MAX_FILE_SIZE":    "200MB",
			"SPRING_SERVLET_MULTIPART_MAX_REQUEST_SIZE": "200MB",
			"FILE_GATEWAY_URL":                          in.url(in.Domains.API) + "/hfle"})}}, Secrets: fileSecrets})
	p.in("1.17")
	p.service(c7nService{Release: "hzero-message", Install: true, Port: 8121, Path: "/actuator/health",
		Values: map[string]any{"preJob": preInitDB(false), "env": map[string]any{"open": envOpen(redis(1), datasource("hzero_message"), hzeroRegister,
			map[string]any{"HZERO_WEBSOCKET_OAUTHURL": "http://" + p.name("hzero-oauth") + "/oauth/api/user"})},
			"ingress": map[string]any{"enabled": true, "host": in.Domains.Notify}}, Secrets: secrets(true)})

	// 敏捷管理升级 and the other business services: reuse the values, add
	// the platform datasource of the new preJob.
	platformSet := map[string]any{
		"preJob.preInitDB.datasource.platform.url":      p.jdbc("", jdbcParamsMulti),
		"preJob.preInitDB.datasource.platform.username": in.DB.User,
		"preJob.preInitDB.datasource.platform.driver":   "com.mysql.jdbc.Driver",
	}
	platformSecret := map[string]string{"preJob.preInitDB.datasource.platform.password": dbPW}
	p.in("2.1")
	p.service(c7nService{Release: "agile-service", Reuse: true, Set: platformSet, Secrets: platformSecret,
		Port: 8379, Path: "/actuator/health"})
	p.in("2.2")
	p.service(c7nService{Release: "test-manager-service", Reuse: true, Set: platformSet, Secrets: platformSecret,
		Port: 8094, Path: "/actuator/health"})
	p.in("2.3")
	p.gate("approve/knowledgebase-db-backup", fmt.Sprintf("Confirm again that the databases are backed up before knowledgebase-service "+
		"is upgraded (the guide: 请再次确认数据库已备份完成): its data fix rewrites its data on %s:%d.", in.DB.Host, in.DB.Port), false)
	p.destructive("approve/knowledgebase-db-backup")
	// 修改preConfig的application.yaml配置更新策略, then the guide's upgrade.
	kbSet := maps.Clone(platformSet)
	if in.KnowledgebasePreConfigUpdatePolicy != "" {
		kbSet["preJob.preConfig.updatePolicy"] = in.KnowledgebasePreConfigUpdatePolicy
	}
	p.upgrade(c7nService{Release: "knowledgebase-service", Reuse: true, Set: kbSet, Secrets: platformSecret})
	p.followLog("knowledgebase-service", `Data Fix Succeed!!! FINISHED!!!`, "the data fix is done", in.Probe.logFailure("knowledgebase-service"))
	p.waitUp(c7nService{Release: "knowledgebase-service", Port: 8281, Path: "/actuator/health"})

	// DevOps服务升级.
	p.in("3.1")
	p.service(c7nService{Release: "gitlab-service", Reuse: true, Port: 8071, Path: "/actuator/health"})
	p.in("3.2")
	p.service(c7nService{Release: "workflow-service", Reuse: true, Port: 8066, Path: "/actuator/health",
		Set: map[string]any{"env.open.EUREKA_CLIENT_SERVICEURL_DEFAULTZONE": in.EurekaURL,
			"env.open.SPRING_REDIS_HOST":     in.Redis.Host,
			"env.open.SPRING_REDIS_PORT":     in.Redis.Port,
			"env.open.SPRING_REDIS_DATABASE": 9}})
	p.in("3.3")
	p.service(c7nService{Release: "devops-service", Reuse: true, Port: 8061, Path: "/actuator/health",
		Set: withSet(platformSet, "env.open.AGENT_VERSION", "0.21.5"), Secrets: platformSecret})
	p.followLog("devops-service", "修复数据完成", "if it does not come, skip this step (with a comment): "+
		"the repair call devops-data-fix/retry is then offered after the front ends are up", in.Probe.logFailure("devops-service"))

	// 整合前端升级.
	p.in("4.1")
	p.service(c7nService{Release: "choerodon-front", Reuse: true, Port: 8080, Path: "/",
		Expect: activities.WaitHTTPInput{BodyContains: "<title>Choerodon</title>"}})
	p.in("4.2")
	p.service(c7nService{Release: "hzero-front", Install: true, Port: 80, Path: "/",
		Values: map[string]any{"env": map[string]any{"open": map[string]any{"BUILD_CLIENT_ID": "choerodon", "BUILD_API_HOST": in.url(in.Domains.API)}},
			"ingress": map[string]any{"enabled": true, "host": in.Domains.Hzero}},
		Expect: activities.WaitHTTPInput{BodyContains: "<title>HZERO</title>"}})

	// The guide's recovery when devops-service's data migration did not finish.
	p.in("3.3-retry")
	p.apiCall("devops-data-fix/retry",
		"devops-service's data migration did not report 修复数据完成. The guide's recovery: as an admin, in 平台服务 → 平台接口 → "+
			"devops-service → devops-check-controller, call the data repair API /v1/upgrade with 0.21.0.",
		activities.HTTPCallInput{Method: "GET", URL: "/devops/v1/upgrade?version=0.21.0",
			// A GET that repairs data each time it is called: never sent twice.
			Repeatable:  activities.Repeat(false),
			CheckByHand: "devops-service's log for 修复数据完成 after the repair call"}, "follow-log/devops-service")

	p.in("end")
	p.verify(old)
	p.in("helm2-cleanup")
	p.cleanupTiller()
	if err := p.problems.Err(); err != nil {
		return nil, err
	}
	p.finishPreflight()
	p.finishHelm2()
	return p.steps, nil
}

// choerodon021OldHealth is how an old framework release is checked up
// after an undo puts it back: the 0.21 charts' management port (the
// service's port + 1) and Spring Boot 2's /actuator/health; register-server
// (chart go-register-server) is a Eureka server, up when it lists itself UP
// (GET /eureka/apps, as wait-up/register-server of the 0.8 guide reads it).
// A release the table does not know is re-installed without a wait unless
// probe.ports names its port.
func choerodon021OldHealth(release string) c7nService {
	ports := map[string]int{"base-service": 8031, "api-gateway": 8081, "file-service": 9091, "manager-service": 8964,
		"notify-service": 18086, "oauth-server": 8021, "asgard-service": 18081}
	if release == "register-server" {
		return c7nService{Release: release, Port: 8000, Path: "/eureka/apps", Expect: activities.WaitHTTPInput{
			Element: &activities.JSONElement{Path: "applications.application.*.instance.*",
				Where: map[string]string{"app": "go-register-server", "status": "UP"}}}}
	}
	return c7nService{Release: release, Port: ports[release], Path: "/actuator/health"}
}

// choerodon021Charts are the guide's charts, in the guide's order.
var choerodon021Charts = []c7nChart{
	{Release: "data-migration", Version: "0.22.0"}, {Release: "hzero-register", Version: "0.22.2"},
	{Release: "hzero-admin", Version: "0.22.0"}, {Release: "hzero-iam", Version: "0.22.0"},
	{Release: "hzero-asgard", Version: "0.22.2"}, {Release: "hzero-swagger", Version: "0.22.0"},
	{Release: "hzero-gateway", Version: "0.22.0"}, {Release: "hzero-oauth", Version: "0.22.0"},
	{Release: "hzero-platform", Version: "0.22.0"}, {Release: "hzero-monitor", Version: "0.22.0"},
	{Release: "hzero-file", Version: "0.22.0"}, {Release: "hzero-message", Version: "0.22.0"},
	{Release: "agile-service", Version: "0.21.1"}, {Release: "test-manager-service", Version: "0.21.1"},
	{Release: "knowledgebase-service", Version: "0.21.0"}, {Release: "gitlab-service", Version: "0.21.0"},
	{Release: "workflow-service", Version: "0.21.0"}, {Release: "devops-service", Version: "0.21.6"},
	{Release: "choerodon-front", Version: "0.21.3"}, {Release: "hzero-front", Version: "0.22.0"},
}

// ChoerodonUpgrade021To022 is the guide's workflow.
func ChoerodonUpgrade021To022(ctx workflow.Context, in Choerodon021Input) (runbook.RunStatus, error) {
	return runGuide(ctx, Choerodon021Guide, &in)
}
