package main

import (
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

// skoalaDemoLab starts a DCE 5.0 installation in the lab: a control-plane
// cluster (skoala 0.18.3, kpanda's Cluster objects) and three worker
// clusters (skoala-init 0.18.3), each a real API server of its own; points
// the worker config at each by its own kubeconfig and returns the upgrade
// to 0.19.2, DB job included.
func skoalaDemoLab(o demoOptions, cfg *config.Worker, log io.Writer) (in *workflows.SkoalaInput, stop func(), err error) {
	h, dir := freshDemoLab(o, "skoala", log)
	started := false
	defer func() {
		if !started {
			h.Stop()
		}
	}()
	names := []string{"dce-global", "dce-work-1", "dce-work-2", "dce-work-3"}
	clusters, err := lab.StartSkoalaClusters(h, names...)
	if err != nil {
		return nil, nil, fmt.Errorf("the Kubernetes lab did not start: %w", err)
	}
	charts := filepath.Join(dir, "charts")
	if err := lab.PackageSkoalaCharts(charts, "0.18.3", "0.19.2"); err != nil {
		return nil, nil, err
	}
	if err := clusters[0].Install(charts, "skoala-system", "skoala", "0.18.3", nil); err != nil {
		return nil, nil, err
	}
	for _, c := range clusters[1:] {
		if err := c.Install(charts, "skoala-system", "skoala-init", "0.18.3", map[string]any{"skoala-agent": map[string]any{"clusterName": c.Name}}); err != nil {
			return nil, nil, err
		}
	}
	if err := clusters[0].RegisterKpanda(names[1:]...); err != nil {
		return nil, nil, err
	}
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(lab.SkoalaDBJob("skoala-db-upgrade", "3s", []string{"sweet: UPGRADE from 0.17.0 with v0.19.0", "migrated 12 tables"})), 0o600); err != nil {
		return nil, nil, err
	}
	cfg.Clusters = map[string]config.Cluster{}
	for _, c := range clusters {
		cfg.Clusters[c.Name] = config.Cluster{Kubeconfig: c.CP.Kubeconfig}
	}
	cfg.ChartDirs = []string{charts}

	s := workflows.NewSkoalaInput()
	s.Environment, s.From, s.To = "lab", "0.18", "0.19.2"
	s.ControlPlane, s.Workers, s.Parallelism = names[0], names[1:], 2
	s.DBUpgrade.JobFile = job
	s.DBUpgrade.Timeout, s.HelmTimeout = contract.Duration(3*time.Minute), contract.Duration(3*time.Minute)
	started = true
	return &s, h.Stop, nil
}
