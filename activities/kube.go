package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"upgrader/internal/contract"
)

// Error types of Kubernetes steps.
const (
	ErrJobFailed      = "JobFailed"        // a Job ran out of retries
	ErrAPINotServed   = "APINotServed"     // a manifest's apiVersion is not served by the cluster
	ErrManifestReject = "ManifestRejected" // the API server refused an object
)

// Kube applies manifests and waits on objects, with client-go.
type Kube struct {
	Clusters map[string]Cluster
	// PollInterval paces waits.
	PollInterval time.Duration
	// APICache is the clusters' cached discovery, shared with Helm
	// (kube_cache.go): Apply reads it and forgets it after applying a CRD.
	// Nil uses the process's.
	APICache *KubeCache
}

func (k *Kube) kubeCache() *KubeCache {
	if k.APICache != nil {
		return k.APICache
	}
	return sharedKubeCache
}

func (k *Kube) restConfig(cluster string) (*rest.Config, error) {
	c, ok := k.Clusters[cluster]
	if !ok {
		return nil, invalid("cluster %q is not configured on the worker", cluster)
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: c.Context}).ClientConfig()
	if err != nil {
		return nil, invalid("cluster %s: kubeconfig %s: %v", cluster, c.Kubeconfig, err)
	}
	return cfg, nil
}

func (k *Kube) interval() time.Duration {
	if k.PollInterval > 0 {
		return k.PollInterval
	}
	return DefaultPollInterval
}

// KubeApplyInput is `kubectl apply --server-side` of one or more YAML
// documents: the guides' CRD files and skoala's job.yaml.
type KubeApplyInput struct {
	Cluster string `json:"cluster"`
	// Namespace for namespaced objects that name none.
	Namespace string `json:"namespace,omitempty"`
	// Manifests is YAML text; Files are read on the worker and URLs
	// fetched by it (the guides' "re-apply the CRD files"), in this order.
	Manifests string   `json:"manifests,omitempty"`
	Files     []string `json:"files,omitempty"`
	URLs      []string `json:"urls,omitempty"`
}

// manifests gathers every document of the input into one YAML stream.
func (in KubeApplyInput) manifests(ctx context.Context) (string, error) {
	parts := []string{in.Manifests}
	for _, f := range in.Files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", invalid("manifest file %s cannot be read on the worker: %v", f, err)
		}
		parts = append(parts, string(b))
	}
	for _, u := range in.URLs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return "", invalid("manifest URL %q: %v", u, err)
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			return "", fmt.Errorf("unable to fetch manifests from %s: %w", u, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("unable to fetch manifests from %s: HTTP %d %v", u, resp.StatusCode, err)
		}
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "\n---\n"), nil
}

// KubeApplyResult lists what was applied.
type KubeApplyResult struct {
	contract.Outcome
	Objects []string `json:"objects"`
}

// Apply is short, yet declares a heartbeat timeout (see heartbeating).
var _ = contract.Declare((*Kube).Apply, contract.Options{Heartbeat: callHeartbeat})

// Apply applies every document with server-side apply (field manager
// "upgrader", conflicts forced, as the guide's operator would), which is
// idempotent: applying the same files again changes nothing.
func (k *Kube) Apply(ctx context.Context, in KubeApplyInput) (KubeApplyResult, error) {
	return heartbeating(ctx, in, k.apply)
}

