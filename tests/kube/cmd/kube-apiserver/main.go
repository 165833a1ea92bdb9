// Command kube-apiserver is the real Kubernetes API server, built from the Go
// module proxy for upgrader's lab: Helm releases, CRDs, Jobs and pods of the
// guides' charts are tested against it (no kind, k3s or Docker engine runs
// on the CI machines). scripts/build-tools.sh builds it once into the cache.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
