package activities

import "k8s.io/client-go/kubernetes"

// PreflightKubeClientForTest is the read-only clientset a preflight check uses.
func PreflightKubeClientForTest(p *Preflight, cluster string) (kubernetes.Interface, error) {
	return p.kubeClient(cluster)
}

// ServedCRDResourceForTest is the CRD resource Apply and WaitCRDsEstablished use.
var ServedCRDResourceForTest = servedCRDResource
