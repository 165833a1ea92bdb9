package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// A values backup is a file on the worker that wrote it, and a copy in the
// release's own namespace: a Secret (values hold passwords) named by the
// release and the file's SHA-256, immutable. With several workers on a
// queue (the worker chart's replicas, a site's workers), the undo or a
// re-install may run on a worker that never saw the file; it reads the
// copy, checks its SHA-256 against the one the backup step recorded, and
// goes on. The copy lives where the release lives, so whoever can
// re-install the release can read it, and nobody else needs to.
const (
	valuesCopyKey  = "values.yaml"
	valuesCopyType = "upgrader.io/values-backup"
	// LabelValuesRelease labels a values copy with its release.
	LabelValuesRelease = "upgrader.io/values-of"
	annotationSHA256   = "upgrader.io/sha256"
)

// valuesCopyName is the Secret holding the copy of release's values whose
// SHA-256 is sum: the same values make the same name, so a retried backup
// finds its copy rather than making another.
func valuesCopyName(release, sum string) string {
	return "upgrader-values-" + release + "-" + sum[:12]
}

// keepValuesCopy stores data (whose SHA-256 is sum) as release's values copy
// in namespace, unless it is there already. It returns the Secret's name.
func keepValuesCopy(ctx context.Context, cs kubernetes.Interface, namespace, release, sum string, data []byte) (string, error) {
	name := valuesCopyName(release, sum)
	immutable := true
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "upgrader", LabelValuesRelease: release},
			Annotations: map[string]string{annotationSHA256: sum}},
		Type:      valuesCopyType,
		Immutable: &immutable,
		Data:      map[string][]byte{valuesCopyKey: data},
	}
	_, err := cs.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// A retry of this backup, or the same values backed up by an
		// earlier run: the copy must hold these very bytes.
		if _, err := readValuesCopy(ctx, cs, namespace, release, sum); err != nil {
			return "", err
		}
		return name, nil
	}
	if err != nil {
		return "", fmt.Errorf("unable to keep a copy of %s's values in %s (Secret %s): %w", release, namespace, name, err)
	}
	return name, nil
}

// readValuesCopy reads release's values copy whose SHA-256 must be sum. It
// returns (nil, nil) when there is no such copy, and a non-retryable
// ErrBackupChanged when the copy holds other bytes.
func readValuesCopy(ctx context.Context, cs kubernetes.Interface, namespace, release, sum string) ([]byte, error) {
	name := valuesCopyName(release, sum)
	s, err := cs.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read the copy of %s's values in %s (Secret %s): %w", release, namespace, name, err)
	}
	data, ok := s.Data[valuesCopyKey]
	got := sha256.Sum256(data)
	if !ok || hex.EncodeToString(got[:]) != sum {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the copy of %s's values in %s (Secret %s) is not the backup its step recorded (sha256 %s, recorded %s); "+
				"check it by hand before anything is installed from it", release, namespace, name, hex.EncodeToString(got[:]), sum), ErrBackupChanged, nil)
	}
	return data, nil
}
