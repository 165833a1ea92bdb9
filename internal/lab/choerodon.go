package lab

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// C7NSite is a Choerodon installation in the lab: lab charts named like
// the real ones in a chart mirror, releases installed through helm's Go
// API on the lab's API server, whose pods the lab's controllers and pod simulator run.
type C7NSite struct {
	Kubeconfig string
	// Charts is the chart mirror the worker reads (chartDirs).
	Charts string
	// ChartSrc is the lab chart's folder (tests/testdata/charts/c7n-service).
	ChartSrc string
	// Instant packages every chart without delays: pods up at once, log
	// lines at once, hooks done at once (what the whole-guide benchmark
	// measures the engine against).
	Instant bool
}

// PodBehaviour is how a lab chart's pod answers and what it logs.
type PodBehaviour struct {
	Port      int
	Serve     string // actuator (default), html or eureka
	Title     string // html: the page's title
	EurekaApp string // eureka: informational; the register lists each pod under its chart's name (choerodon.io/service)
	UpAfter   time.Duration
	Log       []string
	LogAfter  time.Duration
	// Hook, when set, gives the chart a pre-install,pre-upgrade hook Job
	// (as real Choerodon charts' preJob) whose pod succeeds after Hook
	// (whole seconds); helm waits for it.
	Hook time.Duration
}

// Package saves the lab chart as <name>-<version>.tgz in the mirror.
func (s *C7NSite) Package(name, version string, b PodBehaviour) error {
	if s.Instant {
		b.UpAfter, b.LogAfter, b.Hook = 0, 0, 0
	}
	serve := b.Serve
	if serve == "" {
		serve = "actuator"
	}
	lines := []any{}
	for _, l := range b.Log {
		lines = append(lines, l)
	}
	if err := os.MkdirAll(s.Charts, 0o755); err != nil {
		return err
	}
	return PackageChart(s.Charts, s.ChartSrc, name, version, map[string]any{"port": b.Port, "serve": serve,
		"title": b.Title, "app": b.EurekaApp, "upAfter": b.UpAfter.String(), "log": lines, "logAfter": b.LogAfter.String(),
		"hookSeconds": int(b.Hook.Seconds())})
}

// Helm returns a helm action configuration for namespace ns.
func (s *C7NSite) Helm(ns string) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &s.Kubeconfig, &ns
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, ns, "secret", func(string, ...any) {}); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Install installs a release the way the site had it before an upgrade.
func (s *C7NSite) Install(ns, release, chartName, version string, values map[string]any) error {
	ch, err := loader.Load(filepath.Join(s.Charts, chartName+"-"+version+".tgz"))
	if err != nil {
		return err
	}
	cfg, err := s.Helm(ns)
	if err != nil {
		return err
	}
	i := action.NewInstall(cfg)
	i.ReleaseName, i.Namespace, i.CreateNamespace = release, ns, true
	if _, err := i.Run(ch, values); err != nil {
		return fmt.Errorf("install %s: %w", release, err)
	}
	return nil
}

// C7N021OldReleases are the old framework's releases the 0.22 guide deletes.
var C7N021OldReleases = []string{"base-service", "api-gateway", "file-service", "manager-service", "notify-service",
	"oauth-server", "register-server", "asgard-service"}

