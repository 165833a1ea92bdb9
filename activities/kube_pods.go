package activities

import (
	"context"
	"fmt"
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