func (k *Kube) apply(ctx context.Context, in KubeApplyInput) (KubeApplyResult, error) {
	cfg, err := k.restConfig(in.Cluster)
	if err != nil {
		return KubeApplyResult{}, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return KubeApplyResult{}, err
	}
	entry, err := k.kubeCache().entry(in.Cluster, cfg)
	if err != nil {
		return KubeApplyResult{}, err
	}
	disc := entry.disc
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(disc)
	// What helm (and a later mapping here) sees of the cluster's kinds
	// changes with a CRD or an aggregated API applied.
	changesAPI := false
	defer func() {
		if changesAPI {
			k.kubeCache().Invalidate(in.Cluster)
		}
	}()
	text, err := in.manifests(ctx)
	if err != nil {
		return KubeApplyResult{}, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(text)), 4096)
	var res KubeApplyResult
	for doc := 1; ; doc++ {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return res, invalid("manifest document %d is not valid YAML: %v", doc, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		gvk := obj.GroupVersionKind()
		if gvk.Kind == "CustomResourceDefinition" || gvk.Kind == "APIService" {
			changesAPI = true
		}
		if isCRDv1(obj) {
			// A cluster before 1.16 serves CRDs as v1beta1 only (the 0.8
			// guide's own C7NHelmRelease.yaml is v1beta1): found by discovery.
			gvr, err := servedCRDResource(disc)
			if err != nil {
				return res, err
			}
			if gvr.Version == crdV1beta1.Version {
				crd, err := CRDToV1beta1(obj)
				if err != nil {
					return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("document %d: cluster %s serves CRDs as v1beta1 only: %v",
						doc, in.Cluster, err), ErrManifestReject, nil)
				}
				if err := applyV1beta1CRD(ctx, dyn, crd); err != nil {
					if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) {
						return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
							"cluster %s refused CustomResourceDefinition %s (as v1beta1): %v", in.Cluster, obj.GetName(), err), ErrManifestReject, nil)
					}
					return res, fmt.Errorf("unable to apply CustomResourceDefinition %s (as v1beta1) on %s: %w", obj.GetName(), in.Cluster, err)
				}
				res.Objects = append(res.Objects, "customresourcedefinition/"+obj.GetName()+" (as v1beta1: the cluster serves no apiextensions.k8s.io/v1)")
				continue
			}
		}
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			mapper.Reset() // a CRD applied earlier in this call may serve it now
			mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		if err != nil {
			hint := ""
			if gvk.Group == "apiextensions.k8s.io" && gvk.Version == "v1beta1" {
				hint = "; apiextensions.k8s.io/v1beta1 was removed in Kubernetes 1.22: convert the CRD to apiextensions.k8s.io/v1"
			}
			return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"document %d (%s %s): %s is not served by cluster %s%s", doc, gvk.Kind, obj.GetName(), gvk.GroupVersion(), in.Cluster, hint),
				ErrAPINotServed, nil)
		}
		ri := dyn.Resource(mapping.Resource)
		var target dynamic.ResourceInterface = ri
		name := obj.GetName()
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ns := obj.GetNamespace()
			if ns == "" {
				ns = in.Namespace
			}
			if ns == "" {
				ns = "default"
			}
			obj.SetNamespace(ns)
			target = ri.Namespace(ns)
			name = ns + "/" + name
		}
		if _, err := target.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "upgrader", Force: true}); err != nil {
			if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) {
				return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
					"cluster %s refused %s %s: %v", in.Cluster, gvk.Kind, name, err), ErrManifestReject, nil)
			}
			return res, fmt.Errorf("unable to apply %s %s on %s: %w", gvk.Kind, name, in.Cluster, err)
		}
		res.Objects = append(res.Objects, strings.ToLower(gvk.Kind)+"/"+name)
	}
	if len(res.Objects) == 0 {
		return res, invalid("the manifests hold no object")
	}
	res.Summary = fmt.Sprintf("applied %d objects on %s: %s", len(res.Objects), in.Cluster, strings.Join(res.Objects, ", "))
	return res, nil
}

// WaitCRDInput names CRDs that must become Established.
type WaitCRDInput struct {
	Cluster string   `json:"cluster"`
	Names   []string `json:"names"` // c7nhelmreleases.choerodon.io
}

// WaitCRDsEstablished heartbeats after every poll (every PollInterval).
var _ = contract.Declare((*Kube).WaitCRDsEstablished, contract.Options{Heartbeat: waitHeartbeat})

