package lab

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LabControllers are the controllers the lab runs: rollouts (the old pod
// answers until the new one is Ready), Jobs that complete when their pod
// succeeds (Helm's hook Jobs), and the garbage collector that removes a
// deleted Deployment's or Job's pods.
var LabControllers = []string{"deployment-controller", "replicaset-controller", "job-controller", "garbage-collector-controller"}

// ControllerManager is a running kube-controller-manager.
type ControllerManager struct {
	// Healthz is its health endpoint.
	Healthz string
}

// StartControllerManager starts kube-controller-manager (built by
// scripts/build-tools.sh) against cp with LabControllers, and waits until
// it is healthy. Pods still need a PodSim to be scheduled and run.
func StartControllerManager(l *Lab, cp *ControlPlane) (*ControllerManager, error) {
	bin, err := ToolBin("kube-controller-manager", KubeVersion)
	if err != nil {
		return nil, err
	}
	dir, err := l.TempDir()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	_, log, err := l.startProc(bin, []string{
		"--kubeconfig", cp.Kubeconfig,
		"--authentication-kubeconfig", cp.Kubeconfig, "--authorization-kubeconfig", cp.Kubeconfig,
		"--controllers", strings.Join(LabControllers, ","),
		"--leader-elect=false",
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(port), "--cert-dir", filepath.Join(dir, "certs"),
		// Rollouts and Jobs are reconciled at once, not after the default resync.
		"--concurrent-deployment-syncs", "5", "--concurrent-replicaset-syncs", "5", "--concurrent-job-syncs", "5",
		"--v", "0",
	}, 10*time.Second)
	if err != nil {
		return nil, err
	}
	cm := &ControllerManager{Healthz: fmt.Sprintf("https://127.0.0.1:%d/healthz", port)}
	if err := waitReady(cm.Healthz, "", nil, 60*time.Second); err != nil {
		return nil, fmt.Errorf("kube-controller-manager not healthy after 60s (%v):\n%s", err, log.tail(4000))
	}
	return cm, nil
}
