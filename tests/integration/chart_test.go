package integration_test

import (
	"context"
	"debug/elf"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"upgrader/config"
	labsrv "upgrader/tests/lab"
)

const chartDir = "../../deploy/helm/upgrader-worker"

// chartValues is a site's values: two namespaces it upgrades, a MySQL
// password and a webhook URL from Secrets, a second cluster's kubeconfig,
// the codec key ring.
func chartValues() map[string]any {
	return map[string]any{
		"image":            map[string]any{"repository": "registry.example/upgrader-worker", "tag": "test"},
		"temporal":         map[string]any{"address": "temporal-frontend.temporal.svc:7233", "codec": map[string]any{"secretName": "upgrader-codec"}},
		"cluster":          map[string]any{"name": "c7n"},
		"targetNamespaces": []any{"c7n", "c7n-system"},
		"clusters":         map[string]any{"member-1": map[string]any{"secretName": "member-1-kubeconfig"}},
		"secrets": map[string]any{
			"c7n-mysql-root": map[string]any{"secretName": "c7n-db", "key": "root-password", "uses": []any{"mysql"}},
			"ops-hook-url":   map[string]any{"secretName": "ops-hooks", "key": "url", "uses": []any{"http"}, "hosts": []any{"hooks.example.com"}},
		},
		"notify": []any{map[string]any{"name": "ops", "format": "json", "urlRef": "ops-hook-url"}},
	}
}