// PackageC7N021 packages every chart a 0.21 → 0.22 upgrade needs: the old
// framework at 0.21.0, hzero at the guide's versions, the business services
// at their old and new versions, each answering on the guide's port.
// migrationLog is what data-migration prints; iamUpAfter delays hzero-iam,
// whose install also waits for a 3 s pre-install hook Job.
func (s *C7NSite) PackageC7N021(migrationLog []string, iamUpAfter time.Duration) error {
	var errs []error
	pkg := func(name, version string, b PodBehaviour) { errs = append(errs, s.Package(name, version, b)) }
	// The old framework's management ports (service port + 1, where an
	// undo's wait-up checks /actuator/health); register-server is
	// go-register-server, a Eureka server listing itself.
	oldPorts := []int{8031, 8081, 9091, 8964, 18086, 8021, 8000, 18081}
	for i, name := range C7N021OldReleases {
		b := PodBehaviour{Port: oldPorts[i]}
		if name == "register-server" {
			b = PodBehaviour{Port: 8000, Serve: "eureka", EurekaApp: "go-register-server"}
		}
		pkg(c7n021OldChart(name), "0.21.0", b)
	}
	for _, c := range []struct {
		name, version string
		port          int
	}{{"hzero-register", "0.22.2", 8001}, {"hzero-admin", "0.22.0", 8061}, {"hzero-asgard", "0.22.2", 8041},
		{"hzero-swagger", "0.22.0", 8051}, {"hzero-gateway", "0.22.0", 8081}, {"hzero-oauth", "0.22.0", 8021},
		{"hzero-platform", "0.22.0", 8101}, {"hzero-monitor", "0.22.0", 8261}, {"hzero-file", "0.22.0", 8111},
		{"hzero-message", "0.22.0", 8121}} {
		pkg(c.name, c.version, PodBehaviour{Port: c.port})
	}
	// hzero-iam's chart initialises its database in a pre-install hook Job
	// (its preJob), which helm waits for.
	pkg("hzero-iam", "0.22.0", PodBehaviour{Port: 8031, UpAfter: iamUpAfter, Hook: 3 * time.Second})
	pkg("data-migration", "0.22.0", PodBehaviour{Port: 8080, Log: migrationLog, LogAfter: time.Second})
	for _, c := range C7N021Business {
		pkg(c.Name, c.From, c.Pod)
		pkg(c.Name, c.To, c.Pod)
	}
	pkg("hzero-front", "0.22.0", PodBehaviour{Port: 8080, Serve: "html", Title: "HZERO"})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// c7n021OldChart is the chart an old framework release runs: the release
// register-server is the chart go-register-server (guide-notes 1.4.8).
func c7n021OldChart(release string) string {
	if release == "register-server" {
		return "go-register-server"
	}
	return release
}

// C7NService is a release the guide upgrades, from and to.
type C7NService struct {
	Name, From, To string
	Pod            PodBehaviour
}

// C7N021Business are the services the 0.22 guide upgrades in place.
var C7N021Business = []C7NService{
	{"agile-service", "0.21.0", "0.21.1", PodBehaviour{Port: 8379}},
	{"test-manager-service", "0.21.0", "0.21.1", PodBehaviour{Port: 8094}},
	{"knowledgebase-service", "0.20.0", "0.21.0", PodBehaviour{Port: 8281, LogAfter: 10 * time.Second,
		Log: []string{"Data fix: 1200 pages", "==========================>>>>>>>> Data Fix Succeed!!! FINISHED!!! <<<<<<<<========================"}}},
	{"gitlab-service", "0.20.0", "0.21.0", PodBehaviour{Port: 8071}},
	{"workflow-service", "0.20.0", "0.21.0", PodBehaviour{Port: 8066}},
	{"devops-service", "0.21.0", "0.21.6", PodBehaviour{Port: 8061, Log: []string{"Check: 修复数据完成"}}},
	{"choerodon-front", "0.21.0", "0.21.3", PodBehaviour{Port: 8080, Serve: "html", Title: "Choerodon"}},
}

// SeedC7N021 installs a 0.21 site in ns: the old framework's releases and
// databases and, with business, the services the guide upgrades. db is
// an admin connection to the site's MySQL.
func (s *C7NSite) SeedC7N021(ns string, db *sql.DB, business bool) error {
	for _, d := range []string{"base_service", "manager_service", "notify_service", "asgard_service"} {
		// A few rows, so a restore drill has rows to count.
		for _, q := range []string{"CREATE DATABASE IF NOT EXISTS " + d, "CREATE TABLE IF NOT EXISTS " + d + ".t (id INT PRIMARY KEY)",
			"INSERT IGNORE INTO " + d + ".t VALUES (1), (2), (3)"} {
			if _, err := db.Exec(q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	for _, name := range C7N021OldReleases {
		if err := s.Install(ns, name, c7n021OldChart(name), "0.21.0", map[string]any{"env": map[string]any{"open": map[string]any{"SPRING_DATASOURCE_PASSWORD": "old-pw"}}}); err != nil {
			return err
		}
	}
	if !business {
		return nil
	}
	for _, c := range C7N021Business {
		if err := s.Install(ns, c.Name, c.Name, c.From, map[string]any{"env": map[string]any{"open": map[string]any{"SPRING_REDIS_HOST": "redis-of-0.21"}}}); err != nil {
			return err
		}
	}
	return nil
}
