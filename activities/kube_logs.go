package activities

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"upgrader/internal/contract"
)

// ErrLogFailure is a log line that matched a failure pattern (the guide: "if
// an exception appears you cannot continue").
const ErrLogFailure = "LogFailure"

// ErrLogLineNotFound is a followed log that did not print the awaited line
// before the step's timeout.
const ErrLogLineNotFound = "LogLineNotFound"

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

// FollowLog heartbeats its log position from the shared ticker, also while
// a quiet pod blocks the stream read.
var _ = contract.Declare((*Kube).FollowLog, contract.Options{Heartbeat: waitHeartbeat})

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
	priorProgress(ctx, &p)
	var since time.Time
	if in.NewRevisionOnly {
		if since, err = releaseChanged(ctx, cs, in.Namespace, in.Release); err != nil {
			return FollowLogResult{}, err
		}
	}
	// A quiet log blocks the stream read: the shared ticker heartbeats the
	// last position, so Temporal does not take a quiet pod for a dead worker.
	var last Progress
	last.Set(p)
	var res FollowLogResult
	err = whileHeartbeating(ctx, &last, func(ctx context.Context) error {
		var ferr error
		res, ferr = k.followLog(ctx, cs, in, p, &last, since, success[0], failure, ignore)
		return ferr
	})
	return res, err
}

// followLog is FollowLog's loop, run under the heartbeat ticker.
func (k *Kube) followLog(ctx context.Context, cs kubernetes.Interface, in FollowLogInput, p FollowLogProgress, last *Progress, since time.Time,
	success *regexp.Regexp, failure, ignore []*regexp.Regexp) (FollowLogResult, error) {
	var res FollowLogResult
	var tail []string
	selector := labelSelector(in.LabelKey, in.Release)
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
				done, ferr := k.readLog(stream, &p, last, lastTS, success, failure, ignore, &res, &tail, in)
				stream.Close()
				if done || ferr != nil {
					res.Excerpt = tail
					return res, ferr
				}
			} else {
				why = fmt.Sprintf("log of %s not available yet: %v", pod.Name, err)
			}
		}
		last.Set(p)
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

func (k *Kube) readLog(r io.Reader, p *FollowLogProgress, shared *Progress, last time.Time, success interface{ MatchString(string) bool },
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
		shared.Set(*p)
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
