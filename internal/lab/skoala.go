package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// SkoalaCluster is one DCE 5.0 cluster in the lab: its own kube-apiserver
// (its objects under its own prefix of the lab's one etcd), the real
// controllers, and a pod simulator as its node.
type SkoalaCluster struct {
	Name string
	CP   *ControlPlane
	Sim  *PodSim
}

// StartSkoalaClusters starts one lab cluster per name, side by side (a
// control plane takes a few seconds to come up; N of them need not take N
// times that). The clusters share one etcd, each API server under
// /<name>/registry (the issue allows separate prefixes): eleven etcd
// processes cost ~0.1 of a core doing nothing and their own write-ahead
// logs, where one etcd serves the eleven API servers' writes together.
func StartSkoalaClusters(l *Lab, names ...string) ([]*SkoalaCluster, error) {
	etcdURL, err := StartEtcd(l)
	if err != nil {
		return nil, err
	}
	out := make([]*SkoalaCluster, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cp, err := StartControlPlaneOn(l, etcdURL, "/"+n+"/registry")
			if err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", n, err)
				return
			}
			sim, err := StartPodSim(l, cp)
			if err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", n, err)
				return
			}
			if _, err := StartControllerManager(l, cp); err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", n, err)
				return
			}
			out[i] = &SkoalaCluster{Name: n, CP: cp, Sim: sim}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Helm returns a helm action configuration for namespace ns on the cluster.
func (c *SkoalaCluster) Helm(ns string) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &c.CP.Kubeconfig, &ns
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, ns, "secret", func(string, ...any) {}); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Install installs a release from the chart mirror, as the site had it
// before the upgrade; helm's first install also creates the chart's CRDs.
func (c *SkoalaCluster) Install(charts, ns, release, version string, values map[string]any) error {
	ch, err := loader.Load(filepath.Join(charts, release+"-"+version+".tgz"))
	if err != nil {
		return err
	}
	cfg, err := c.Helm(ns)
	if err != nil {
		return err
	}
	i := action.NewInstall(cfg)
	i.ReleaseName, i.Namespace, i.CreateNamespace = release, ns, true
	if _, err := i.Run(ch, values); err != nil {
		return fmt.Errorf("install %s on %s: %w", release, c.Name, err)
	}
	return nil
}

// The lab's skoala charts. DaoCloud's chart sources are not public (no
// repository in the index); what the lab charts hold comes from DaoCloud's
// docs: skoala is hive, sesame and skoala-ui in skoala-system
// (DaoCloud/DaoCloud-docs docs/zh/docs/skoala/quickstart/skoala.md);
// skoala-init runs contour-provisioner, nacos-operator, sentinel-operator
// and skoala-agent, and its gateway CRDs ship in subcharts' crds/ folders
// (charts/contour-provisioner/crds/contour.yaml, …)
// (docs/zh/docs/skoala/quickstart/skoala-init.md). The image tags are the
// values the guide sets (hive.image.tag, nacos-operator.image.tag, …).
var (
	skoalaWorkloads     = []string{"hive", "sesame", "skoala-ui"}
	skoalaInitWorkloads = []string{"contour-provisioner", "nacos-operator", "sentinel-operator", "skoala-agent"}
)

// SkoalaDeploymentTemplate is one Deployment of a lab skoala chart, its
// image tag from <name>.image.tag.
const skoalaDeploymentTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/name: %[1]s
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %[1]s
        app.kubernetes.io/instance: {{ .Release.Name }}
      annotations:
        checksum/values: {{ toJson .Values | sha256sum }}
    spec:
      containers:
      - name: %[1]s
        image: release.daocloud.io/skoala/%[1]s:{{ index .Values "%[1]s" "image" "tag" }}
`

// SkoalaCRDs is the crds/contour.yaml of skoala-init's contour-provisioner
// subchart at a version: the lab's stand-in for the gateway CRDs that
// change between versions. 0.18.x serves httpproxies with a smaller
// schema; 0.19.x adds a field to it and a second CRD (extensionservices).
func SkoalaCRDs(version string) string {
	newer := !strings.HasPrefix(version, "0.18.")
	extra := ""
	if newer {
		extra = `
                  timeoutPolicy:
                    type: object
                    properties:
                      response: {type: string}`
	}
	out := fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: httpproxies.projectcontour.io
spec:
  group: projectcontour.io
  names: {kind: HTTPProxy, listKind: HTTPProxyList, plural: httpproxies, singular: httpproxy, shortNames: [proxy]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              virtualhost:
                type: object
                properties:
                  fqdn: {type: string}%s
`, extra)
	if newer {
		out += `---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: extensionservices.projectcontour.io
spec:
  group: projectcontour.io
  names: {kind: ExtensionService, listKind: ExtensionServiceList, plural: extensionservices, singular: extensionservice}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`
	}
	return out
}