// WaitCRDsEstablished polls until every CRD reports Established, so the
// next step can create its objects.
func (k *Kube) WaitCRDsEstablished(ctx context.Context, in WaitCRDInput) (contract.Outcome, error) {
	cfg, err := k.restConfig(in.Cluster)
	if err != nil {
		return contract.Outcome{}, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return contract.Outcome{}, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return contract.Outcome{}, err
	}
	gvr, err := servedCRDResource(disc) // v1, or v1beta1 before Kubernetes 1.16
	if err != nil {
		return contract.Outcome{}, err
	}
	crds := dyn.Resource(gvr)
	for {
		var waiting []string
		for _, n := range in.Names {
			obj, err := crds.Get(ctx, n, metav1.GetOptions{})
			if err != nil || !conditionTrue(obj, "Established") {
				waiting = append(waiting, n)
			}
		}
		activity.RecordHeartbeat(ctx, waiting)
		if len(waiting) == 0 {
			// Whatever read the cluster's discovery between the apply and
			// now may have cached it without the new kinds.
			k.kubeCache().Invalidate(in.Cluster)
			return contract.Outcome{Summary: fmt.Sprintf("%d CRDs established on %s", len(in.Names), in.Cluster)}, nil
		}
		select {
		case <-ctx.Done():
			return contract.Outcome{}, fmt.Errorf("CRDs not established on %s: %s: %w", in.Cluster, strings.Join(waiting, ", "), ctx.Err())
		case <-time.After(k.interval()):
		}
	}
}

func conditionTrue(obj *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

// WaitJobInput names a Job to wait for (skoala's DB upgrade job).
type WaitJobInput struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// WaitJob heartbeats the Job's counts after every poll.
var _ = contract.Declare((*Kube).WaitJob, contract.Options{Heartbeat: waitHeartbeat})

// WaitJob polls until the Job succeeds, heartbeating its counts. A failed
// Job ends the step at once with the last lines of its pods' logs.
func (k *Kube) WaitJob(ctx context.Context, in WaitJobInput) (contract.Outcome, error) {
	cfg, err := k.restConfig(in.Cluster)
	if err != nil {
		return contract.Outcome{}, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return contract.Outcome{}, err
	}
	where := fmt.Sprintf("job %s/%s on %s", in.Namespace, in.Name, in.Cluster)
	for {
		job, err := cs.BatchV1().Jobs(in.Namespace).Get(ctx, in.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			activity.RecordHeartbeat(ctx, "not created yet")
		case err != nil:
			activity.RecordHeartbeat(ctx, err.Error())
		default:
			activity.RecordHeartbeat(ctx, fmt.Sprintf("active %d, succeeded %d, failed %d", job.Status.Active, job.Status.Succeeded, job.Status.Failed))
			for _, c := range job.Status.Conditions {
				if c.Status != corev1.ConditionTrue {
					continue
				}
				switch c.Type {
				case batchv1.JobComplete:
					return contract.Outcome{Summary: fmt.Sprintf("%s completed (%d succeeded)", where, job.Status.Succeeded)}, nil
				case batchv1.JobFailed:
					return contract.Outcome{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
						"%s failed: %s: %s; its pods' last log lines: %s", where, c.Reason, c.Message, podLogTail(ctx, cs, in.Namespace, "job-name="+in.Name)),
						ErrJobFailed, nil)
				}
			}
		}
		select {
		case <-ctx.Done():
			return contract.Outcome{}, fmt.Errorf("%s did not complete: %w", where, ctx.Err())
		case <-time.After(k.interval()):
		}
	}
}

// podLogTail returns the last lines of the newest pod matching selector,
// or why there are none.
func podLogTail(ctx context.Context, cs kubernetes.Interface, ns, selector string) string {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil || len(pods.Items) == 0 {
		return "(no pod found)"
	}
	newest := pods.Items[0]
	for _, p := range pods.Items[1:] {
		if p.CreationTimestamp.After(newest.CreationTimestamp.Time) {
			newest = p
		}
	}
	lines := int64(20)
	b, err := cs.CoreV1().Pods(ns).GetLogs(newest.Name, &corev1.PodLogOptions{TailLines: &lines}).DoRaw(ctx)
	if err != nil {
		return fmt.Sprintf("(logs of %s unavailable: %v)", newest.Name, err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
