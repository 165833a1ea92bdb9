// Command kube-controller-manager is the real Kubernetes controller manager,
// built from the module proxy for upgrader's lab (same module and version as
// kube-apiserver). The lab runs only the Deployment, ReplicaSet, Job and
// garbage-collector controllers, so rollouts and hook Jobs are the real
// thing; a pod simulator plays the kubelet. scripts/build-tools.sh builds it
// once into the cache.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register" // as upstream's main: --logging-format=json
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
