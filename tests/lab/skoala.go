package lab

import ilab "upgrader/internal/lab"

// SkoalaCluster is one lab cluster of a DCE 5.0 installation.
type SkoalaCluster = ilab.SkoalaCluster

// The lab's skoala charts and fixtures.
var (
	// PackageSkoalaCharts saves skoala and skoala-init at each version into a chart mirror.
	PackageSkoalaCharts = ilab.PackageSkoalaCharts
	// SkoalaDBJob is a job.yaml for the guide's DB upgrade step.
	SkoalaDBJob = ilab.SkoalaDBJob
)

// StartSkoalaClusters starts one lab cluster (etcd, kube-apiserver, the
// real controllers, a pod simulator) per name, side by side.
func StartSkoalaClusters(t TB, names ...string) []*SkoalaCluster {
	t.Helper()
	return must(ilab.StartSkoalaClusters(newLab(t), names...))(t)
}
