package activities

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// releaseChanged is when the release's newest Helm revision was written
// (the creation of its newest release Secret), zero when there is none.
// Pods older than that belong to the revision before: after `helm upgrade`
// the old pod still runs, answers UP and holds last time's log lines, and
// must not stand in for the new one.
//
// Revisions one step of one run made in a row count as one change: a try
// whose worker died after helm applied the manifest left a revision, and
// the step's next try upgraded again with the same manifest, which rolls
// no pod (the kill sweep found wait-up probing for a pod that never came).
// Their time is the first one's.
func releaseChanged(ctx context.Context, cs kubernetes.Interface, ns, release string) (time.Time, error) {
	secrets, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + release})
	if err != nil {
		return time.Time{}, fmt.Errorf("unable to read the Helm revisions of %s in %s: %w", release, ns, err)
	}
	revs := secrets.Items
	if len(revs) == 0 {
		return time.Time{}, nil
	}
	version := func(s corev1.Secret) int { v, _ := strconv.Atoi(s.Labels["version"]); return v }
	sort.SliceStable(revs, func(i, j int) bool {
		if vi, vj := version(revs[i]), version(revs[j]); vi != vj {
			return vi > vj
		}
		return revs[i].CreationTimestamp.After(revs[j].CreationTimestamp.Time)
	})
	// ours: labels this engine wrote for that very revision (helm copies a
	// release's labels to the next revision another tool makes).
	ours := func(s corev1.Secret) bool {
		return s.Labels[helmLabelRun] != "" && s.Labels[helmLabelRevision] == s.Labels["version"]
	}
	newest := revs[0]
	since := newest.CreationTimestamp.Time
	if !ours(newest) {
		return since, nil
	}
	for _, s := range revs[1:] {
		if !ours(s) || s.Labels[helmLabelRun] != newest.Labels[helmLabelRun] || s.Labels[helmLabelStep] != newest.Labels[helmLabelStep] {
			break
		}
		since = s.CreationTimestamp.Time
	}
	return since, nil
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
