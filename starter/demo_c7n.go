package main

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/internal/lab"
	"upgrader/workflows"
)

// c7nDemoLab starts the Kubernetes lab, seeds a Choerodon 0.21 site in it,
// points the worker config at it and returns the 0.21 → 0.22 upgrade of
// that site.
func c7nDemoLab(o demoOptions, cfg *config.Worker, log io.Writer) (in *workflows.Choerodon021Input, stop func(), err error) {
	h, dir := freshDemoLab(o, "c7n", log)
	if _, statErr := os.Stat(o.chartSrc); statErr != nil {
		return nil, nil, fmt.Errorf("the lab chart %s is missing: run the demo from the repository's root, or pass --lab-chart", o.chartSrc)
	}
	started := false
	defer func() {
		if !started {
			h.Stop()
		}
	}()
	cp, err := lab.StartControlPlane(h)
	if err != nil {
		return nil, nil, fmt.Errorf("the Kubernetes lab did not start: %w", err)
	}
	_, err = lab.StartPodSim(h, cp)
	if err != nil {
		return nil, nil, fmt.Errorf("the Kubernetes lab did not start: %w", err)
	}
	if _, err := lab.StartControllerManager(h, cp); err != nil {
		return nil, nil, fmt.Errorf("the Kubernetes lab did not start: %w", err)
	}
	db, err := lab.StartMariaDB(h)
	if err != nil {
		return nil, nil, fmt.Errorf("the lab's MariaDB did not start: %w", err)
	}
	site := &lab.C7NSite{Kubeconfig: cp.Kubeconfig, Charts: filepath.Join(dir, "charts"), ChartSrc: o.chartSrc}
	if err := site.PackageC7N021([]string{"迁移 emailConfig", "修复完成，正常退出"}, 5*time.Second); err != nil {
		return nil, nil, err
	}
	admin, err := sql.Open("mysql", db.DSN("root", db.RootPassword, ""))
	if err == nil {
		err = site.SeedC7N021("c7n-system", admin, true)
		admin.Close()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("unable to seed the 0.21 site: %w", err)
	}

	pw := make([]byte, 9)
	_, _ = rand.Read(pw)
	cfg.Clusters = map[string]config.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}}
	cfg.ChartDirs = []string{site.Charts}
	cfg.Secrets = map[string]config.Secret{
		"c7n-db-choerodon":     {Value: "c7n-" + hex.EncodeToString(pw)},
		"c7n-db-root":          {Value: db.RootPassword},
		"c7n-minio-access-key": {Value: "lab-minio"},
		"c7n-minio-secret-key": {Value: "lab-minio-" + hex.EncodeToString(pw)},
	}

	c := workflows.NewChoerodon021Input()
	c.Environment = "lab"
	c.Cluster = "lab"
	c.DB.Host, c.DB.PasswordRef = "c7n-mysql.c7n-system", "c7n-db-choerodon"
	c.DB.Admin = &workflows.ChoerodonDBAdmin{DBServer: workflows.DBServer{Address: db.Addr, User: "root", PasswordRef: "c7n-db-root"}, Backup: true}
	c.Redis.Host = "c7n-redis.c7n-system"
	c.EurekaURL = "http://register.c7n-system:8000/eureka/"
	c.Domains = workflows.Choerodon021Domains{API: "api.lab.example", Register: "register.lab.example",
		Notify: "notify.lab.example", Hzero: "hzero.lab.example", Front: "lab.example"}
	c.MinIO = workflows.ChoerodonMinIO{Endpoint: "https://minio.lab.example", AccessKeyRef: "c7n-minio-access-key", SecretKeyRef: "c7n-minio-secret-key"}
	c.Probe.Timeout, c.Probe.Interval, c.Probe.LogTimeout = contract.Duration(3*time.Minute), contract.Duration(time.Second), contract.Duration(3*time.Minute)
	c.Probe.Ports = map[string]int{"choerodon-front": 8080, "hzero-front": 8080}
	started = true
	return &c, h.Stop, nil
}
