package activities

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func helmSecret(version int, at time.Time, run, step string, labelled int) *corev1.Secret {
	l := map[string]string{"owner": "helm", "name": "svc", "version": strconv.Itoa(version)}
	if run != "" {
		l[helmLabelRun], l[helmLabelStep], l[helmLabelRevision] = run, step, strconv.Itoa(labelled)
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sh.helm.release.v1.svc.v" + strconv.Itoa(version), Namespace: "ns",
		Labels: l, CreationTimestamp: metav1.NewTime(at)}}
}

// A step's dead try left revision 3 (its manifest applied, its pods rolled);
// the next try made revision 4 with the same manifest, which rolls no pod:
// pods count from revision 3. Another step's revision, or labels helm
// copied from the revision before, start a change of their own.
func TestReleaseChangedCountsOneStepsRevisionsInARowAsOne(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for name, c := range map[string]struct {
		secrets []*corev1.Secret
		want    time.Time
	}{
		"retried after a dead try": {[]*corev1.Secret{
			helmSecret(2, at(0), "r1", "install/svc", 2), helmSecret(3, at(10), "r1", "upgrade/svc", 3), helmSecret(4, at(30), "r1", "upgrade/svc", 4)}, at(10)},
		"one revision": {[]*corev1.Secret{helmSecret(2, at(0), "r1", "install/svc", 2), helmSecret(3, at(10), "r1", "upgrade/svc", 3)}, at(10)},
		"another tool's upgrade": {[]*corev1.Secret{
			helmSecret(3, at(10), "r1", "upgrade/svc", 3), helmSecret(4, at(30), "r1", "upgrade/svc", 3)}, at(30)},
		"another run": {[]*corev1.Secret{
			helmSecret(3, at(10), "r0", "upgrade/svc", 3), helmSecret(4, at(30), "r1", "upgrade/svc", 4)}, at(30)},
		"not ours": {[]*corev1.Secret{helmSecret(3, at(10), "", "", 0), helmSecret(4, at(30), "", "", 0)}, at(30)},
	} {
		t.Run(name, func(t *testing.T) {
			cs := fake.NewSimpleClientset()
			for _, s := range c.secrets {
				_, err := cs.CoreV1().Secrets("ns").Create(context.Background(), s, metav1.CreateOptions{})
				require.NoError(t, err)
			}
			got, err := releaseChanged(context.Background(), cs, "ns", "svc")
			require.NoError(t, err)
			require.Equal(t, c.want, got.UTC())
		})
	}
}
