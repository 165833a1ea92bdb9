package activities_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"upgrader/activities"
	"upgrader/tests/lab"
)

// The guide's C7NHelmRelease CRD, as apiextensions.k8s.io/v1 (the guide's
// v1beta1 is no longer served; see the next test).
const c7nCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: c7nhelmreleases.choerodon.io
spec:
  group: choerodon.io
  names: {kind: C7NHelmRelease, listKind: C7NHelmReleaseList, plural: c7nhelmreleases, singular: c7nhelmrelease}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: v1
kind: Namespace
metadata: {name: choerodon-devops-prod}
`

const guideV1beta1CRD = `apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata:
  name: c7nhelmreleases.choerodon.io
spec:
  group: choerodon.io
  names: {kind: C7NHelmRelease, listKind: C7NHelmReleaseList, plural: c7nhelmreleases, singular: c7nhelmrelease}
  scope: Namespaced
  version: v1alpha1
`

func TestKubeApplyCRDAndJobsAgainstARealAPIServer(t *testing.T) {
	cp := lab.StartControlPlane(t)
	k := &activities.Kube{Clusters: map[string]activities.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}}, PollInterval: 100 * time.Millisecond}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(k)

	// The CRD from a file on the worker, the namespace from a URL.
	crdFile := filepath.Join(t.TempDir(), "C7NHelmRelease.yaml")
	parts := strings.SplitN(c7nCRD, "---\n", 2)
	require.NoError(t, os.WriteFile(crdFile, []byte(parts[0]), 0o600))
	nsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, parts[1]) }))
	defer nsSrv.Close()
	for i := 0; i < 2; i++ { // server-side apply is idempotent
		val, err := env.ExecuteActivity(k.Apply, activities.KubeApplyInput{Cluster: "lab", Files: []string{crdFile}, URLs: []string{nsSrv.URL + "/ns.yaml"}})
		require.NoError(t, err)
		var res activities.KubeApplyResult
		require.NoError(t, val.Get(&res))
		require.Equal(t, []string{"customresourcedefinition/c7nhelmreleases.choerodon.io", "namespace/choerodon-devops-prod"}, res.Objects)
	}
	_, err := env.ExecuteActivity(k.WaitCRDsEstablished, activities.WaitCRDInput{Cluster: "lab", Names: []string{"c7nhelmreleases.choerodon.io"}})
	require.NoError(t, err)
	val, err := env.ExecuteActivity(k.Apply, activities.KubeApplyInput{Cluster: "lab", Namespace: "choerodon-devops-prod", Manifests: `
apiVersion: choerodon.io/v1alpha1
kind: C7NHelmRelease
metadata: {name: devops-app}
spec: {chartName: devops-app, chartVersion: 0.9.0}
`})
	require.NoError(t, err)
	var res activities.KubeApplyResult
	require.NoError(t, val.Get(&res))
	require.Equal(t, []string{"c7nhelmrelease/choerodon-devops-prod/devops-app"}, res.Objects)

	_, err = env.ExecuteActivity(k.Apply, activities.KubeApplyInput{Cluster: "lab", Manifests: guideV1beta1CRD})
	app := appErr(t, err)
	require.Equal(t, activities.ErrAPINotServed, app.Type())
	require.Contains(t, app.Message(), "convert the CRD to apiextensions.k8s.io/v1")

	// Jobs: no job controller runs in the lab, so the test writes the status
	// the controller would (completion, then a failure).
	kc := kubeClient(t, cp.Kubeconfig)
	ns := "skoala-system"
	_, err = kc.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		cond batchv1.JobConditionType
	}{{"skoala-db-upgrade", batchv1.JobComplete}, {"skoala-db-broken", batchv1.JobFailed}} {
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: ns}, Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "sweet", Image: "release.daocloud.io/skoala/sweet:v0.19.0"}}}}}}
		_, err := kc.BatchV1().Jobs(ns).Create(context.Background(), job, metav1.CreateOptions{})
		require.NoError(t, err)
		go func(name string, cond batchv1.JobConditionType) {
			time.Sleep(500 * time.Millisecond)
			j, err := kc.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return
			}
			now := metav1.Now()
			j.Status.StartTime = &now
			if cond == batchv1.JobComplete {
				j.Status.CompletionTime = &now
				j.Status.Succeeded = 1
				j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now})
			} else {
				j.Status.Failed = 1
				j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now})
			}
			j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: cond, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now})
			if _, err := kc.BatchV1().Jobs(ns).UpdateStatus(context.Background(), j, metav1.UpdateOptions{}); err != nil {
				t.Errorf("update job status: %v", err)
			}
		}(c.name, c.cond)
	}
	_, err = env.ExecuteActivity(k.WaitJob, activities.WaitJobInput{Cluster: "lab", Namespace: ns, Name: "skoala-db-upgrade"})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(k.WaitJob, activities.WaitJobInput{Cluster: "lab", Namespace: ns, Name: "skoala-db-broken"})
	app = appErr(t, err)
	require.Equal(t, activities.ErrJobFailed, app.Type())
	require.Contains(t, app.Message(), "BackoffLimitExceeded")
}
