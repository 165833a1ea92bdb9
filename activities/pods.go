package activities

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"upgrader/workflows/runbook"
)

// DefaultReleaseLabel is how the Choerodon charts label a release's pods.
const DefaultReleaseLabel = "choerodon.io/release"

// ErrLogFailure is a log line that matched a failure pattern (the guide: "if
// an exception appears you cannot continue").
const ErrLogFailure = "LogFailure"

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
}

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
	interval := in.Expect.Interval
	if interval <= 0 {
		interval = k.interval()
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	return pollUntil(ctx, in.Release, "up", interval, func() (bool, string) { return k.probeRelease(ctx, cs, hc, in, via) })
}

func (k *Kube) probeRelease(ctx context.Context, cs kubernetes.Interface, hc *http.Client, in WaitUpInput, via string) (bool, string) {
	if via == ViaURL {
		return (&HTTP{Client: hc}).probe(ctx, WaitHTTPInput{URL: in.URL, JSONField: in.Expect.JSONField, Equals: in.Expect.Equals, BodyContains: in.Expect.BodyContains})
	}
	pod, why := newestReadyPod(ctx, cs, in.Namespace, labelSelector(in.LabelKey, in.Release))
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
	ok, obs := (&HTTP{Client: hc}).probe(ctx, WaitHTTPInput{URL: fmt.Sprintf("http://%s%s", joinHostPort(pod.Status.PodIP, in.Port), path),
		JSONField: in.Expect.JSONField, Equals: in.Expect.Equals, BodyContains: in.Expect.BodyContains})
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
func newestReadyPod(ctx context.Context, cs kubernetes.Interface, ns, selector string) (*corev1.Pod, string) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Sprintf("cannot list pods %s in %s: %v", selector, ns, err)
	}
	if len(pods.Items) == 0 {
		return nil, fmt.Sprintf("no pod %s in %s yet", selector, ns)
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

// FollowLogInput follows a release's pod log until a line appears: the
// data-migration job's 修复完成，正常退出, knowledgebase's Data Fix Succeed.
type FollowLogInput struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Release   string `json:"release"`
	LabelKey  string `json:"labelKey,omitempty"`
	Container string `json:"container,omitempty"`
	// Success is a regular expression; the step succeeds on the first
	// line that matches it.
	Success string `json:"success"`
	// Failure patterns end the step, unless the line matches an Ignore one.
	Failure []string `json:"failure,omitempty"`
	Ignore  []string `json:"ignore,omitempty"`
}

// FollowLogProgress is heartbeated after every line: a new try (after a
// worker restart) resumes at this position and reads no line twice.
type FollowLogProgress struct {
	Pod string `json:"pod"`
	// LastTS is the timestamp of the last line read, SeenAtTS how many
	// lines carried exactly that timestamp.
	LastTS   string `json:"lastTS"`
	SeenAtTS int    `json:"seenAtTS"`
	Lines    int    `json:"lines"`
}

// FollowLogResult keeps the matching line and a short excerpt, never the
// whole log.
type FollowLogResult struct {
	runbook.Outcome
	Pod     string   `json:"pod"`
	Match   string   `json:"match"`
	Read    int      `json:"read"` // lines read by this try
	Excerpt []string `json:"excerpt"`
}

// FollowLog streams the newest pod's log with timestamps. When the stream
// ends (the pod restarted) it finds the newest pod again and goes on.
func (k *Kube) FollowLog(ctx context.Context, in FollowLogInput) (FollowLogResult, error) {
	success, failure, ignore, err := compileAll([]string{in.Success}, in.Failure, in.Ignore)
	if err != nil {
		return FollowLogResult{}, err
	}
	if in.Success == "" {
		return FollowLogResult{}, invalid("follow-log of %s needs a success pattern", in.Release)
	}
	cs, err := k.clientset(in.Cluster)
	if err != nil {
		return FollowLogResult{}, err
	}
	var p FollowLogProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	var res FollowLogResult
	var tail []string
	selector := labelSelector(in.LabelKey, in.Release)
	for {
		pod, why := newestPod(ctx, cs, in.Namespace, selector)
		if pod != nil {
			if pod.Name != p.Pod {
				p = FollowLogProgress{Pod: pod.Name, Lines: p.Lines} // a new pod: its log from the start
			}
			opts := &corev1.PodLogOptions{Follow: true, Timestamps: true, Container: in.Container}
			var last time.Time
			if p.LastTS != "" {
				last, _ = time.Parse(time.RFC3339Nano, p.LastTS)
				st := metav1.NewTime(last.Truncate(time.Second))
				opts.SinceTime = &st
			}
			stream, err := cs.CoreV1().Pods(in.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
			if err == nil {
				done, ferr := k.readLog(ctx, stream, &p, last, success[0], failure, ignore, &res, &tail, in)
				stream.Close()
				if done || ferr != nil {
					res.Excerpt = tail
					return res, ferr
				}
			} else {
				why = fmt.Sprintf("log of %s not available yet: %v", pod.Name, err)
			}
		}
		activity.RecordHeartbeat(ctx, p)
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("no line matching %q in the log of %s (%s): %w", in.Success, in.Release, why, ctx.Err())
		case <-time.After(k.interval()):
		}
	}
}

func (k *Kube) readLog(ctx context.Context, r io.Reader, p *FollowLogProgress, last time.Time, success interface{ MatchString(string) bool },
	failure, ignore []*regexp.Regexp, res *FollowLogResult, tail *[]string, in FollowLogInput) (bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	atLast := 0
	for sc.Scan() {
		stamp, text, _ := strings.Cut(sc.Text(), " ")
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			ts, text = time.Time{}, sc.Text()
		}
		if !ts.IsZero() {
			switch {
			case !last.IsZero() && ts.Before(last):
				continue // read by an earlier try
			case !last.IsZero() && ts.Equal(last):
				atLast++
				if atLast <= p.SeenAtTS {
					continue // read by an earlier try
				}
				p.SeenAtTS = atLast
			default:
				last, atLast, p.SeenAtTS, p.LastTS = ts, 1, 1, stamp
			}
		}
		p.Lines++
		res.Read++
		*tail = append(*tail, text)
		if len(*tail) > 10 {
			*tail = (*tail)[1:]
		}
		activity.RecordHeartbeat(ctx, *p)
		if !matchesAny(ignore, text) && matchesAny(failure, text) {
			res.Pod, res.Match = p.Pod, text
			return true, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"the log of %s (pod %s) printed a failure line: %s; the guide says not to go on: look at the pod's log, then retry, skip or abort",
				in.Release, p.Pod, text), ErrLogFailure, nil, *tail)
		}
		if success.MatchString(text) {
			res.Pod, res.Match = p.Pod, text
			res.Summary = fmt.Sprintf("%s (pod %s) printed: %s", in.Release, p.Pod, text)
			return true, nil
		}
	}
	return false, nil
}

// newestPod returns the newest running pod of the selection (logs start
// before readiness).
func newestPod(ctx context.Context, cs kubernetes.Interface, ns, selector string) (*corev1.Pod, string) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Sprintf("cannot list pods %s in %s: %v", selector, ns, err)
	}
	var best *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || (p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed) {
			continue
		}
		if best == nil || p.CreationTimestamp.After(best.CreationTimestamp.Time) {
			best = p
		}
	}
	if best == nil {
		return nil, fmt.Sprintf("no running pod %s in %s yet (%d pods)", selector, ns, len(pods.Items))
	}
	return best, ""
}

func (k *Kube) clientset(cluster string) (*kubernetes.Clientset, error) {
	cfg, err := k.restConfig(cluster)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}
