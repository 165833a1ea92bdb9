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
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"upgrader/internal/contract"
)

// DefaultReleaseLabel is how the Choerodon charts label a release's pods.
const DefaultReleaseLabel = "choerodon.io/release"

// ErrLogFailure is a log line that matched a failure pattern (the guide: "if
// an exception appears you cannot continue").
const ErrLogFailure = "LogFailure"

// ErrLogLineNotFound is a followed log that did not print the awaited line
// before the step's timeout.
const ErrLogLineNotFound = "LogLineNotFound"

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
		return (&HTTP{Client: hc}).probe(ctx, WaitHTTPInput{URL: in.URL, JSONField: in.Expect.JSONField, Equals: in.Expect.Equals, BodyContains: in.Expect.BodyContains})
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
	// NewRevisionOnly ignores pods older than the release's newest Helm
	// revision, whose logs hold the lines of the last upgrade.
	NewRevisionOnly bool `json:"newRevisionOnly,omitempty"`
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
	contract.Outcome
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
	var since time.Time
	if in.NewRevisionOnly {
		if since, err = releaseChanged(ctx, cs, in.Namespace, in.Release); err != nil {
			return FollowLogResult{}, err
		}
	}
	var res FollowLogResult
	var tail []string
	selector := labelSelector(in.LabelKey, in.Release)
	// A quiet log blocks the stream read: heartbeat the last position
	// from the side, so Temporal does not take a quiet pod for a dead worker.
	var last lastProgress
	last.set(p)
	stopBeats := make(chan struct{})
	defer close(stopBeats)
	go func() {
		for {
			select {
			case <-stopBeats:
				return
			case <-time.After(5 * time.Second):
				activity.RecordHeartbeat(ctx, last.get())
			}
		}
	}()
	// Give up a little before the step's deadline with an error of our
	// own, not retried: a line that did not come in time is the operator's
	// to judge. A worker lost on the way is different: Temporal retries
	// that try, and it resumes from the heartbeat.
	wctx := ctx
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) > 10*time.Second {
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, dl.Add(-2*time.Second))
		defer cancel()
	}
	for {
		pod, why := newestPod(wctx, cs, in.Namespace, selector, since)
		if pod != nil {
			if pod.Name != p.Pod {
				p = FollowLogProgress{Pod: pod.Name, Lines: p.Lines} // a new pod: its log from the start
			}
			opts := &corev1.PodLogOptions{Follow: true, Timestamps: true, Container: in.Container}
			var lastTS time.Time
			if p.LastTS != "" {
				lastTS, _ = time.Parse(time.RFC3339Nano, p.LastTS)
				st := metav1.NewTime(lastTS.Truncate(time.Second))
				opts.SinceTime = &st
			}
			stream, err := cs.CoreV1().Pods(in.Namespace).GetLogs(pod.Name, opts).Stream(wctx)
			if err == nil {
				done, ferr := k.readLog(ctx, stream, &p, &last, lastTS, success[0], failure, ignore, &res, &tail, in)
				stream.Close()
				if done || ferr != nil {
					res.Excerpt = tail
					return res, ferr
				}
			} else {
				why = fmt.Sprintf("log of %s not available yet: %v", pod.Name, err)
			}
		}
		last.set(p)
		activity.RecordHeartbeat(ctx, p)
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return res, fmt.Errorf("no line matching %q in the log of %s (%s): %w", in.Success, in.Release, why, ctx.Err())
			}
			return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"no line matching %q in the log of %s within the step's timeout (%d lines read; last: %s); "+
					"look at the pod's log, then retry (wait again), skip or abort", in.Success, in.Release, p.Lines,
				strings.Join(lastN(tail, 3), " | ")), ErrLogLineNotFound, nil, tail)
		case <-time.After(k.interval()):
		}
	}
}

// lastProgress is the newest FollowLogProgress, shared with the side heartbeat.
type lastProgress struct {
	mu sync.Mutex
	p  FollowLogProgress
}

func (l *lastProgress) set(p FollowLogProgress) { l.mu.Lock(); l.p = p; l.mu.Unlock() }
func (l *lastProgress) get() FollowLogProgress {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p
}

func (k *Kube) readLog(ctx context.Context, r io.Reader, p *FollowLogProgress, shared *lastProgress, last time.Time, success interface{ MatchString(string) bool },
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
		shared.set(*p)
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
func newestPod(ctx context.Context, cs kubernetes.Interface, ns, selector string, since time.Time) (*corev1.Pod, string) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Sprintf("cannot list pods %s in %s: %v", selector, ns, err)
	}
	pods.Items = createdSince(pods.Items, since)
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
		return nil, fmt.Sprintf("no running pod %s in %s yet (%d pods%s)", selector, ns, len(pods.Items), sinceNote(since))
	}
	return best, ""
}

// releaseChanged is when the release's newest Helm revision was written
// (the creation of its newest release Secret), zero when there is none.
// Pods older than that belong to the revision before: after `helm upgrade`
// the old pod still runs, answers UP and holds last time's log lines, and
// must not stand in for the new one.
func releaseChanged(ctx context.Context, cs kubernetes.Interface, ns, release string) (time.Time, error) {
	secrets, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + release})
	if err != nil {
		return time.Time{}, fmt.Errorf("unable to read the Helm revisions of %s in %s: %w", release, ns, err)
	}
	var newest time.Time
	for _, s := range secrets.Items {
		if s.CreationTimestamp.After(newest) {
			newest = s.CreationTimestamp.Time
		}
	}
	return newest, nil
}

// createdSince keeps the pods created at or after since (second precision,
// as the API server keeps creation times).
func createdSince(pods []corev1.Pod, since time.Time) []corev1.Pod {
	if since.IsZero() {
		return pods
	}
	out := pods[:0]
	for _, p := range pods {
		if !p.CreationTimestamp.Time.Before(since.Truncate(time.Second)) {
			out = append(out, p)
		}
	}
	return out
}

func sinceNote(since time.Time) string {
	if since.IsZero() {
		return ""
	}
	return " created since the release's last revision at " + since.UTC().Format(time.RFC3339)
}

func (k *Kube) clientset(cluster string) (*kubernetes.Clientset, error) {
	cfg, err := k.restConfig(cluster)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}
