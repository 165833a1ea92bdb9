package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"upgrader/internal/contract"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DefaultReleaseLabel is how the Choerodon charts label a release's pods.
const DefaultReleaseLabel = "choerodon.io/release"

// Probe modes of WaitUp.
const (
	ViaPodIP = "pod-ip" // the worker runs in the cluster and reaches pod IPs
	ViaProxy = "proxy"  // through the API server's pod proxy: a kubeconfig is enough
	ViaURL   = "url"    // an explicit URL (an ingress, a NodePort)
)

// WaitUpInput is the guides' `curl $(kubectl get po -l
// choerodon.io/release=X -o jsonpath=…podIP):PORT/actuator/health` until it
// says UP.
type WaitUpInput struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Release   string `json:"release"`
	// LabelKey selects the release's pods; empty means choerodon.io/release.
	LabelKey string `json:"labelKey,omitempty"`
	Port     int    `json:"port"`
	Path     string `json:"path"`
	// Via is pod-ip (default), proxy or url.
	Via string `json:"via,omitempty"`
	URL string `json:"url,omitempty"`
	// Expect is what counts as up (status UP, or an HTML title).
	Expect WaitHTTPInput `json:"expect"`
	// NewRevisionOnly ignores pods older than the release's newest Helm
	// revision: the check after an upgrade must not pass on the old pod.
	NewRevisionOnly bool `json:"newRevisionOnly,omitempty"`
}

// WaitUp heartbeats from the shared ticker (pollUntil) while it probes.
var _ = contract.Declare((*Kube).WaitUp, contract.Options{Heartbeat: waitHeartbeat})

// WaitUp probes the release until it answers as expected. It picks a Ready
// pod of the newest ReplicaSet, so an old pod still running during a
// rolling update does not answer for the new version.
func (k *Kube) WaitUp(ctx context.Context, in WaitUpInput) (WaitHTTPResult, error) {
	cs, err := k.clientset(in.Cluster)
	if err != nil {
		return WaitHTTPResult{}, err
	}
	via := in.Via
	if via == "" {
		via = ViaPodIP
	}
	if via == ViaURL && in.URL == "" || via != ViaURL && (in.Port == 0 || in.Release == "") {
		return WaitHTTPResult{}, invalid("wait-up of %q: give a URL (via url) or a release and a port", in.Release)
	}
	interval := in.Expect.Interval.D()
	if interval <= 0 {
		interval = k.interval()
	}
	var since time.Time
	if in.NewRevisionOnly && via != ViaURL {
		if since, err = releaseChanged(ctx, cs, in.Namespace, in.Release); err != nil {
			return WaitHTTPResult{}, err
		}
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	return pollUntil(ctx, in.Release, "up", interval, func() (bool, string) { return k.probeRelease(ctx, cs, hc, in, via, since) })
}

func (k *Kube) probeRelease(ctx context.Context, cs kubernetes.Interface, hc *http.Client, in WaitUpInput, via string, since time.Time) (bool, string) {
	if via == ViaURL {
		e := in.Expect
		e.URL = in.URL
		return (&HTTP{Client: hc}).probe(ctx, e)
	}
	pod, why := newestReadyPod(ctx, cs, in.Namespace, labelSelector(in.LabelKey, in.Release), since)
	if pod == nil {
		return false, why
	}
	path := in.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if via == ViaProxy {
		body, err := cs.CoreV1().Pods(in.Namespace).ProxyGet("http", pod.Name, strconv.Itoa(in.Port), path, nil).DoRaw(ctx)
		status := http.StatusOK
		if err != nil {
			var se apierrors.APIStatus
			if errors.As(err, &se) {
				status = int(se.Status().Code)
			} else {
				return false, fmt.Sprintf("pod %s via the API server proxy: %v", pod.Name, err)
			}
		}
		ok, obs := judge(status, body, in.Expect)
		return ok, "pod " + pod.Name + " (proxy): " + obs
	}
	e := in.Expect
	e.URL = fmt.Sprintf("http://%s%s", joinHostPort(pod.Status.PodIP, in.Port), path)
	ok, obs := (&HTTP{Client: hc}).probe(ctx, e)
	return ok, "pod " + pod.Name + " (" + pod.Status.PodIP + "): " + obs
}

func joinHostPort(ip string, port int) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + strconv.Itoa(port)
	}
	return ip + ":" + strconv.Itoa(port)
}

func labelSelector(key, release string) string {
	if key == "" {
		key = DefaultReleaseLabel
	}
	return key + "=" + release
}

// newestReadyPod returns a Ready, running pod of the newest ReplicaSet among
// the selected pods (pods with no ReplicaSet count by their own age).
func newestReadyPod(ctx context.Context, cs kubernetes.Interface, ns, selector string, since time.Time) (*corev1.Pod, string) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Sprintf("cannot list pods %s in %s: %v", selector, ns, err)
	}
	pods.Items = createdSince(pods.Items, since)
	if len(pods.Items) == 0 {
		return nil, fmt.Sprintf("no pod %s in %s yet%s", selector, ns, sinceNote(since))
	}
	rsAge := map[string]time.Time{}
	if rss, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, rs := range rss.Items {
			rsAge[rs.Name] = rs.CreationTimestamp.Time
		}
	}
	generation := func(p corev1.Pod) time.Time {
		for _, o := range p.OwnerReferences {
			if o.Kind == "ReplicaSet" {
				if t, ok := rsAge[o.Name]; ok {
					return t
				}
			}
		}
		return p.CreationTimestamp.Time
	}
	items := pods.Items
	sort.SliceStable(items, func(i, j int) bool {
		gi, gj := generation(items[i]), generation(items[j])
		if !gi.Equal(gj) {
			return gi.After(gj)
		}
		return items[i].CreationTimestamp.After(items[j].CreationTimestamp.Time)
	})
	newest := generation(items[0])
	for i := range items {
		p := &items[i]
		if !generation(*p).Equal(newest) {
			break
		}
		if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && podReady(p) {
			return p, ""
		}
	}
	return nil, fmt.Sprintf("no Ready pod of the newest generation among %d pods %s in %s (newest: %s, %s)",
		len(items), selector, ns, items[0].Name, items[0].Status.Phase)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