// TestWorkerHelmChartInstallsIntoTheLabCluster lints the worker's chart with
// helm's lint package, installs it with helm's Go API into the lab's real
// kube-apiserver, and checks what landed: the Deployment (non-root, read-only
// root, probes on the metrics port, secrets as files), the ConfigMap's
// worker.yaml (the worker's own loader accepts it), and RBAC that the
// worker's ServiceAccount token really has — all it needs in the namespaces it
// upgrades, nothing in others, CRDs cluster-wide but never deleted. A worker
// process started on that config answers /healthz and /readyz.
func TestWorkerHelmChartInstallsIntoTheLabCluster(t *testing.T) {
	vals := chartValues()
	// Two replicas with their own volumes would each hold half the backups.
	render := func(v map[string]any) error {
		ch, err := loader.Load(chartDir)
		require.NoError(t, err)
		inst := action.NewInstall(&action.Configuration{})
		inst.ReleaseName, inst.Namespace, inst.DryRun, inst.ClientOnly = "uw", "upgrader", true, true
		_, err = inst.Run(ch, v)
		return err
	}
	require.ErrorContains(t, render(map[string]any{"replicaCount": 2}), "replicaCount > 1 needs one artifact folder the replicas share")
	require.ErrorContains(t, render(map[string]any{"replicaCount": 2, "persistence": map[string]any{"enabled": false}}), "ReadWriteMany")
	require.NoError(t, render(map[string]any{"replicaCount": 2, "persistence": map[string]any{"accessModes": []any{"ReadWriteMany"}}}))
	for _, v := range []map[string]any{nil, vals} { // the chart's defaults, and a site's values
		for _, m := range lint.All(chartDir, v, "upgrader", false).Messages {
			require.LessOrEqual(t, m.Severity, support.InfoSev, "helm lint: %s", m)
		}
	}

	cp := labsrv.StartControlPlane(t)
	rc, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(rc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, ns := range []string{"upgrader", "c7n", "c7n-system", "other"} {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	kubeconfig, ns := cp.Kubeconfig, "upgrader"
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &kubeconfig, &ns
	cfg := new(action.Configuration)
	require.NoError(t, cfg.Init(flags, ns, "secret", t.Logf))
	ch, err := loader.Load(chartDir)
	require.NoError(t, err)
	inst := action.NewInstall(cfg)
	inst.ReleaseName, inst.Namespace = "uw", ns
	rel, err := inst.RunWithContext(ctx, ch, vals)
	require.NoError(t, err)
	require.Equal(t, "deployed", rel.Info.Status.String())

	// The Deployment.
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "uw-upgrader-worker", metav1.GetOptions{})
	require.NoError(t, err)
	pod := d.Spec.Template.Spec
	require.Equal(t, "uw-upgrader-worker", pod.ServiceAccountName)
	require.True(t, *pod.SecurityContext.RunAsNonRoot)
	require.EqualValues(t, 65532, *pod.SecurityContext.RunAsUser)
	require.EqualValues(t, 65532, *pod.SecurityContext.FSGroup)
	c := pod.Containers[0]
	require.Equal(t, "registry.example/upgrader-worker:test", c.Image)
	require.Equal(t, []string{"-c", "/etc/upgrader/config/worker.yaml"}, c.Args)
	require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	require.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	require.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
	require.Equal(t, "metrics", c.Ports[0].Name)
	require.EqualValues(t, 9464, c.Ports[0].ContainerPort)
	require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	require.Equal(t, "metrics", c.LivenessProbe.HTTPGet.Port.String())
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	require.NotEmpty(t, d.Spec.Template.Annotations["checksum/config"])
	var codecEnv *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "UPGRADER_CODEC_KEYS" {
			codecEnv = &c.Env[i]
		}
	}
	require.NotNil(t, codecEnv, "the codec key ring comes from its Secret")
	require.Equal(t, "upgrader-codec", codecEnv.ValueFrom.SecretKeyRef.Name)
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	require.Equal(t, "uw-upgrader-worker", vols["config"].ConfigMap.Name)
	require.EqualValues(t, 0o440, *vols["secrets"].Projected.DefaultMode)
	secretItems := map[string]string{}
	for _, s := range vols["secrets"].Projected.Sources {
		secretItems[s.Secret.Name+"/"+s.Secret.Items[0].Key] = s.Secret.Items[0].Path
	}
	require.Equal(t, map[string]string{"c7n-db/root-password": "c7n-mysql-root", "ops-hooks/url": "ops-hook-url"}, secretItems)
	require.Equal(t, "member-1-kubeconfig", vols["kube"].Projected.Sources[0].Secret.Name)
	// Backups outlive the pod by default: a claim kept on uninstall, and a
	// Recreate rollout (a ReadWriteOnce volume cannot be on two pods).
	require.Equal(t, "uw-upgrader-worker-artifacts", vols["artifacts"].PersistentVolumeClaim.ClaimName)
	pvc, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "uw-upgrader-worker-artifacts", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "keep", pvc.Annotations["helm.sh/resource-policy"])
	require.Equal(t, appsv1.RecreateDeploymentStrategyType, d.Spec.Strategy.Type)

	svc, err := cs.CoreV1().Services(ns).Get(ctx, "uw-upgrader-worker", metav1.GetOptions{})
	require.NoError(t, err)
	require.EqualValues(t, 9464, svc.Spec.Ports[0].Port)
	require.Equal(t, "true", svc.Annotations["prometheus.io/scrape"])

	// RBAC objects: a Role in each namespace it upgrades, none elsewhere.
	for _, target := range []string{"c7n", "c7n-system"} {
		rb, err := cs.RbacV1().RoleBindings(target).Get(ctx, "uw-upgrader-worker", metav1.GetOptions{})
		require.NoError(t, err, target)
		require.Equal(t, "uw-upgrader-worker", rb.Subjects[0].Name)
		require.Equal(t, ns, rb.Subjects[0].Namespace)
	}
	roles, err := cs.RbacV1().Roles("other").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, roles.Items)

	// What the ServiceAccount's own token may do, asked of the API server.
	tok, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "uw-upgrader-worker",
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{Audiences: []string{"https://kubernetes.default.svc"}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	asWorker := rest.AnonymousClientConfig(rc)
	asWorker.BearerToken = tok.Status.Token
	sa, err := kubernetes.NewForConfig(asWorker)
	require.NoError(t, err)
	_, err = sa.CoreV1().Secrets("c7n").List(ctx, metav1.ListOptions{}) // helm's release records
	require.NoError(t, err)
	_, err = sa.CoreV1().ConfigMaps("c7n-system").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = sa.CoreV1().Pods("c7n").GetLogs("none", &corev1.PodLogOptions{}).DoRaw(ctx)
	require.True(t, apierrors.IsNotFound(err), "pod logs are readable (this pod just does not exist): %v", err)
	_, err = sa.CoreV1().Secrets("other").List(ctx, metav1.ListOptions{})
	require.True(t, apierrors.IsForbidden(err), "a namespace it does not upgrade: %v", err)
	_, err = sa.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	require.True(t, apierrors.IsForbidden(err), "no secrets cluster-wide: %v", err)
	_, err = sa.CoreV1().Namespaces().Get(ctx, "c7n", metav1.GetOptions{})
	require.NoError(t, err)
	_, err = sa.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	require.True(t, apierrors.IsForbidden(err), "no RBAC of its own: %v", err)
	crds := sa.RESTClient().Get().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
	require.NoError(t, crds.Do(ctx).Error(), "CRDs are cluster-scoped: the ClusterRole reads them")
	err = sa.RESTClient().Delete().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusters.cluster.kpanda.io").Do(ctx).Error()
	require.True(t, apierrors.IsForbidden(err), "a CRD is never deleted (its resources would go with it): %v", err)

	// The ConfigMap's worker.yaml is a config the worker accepts: its
	// container paths mapped into a folder here, the Secrets' files written
	// as the pod would see them (0440).
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "uw-upgrader-worker", metav1.GetOptions{})
	require.NoError(t, err)
	text := cm.Data["worker.yaml"]
	var parsed map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &parsed))
	require.Equal(t, map[string]any{"inCluster": true}, parsed["clusters"].(map[string]any)["c7n"])
	require.Equal(t, "UPGRADER_CODEC_KEYS", parsed["temporal"].(map[string]any)["codec"].(map[string]any)["keyEnv"])
	require.Equal(t, "0.0.0.0:9464", parsed["metrics"].(map[string]any)["address"])
	root := t.TempDir()
	local := strings.NewReplacer("/etc/upgrader/", root+"/etc/", "/var/lib/upgrader/", root+"/var/", "/var/cache/upgrader/", root+"/cache/")
	for path, content := range map[string]string{
		"/etc/upgrader/secrets/c7n-mysql-root": "r00t-passw0rd",
		"/etc/upgrader/secrets/ops-hook-url":   "https://hooks.example.com/x?token=abcdef",
		"/etc/upgrader/kube/member-1":          mustRead(t, cp.Kubeconfig),
	} {
		p := local.Replace(path)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o440))
	}
	cfgPath := filepath.Join(root, "worker.yaml")
	port := freePort(t)
	localText := local.Replace(text)
	localText = strings.Replace(localText, "0.0.0.0:9464", "127.0.0.1:"+port, 1)
	require.NoError(t, os.WriteFile(cfgPath, []byte(localText), 0o600))
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1") // as in a pod: inCluster is accepted
	t.Setenv("UPGRADER_TEMPORAL_ADDRESS", server.FrontendHostPort())
	// The codec ring as the chart passes it (UPGRADER_CODEC_KEYS from its
	// Secret), in place of the key file these tests' processes share.
	t.Setenv("UPGRADER_CODEC_KEYS", mustRead(t, os.Getenv(config.EnvPrefix+"_TEMPORAL_CODEC_KEYFILE")))
	t.Setenv(config.EnvPrefix+"_TEMPORAL_CODEC_KEYFILE", "")
	_, err = config.LoadWorker(cfgPath)
	require.NoError(t, err, "the chart's worker.yaml:\n%s", text)

	// A worker on it answers its probes once it polls.
	startWorker(t, cfgPath)
	base := "http://127.0.0.1:" + port
	eventually(t, 30*time.Second, "the worker ready", func() bool { return httpStatus(base+"/readyz") == http.StatusOK })
	require.Equal(t, http.StatusOK, httpStatus(base+"/healthz"))
	require.Contains(t, scrape(t, base+"/metrics"), "go_goroutines")
}

func httpStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestWorkerImageBuildCommandMakesAStaticBinary runs deploy/Dockerfile's
// build step as written there (its RUN line, flags and all): no image
// registry is reachable from the lab, so its base images cannot be pulled,
// but the binary the image ships is this one. It must be static (no ELF
// interpreter, no shared libraries): the image's second stage has no Go
// toolchain, and a cgo binary would not start on another libc. The
// Dockerfile's runtime stage runs as a non-root user.
func TestWorkerImageBuildCommandMakesAStaticBinary(t *testing.T) {
	df := mustRead(t, "../../deploy/Dockerfile")
	m := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 .*go build .*)$`).FindStringSubmatch(df)
	require.NotNil(t, m, "the Dockerfile's go build line")
	out := filepath.Join(t.TempDir(), "worker")
	line := strings.Replace(m[1], "-o /out/worker", "-o "+out, 1)
	require.Contains(t, line, "-o "+out)
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = "../.."
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", line, b)

	f, err := elf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "a static binary has no ELF interpreter")
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	require.Empty(t, libs, "no shared libraries")
	// It runs with nothing around it: -h answers without a config.
	help, err := exec.Command(out, "-h").CombinedOutput()
	require.NoError(t, err, "%s", help)
	require.Contains(t, string(help), "Usage: worker")

	require.Regexp(t, `(?m)^USER 65532:65532$`, df)
	require.Regexp(t, `(?m)^ENTRYPOINT \["/usr/local/bin/worker"\]$`, df)
	require.Len(t, regexp.MustCompile(`(?m)^FROM `).FindAllString(df, -1), 2, "multi-stage: build, then runtime")
}
