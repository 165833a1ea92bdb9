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
	"upgrader/tests/lab"
	"upgrader/workflows"
)

// labHost runs the lab's servers outside a test: it collects their stop
// functions and turns a fatal start-up problem into an error.
type labHost struct {
	dir      string
	log      io.Writer
	cleanups []func()
	n        int
}

type labFailure struct{ msg string }

func (h *labHost) Helper()                         {}
func (h *labHost) Failed() bool                    { return false }
func (h *labHost) Cleanup(f func())                { h.cleanups = append(h.cleanups, f) }
func (h *labHost) Logf(format string, args ...any) { fmt.Fprintf(h.log, format+"\n", args...) }
func (h *labHost) Fatalf(format string, args ...any) {
	panic(labFailure{fmt.Sprintf(format, args...)})
}

// TempDir gives each server a fresh folder under the demo's state dir.
func (h *labHost) TempDir() string {
	h.n++
	p := filepath.Join(h.dir, fmt.Sprint(h.n))
	_ = os.RemoveAll(p)
	if err := os.MkdirAll(p, 0o700); err != nil {
		h.Fatalf("%v", err)
	}
	return p
}

func (h *labHost) stop() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
}

// c7nDemoLab starts the Kubernetes lab, seeds a Choerodon 0.21 site in it,
// points the worker config at it and returns the 0.21 → 0.22 upgrade of
// that site.
func c7nDemoLab(o demoOptions, cfg *config.Worker, log io.Writer) (in *workflows.Choerodon021Input, stop func(), err error) {
	h := &labHost{dir: filepath.Join(o.stateDir, "lab-c7n"), log: log}
	_ = os.RemoveAll(h.dir)
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(labFailure)
			if !ok {
				panic(r)
			}
			h.stop()
			err = fmt.Errorf("the Kubernetes lab did not start: %s", f.msg)
		}
	}()
	if _, statErr := os.Stat(o.chartSrc); statErr != nil {
		return nil, nil, fmt.Errorf("the lab chart %s is missing: run the demo from the repository's root, or pass --lab-chart", o.chartSrc)
	}
	cp := lab.StartControlPlane(h)
	sim := lab.StartPodSim(h, cp)
	lab.StartDeploymentSim(h, sim)
	db := lab.StartMariaDB(h)
	site := &lab.C7NSite{Kubeconfig: cp.Kubeconfig, Charts: filepath.Join(h.dir, "charts"), ChartSrc: o.chartSrc}
	if err := site.PackageC7N021([]string{"迁移 emailConfig", "修复完成，正常退出"}, 5*time.Second); err != nil {
		h.stop()
		return nil, nil, err
	}
	admin, err := sql.Open("mysql", db.DSN("root", db.RootPassword, ""))
	if err == nil {
		err = site.SeedC7N021("c7n-system", admin, true)
		admin.Close()
	}
	if err != nil {
		h.stop()
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
	c.DB.Admin = &workflows.ChoerodonDBAdmin{Address: db.Addr, User: "root", PasswordRef: "c7n-db-root", Backup: true}
	c.Redis.Host = "c7n-redis.c7n-system"
	c.EurekaURL = "http://register.c7n-system:8000/eureka/"
	c.Domains = workflows.Choerodon021Domains{API: "api.lab.example", Register: "register.lab.example",
		Notify: "notify.lab.example", Hzero: "hzero.lab.example", Front: "lab.example"}
	c.MinIO = workflows.ChoerodonMinIO{Endpoint: "https://minio.lab.example", AccessKeyRef: "c7n-minio-access-key", SecretKeyRef: "c7n-minio-secret-key"}
	c.Probe.Timeout, c.Probe.Interval, c.Probe.LogTimeout = 3*time.Minute, time.Second, 3*time.Minute
	c.Probe.Ports = map[string]int{"choerodon-front": 8080, "hzero-front": 8080}
	return &c, h.stop, nil
}
