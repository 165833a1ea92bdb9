package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/config"
)

// A worker in a pod (the Helm chart) reaches its own cluster with the pod's
// ServiceAccount: inCluster: true, no kubeconfig. Outside a pod, or mixed
// with a kubeconfig, it is named as a problem.
func TestInClusterNeedsAPodAndNoKubeconfig(t *testing.T) {
	p := write(t, "clusters:\n  local: {inCluster: true}\n")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, err := config.LoadWorker(p)
	require.ErrorContains(t, err, "clusters.local.inCluster: is true but the worker does not run in a Kubernetes pod")

	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	cfg, err := config.LoadWorker(p)
	require.NoError(t, err)
	require.True(t, cfg.Clusters["local"].InCluster)

	_, err = config.LoadWorker(write(t, "clusters:\n  local: {inCluster: true, kubeconfig: /etc/k}\n"))
	require.ErrorContains(t, err, "clusters.local.inCluster: is true but kubeconfig or context is set too")
	_, err = config.LoadWorker(write(t, "clusters:\n  local: {context: x}\n"))
	require.ErrorContains(t, err, "clusters.local.kubeconfig: is empty (or set inCluster: true in a pod)")
}