// PackageSkoalaCharts saves skoala and skoala-init at each version into the
// chart mirror dir, as <name>-<version>.tgz.
func PackageSkoalaCharts(dir string, versions ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, v := range versions {
		for _, c := range []struct {
			name      string
			workloads []string
		}{{"skoala", skoalaWorkloads}, {"skoala-init", skoalaInitWorkloads}} {
			ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: c.name, Version: v, AppVersion: v,
				Description: "The helm chart for Skoala (lab stand-in)"}, Values: map[string]any{}}
			for _, w := range c.workloads {
				ch.Values[w] = map[string]any{"image": map[string]any{"tag": "v" + v}}
				ch.Templates = append(ch.Templates, &chart.File{Name: "templates/" + w + ".yaml",
					Data: []byte(fmt.Sprintf(skoalaDeploymentTemplate, w))})
			}
			raw, err := yaml.Marshal(ch.Values)
			if err != nil {
				return err
			}
			ch.Raw = []*chart.File{{Name: chartutil.ValuesfileName, Data: raw}}
			if c.name == "skoala-init" {
				// The gateway CRDs live in a subchart's crds/, as in DaoCloud's chart.
				sub := &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "contour-provisioner", Version: v},
					Values: map[string]any{}, Files: []*chart.File{{Name: "crds/contour.yaml", Data: []byte(SkoalaCRDs(v))}}}
				ch.AddDependency(sub)
				ch.Metadata.Dependencies = []*chart.Dependency{{Name: "contour-provisioner", Version: v}}
			}
			if _, err := chartutil.Save(ch, dir); err != nil {
				return fmt.Errorf("package %s-%s: %w", c.name, v, err)
			}
		}
	}
	return nil
}

// kpandaCRD is the lab's clusters.cluster.kpanda.io: kind Cluster,
// cluster-scoped, with the printer columns `kubectl get
// clusters.cluster.kpanda.io` shows (NAME VERSION MODE PROVIDER RUNNING
// KUBESYSTEMID AGE; DaoCloud/DaoCloud-docs
// docs/zh/docs/install/best-practices/remanage-work-cluster.md). kpanda's
// CRD source is not public: the columns' JSON paths are our guess.
const kpandaCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusters.cluster.kpanda.io
spec:
  group: cluster.kpanda.io
  names: {kind: Cluster, listKind: ClusterList, plural: clusters, singular: cluster}
  scope: Cluster
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Version, type: string, jsonPath: .status.kubernetesVersion}
    - {name: Mode, type: string, jsonPath: .spec.mode}
    - {name: Provider, type: string, jsonPath: .spec.provider}
    - {name: Running, type: string, jsonPath: '.status.conditions[?(@.type=="Running")].status'}
    - {name: KubeSystemID, type: string, jsonPath: .status.kubeSystemID}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

var kpandaGVR = schema.GroupVersionResource{Group: "cluster.kpanda.io", Version: "v1alpha1", Resource: "clusters"}

// RegisterKpanda makes c look like DCE 5.0's global cluster: kpanda's
// Cluster CRD, a Cluster for itself (kpanda-global-cluster) and one for
// each worker, Running.
func (c *SkoalaCluster) RegisterKpanda(workers ...string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.CP.Kubeconfig)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(kpandaCRD), &crd.Object); err != nil {
		return err
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	if _, err := crds.Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: "lab"}); err != nil {
		return fmt.Errorf("kpanda CRD: %w", err)
	}
	for _, name := range append([]string{"kpanda-global-cluster"}, workers...) {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cluster.kpanda.io/v1alpha1", "kind": "Cluster",
			"metadata": map[string]any{"name": name},
			"spec":     map[string]any{"mode": "Push", "provider": "DAOCLOUD_KUBESPRAY"},
		}}
		// The CRD may take a moment to be served.
		var err error
		for try := 0; try < 50; try++ {
			if _, err = dyn.Resource(kpandaGVR).Apply(ctx, name, obj, metav1.ApplyOptions{FieldManager: "lab"}); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("kpanda cluster %s: %w", name, err)
		}
		obj.Object["status"] = map[string]any{"kubernetesVersion": KubeVersion, "kubeSystemID": "lab-" + name,
			"conditions": []any{map[string]any{"type": "Running", "status": "True"}}}
		if _, err := dyn.Resource(kpandaGVR).ApplyStatus(ctx, name, obj, metav1.ApplyOptions{FieldManager: "lab"}); err != nil {
			return fmt.Errorf("kpanda cluster %s status: %w", name, err)
		}
	}
	return nil
}

// SkoalaDBJob is a job.yaml as DaoCloud hands it out for the guide's
// step 1 (the real one is not public): a ConfigMap with the sweet block
// the guide fixes, and the Job that reads it. In the lab its pod logs the
// migration and succeeds after succeedAfter (e.g. "2s").
func SkoalaDBJob(name, succeedAfter string, log []string) string {
	lines, _ := yaml.Marshal(log)
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s-config
data:
  config.yaml: |
    sweet:
      type: UPGRADE
      target: 0.17.0
      tag: v0.19.0
---
apiVersion: batch/v1
kind: Job
metadata:
  name: %[1]s
spec:
  backoffLimit: 1
  template:
    metadata:
      annotations:
        lab.upgrader.io/succeed-after: %[2]q
        lab.upgrader.io/log: %[3]q
    spec:
      restartPolicy: Never
      containers:
      - name: sweet
        image: release.daocloud.io/skoala/sweet:v0.19.0
        args: ["--config", "/etc/sweet/config.yaml"]
        volumeMounts: [{name: config, mountPath: /etc/sweet}]
      volumes:
      - name: config
        configMap: {name: %[1]s-config}
`, name, succeedAfter, jsonList(lines))
}

// jsonList is a YAML list as JSON (the lab's log annotation).
func jsonList(yamlList []byte) string {
	b, err := yaml.YAMLToJSON(yamlList)
	if err != nil || string(b) == "null" {
		return "[]"
	}
	return string(b)
}
