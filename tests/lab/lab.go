// Package lab is the test face of upgrader/internal/lab: the same real
// servers (MariaDB, sshd, FerretDB, a Kubernetes control plane with its
// controllers and a pod simulator), started for one test or benchmark and
// stopped when it ends. A server that cannot start fails the test.
package lab

import (
	"errors"
	"testing"

	ilab "upgrader/internal/lab"
)

// TB is what the helpers need of a test or benchmark.
type TB interface {
	Helper()
	Fatalf(string, ...any)
	Cleanup(func())
	TempDir() string
	Logf(string, ...any)
	Failed() bool
}

var _ TB = (*testing.T)(nil)

// The lab's types, as tests name them.
type (
	// MariaDB is a running server.
	MariaDB = ilab.MariaDB
	// SSHD is a running OpenSSH server.
	SSHD = ilab.SSHD
	// Mongo is a running FerretDB.
	Mongo = ilab.Mongo
	// ControlPlane is a running etcd and kube-apiserver.
	ControlPlane = ilab.ControlPlane
	// ControllerManager is a running kube-controller-manager.
	ControllerManager = ilab.ControllerManager
	// NetnsHost is a test host in a network namespace.
	NetnsHost = ilab.NetnsHost
	// PodSpec describes a simulated pod.
	PodSpec = ilab.PodSpec
	// Pod is a running simulated pod.
	Pod = ilab.Pod
	// C7NSite is a Choerodon installation in the lab.
	C7NSite = ilab.C7NSite
	// PodBehaviour is how a lab chart's pod answers and what it logs.
	PodBehaviour = ilab.PodBehaviour
	// C7NService is a release the guide upgrades, from and to.
	C7NService = ilab.C7NService
)

// The lab's chart helpers and fixtures.
var (
	// PackageChart saves a renamed lab chart into a chart mirror.
	PackageChart = ilab.PackageChart
	// C7N021OldReleases are the old framework's releases the 0.22 guide deletes.
	C7N021OldReleases = ilab.C7N021OldReleases
	// C7N021Business are the services the 0.22 guide upgrades in place.
	C7N021Business = ilab.C7N021Business
)

// newLab is a lab whose servers live in the test's temporary folder, log
// through it, show their logs when it failed, and stop when it ends.
func newLab(t TB) *ilab.Lab {
	l := ilab.New(t.TempDir())
	l.Logf, l.Failed = t.Logf, t.Failed
	t.Cleanup(l.Stop)
	return l
}

// must fails t when err is set: must(ilab.StartX(...))(t).
func must[T any](v T, err error) func(TB) T {
	return func(t TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%v", err)
		}
		return v
	}
}

// FreePort returns a loopback port nobody listens on now.
func FreePort(t TB) int {
	t.Helper()
	return must(ilab.FreePort())(t)
}

// ToolBin finds a tool scripts/build-tools.sh built into the cache.
func ToolBin(t TB, name, version string) string {
	t.Helper()
	return must(ilab.ToolBin(name, version))(t)
}

// StartMariaDB starts mariadbd with binary logging on a free port.
func StartMariaDB(t TB) *MariaDB {
	t.Helper()
	return must(ilab.StartMariaDB(newLab(t)))(t)
}

// StartSSHD starts sshd on a free loopback port with fresh keys.
func StartSSHD(t TB) *SSHD {
	t.Helper()
	return must(ilab.StartSSHD(newLab(t)))(t)
}

// StartFerretDB starts FerretDB on a free loopback port.
func StartFerretDB(t TB) *Mongo {
	t.Helper()
	return must(ilab.StartFerretDB(newLab(t)))(t)
}

// StartControlPlane starts etcd and kube-apiserver.
func StartControlPlane(t TB) *ControlPlane {
	t.Helper()
	return must(ilab.StartControlPlane(newLab(t)))(t)
}

// NewNetnsHost creates a network-namespace test host; it skips the test
// when not root.
func NewNetnsHost(t TB) *NetnsHost {
	t.Helper()
	h, err := ilab.NewNetnsHost(newLab(t))
	if errors.Is(err, ilab.ErrNeedRoot) {
		if s, ok := t.(interface{ Skip(...any) }); ok {
			s.Skip(err.Error())
		}
	}
	return must(h, err)(t)
}

// PodSim is the lab's kubelet stand-in, with RunPod for tests.
type PodSim struct {
	*ilab.PodSim
	t TB
}

// StartPodSim registers node "lab-node" whose kubelet is this simulator.
func StartPodSim(t TB, cp *ControlPlane) *PodSim {
	t.Helper()
	return &PodSim{PodSim: must(ilab.StartPodSim(newLab(t), cp))(t), t: t}
}

// RunPod creates the pod, Running and Ready, serving its handlers.
func (s *PodSim) RunPod(spec PodSpec) Pod {
	s.t.Helper()
	return must(s.StartPod(spec))(s.t)
}

// StartControllerManager runs the real Deployment, ReplicaSet, Job and
// garbage-collector controllers against cp until the test ends.
func StartControllerManager(t TB, cp *ControlPlane) *ControllerManager {
	t.Helper()
	return must(ilab.StartControllerManager(newLab(t), cp))(t)
}

// DeploymentSim is what tests knew as the deployment simulator: the real
// controllers now run Deployments' pods (and Jobs'), and the pod
// simulator counts them.
type DeploymentSim struct{ sim *PodSim }

// StartDeploymentSim starts the real controllers on the pod simulator's
// cluster, so Deployments roll out and Jobs run until the test ends.
func StartDeploymentSim(t TB, sim *PodSim) *DeploymentSim {
	t.Helper()
	StartControllerManager(t, sim.ControlPlane)
	return &DeploymentSim{sim: sim}
}

// Started says how many pods the Deployment ns/name has had.
func (d *DeploymentSim) Started(ns, name string) int { return d.sim.Started(ns, name) }

// WeCubeSite is a WeCube v3 site with a Docker Engine and the v4.0.0 images.
type WeCubeSite = ilab.WeCubeSite

// StartWeCubeSite starts the WeCube lab for one test (see ilab.StartWeCubeSite).
func StartWeCubeSite(t TB, version string) *WeCubeSite {
	t.Helper()
	return must(ilab.StartWeCubeSite(newLab(t), version))(t)
}

// BlueKingSite is a BlueKing 6.1 site on sshd hosts of their own (see
// internal/lab/blueking.go).
type BlueKingSite = ilab.BlueKingSite

// BlueKingHost is one host of the BlueKing site.
type BlueKingHost = ilab.BlueKingHost

// StartBlueKing builds the BlueKing lab site; it skips the test when not root.
func StartBlueKing(t TB, o ilab.BlueKingOptions) *BlueKingSite {
	t.Helper()
	s, err := ilab.StartBlueKing(newLab(t), o)
	if errors.Is(err, ilab.ErrNeedRoot) {
		if sk, ok := t.(interface{ Skip(...any) }); ok {
			sk.Skip(err.Error())
		}
	}
	return must(s, err)(t)
}

// BlueKingOptions are what the BlueKing site is built with.
type BlueKingOptions = ilab.BlueKingOptions

// Must fails t when err is set.
func Must(t TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%v", err)
	}
}
