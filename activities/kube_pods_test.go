package activities_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"upgrader/activities"
	"upgrader/tests/lab"
)

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func healthHandler(up *atomic.Bool, version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/actuator/health" {
			http.NotFound(w, r)
			return
		}
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status":"DOWN"}`)
			return
		}
		fmt.Fprintf(w, `{"status":"UP","version":%q}`, version)
	})
}

func TestWaitUpAndFollowLogOnSimulatedPods(t *testing.T) {
	cp := lab.StartControlPlane(t)
	sim := lab.StartPodSim(t, cp)
	kc := kubeClient(t, cp.Kubeconfig)
	ns := "c7n-system"
	_, err := kc.CoreV1().Namespaces().Create(context.Background(), namespace(ns), metav1.CreateOptions{})
	require.NoError(t, err)
	k := &activities.Kube{Clusters: map[string]activities.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}}, PollInterval: 100 * time.Millisecond}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(k)
	labels := map[string]string{"choerodon.io/release": "hzero-iam"}
	expectUP := activities.WaitHTTPInput{JSONField: "status", Equals: "UP"}

	t.Run("wait until UP by pod IP", func(t *testing.T) {
		var up atomic.Bool
		sim.RunPod(lab.PodSpec{Namespace: ns, Name: "hzero-iam-old-1", Labels: labels, OwnerReplicaSet: "hzero-iam-old",
			Handlers: map[int]http.Handler{8031: healthHandler(&up, "0.21")}})
		time.AfterFunc(time.Second, func() { up.Store(true) })
		val, err := env.ExecuteActivity(k.WaitUp, activities.WaitUpInput{Cluster: "lab", Namespace: ns, Release: "hzero-iam",
			Port: 8031, Path: "/actuator/health", Expect: expectUP})
		require.NoError(t, err)
		var res activities.WaitHTTPResult
		require.NoError(t, val.Get(&res))
		require.Greater(t, res.Probes, 1, "it waited while the pod said DOWN")
		require.Contains(t, res.Summary, `"status":"UP"`)
	})

	t.Run("the newest ReplicaSet's pod answers, not an old one", func(t *testing.T) {
		time.Sleep(1100 * time.Millisecond) // creation times have 1 s resolution
		var up atomic.Bool
		up.Store(true)
		sim.RunPod(lab.PodSpec{Namespace: ns, Name: "hzero-iam-new-1", Labels: labels, OwnerReplicaSet: "hzero-iam-new",
			Handlers: map[int]http.Handler{8031: healthHandler(&up, "0.22")}})
		val, err := env.ExecuteActivity(k.WaitUp, activities.WaitUpInput{Cluster: "lab", Namespace: ns, Release: "hzero-iam",
			Port: 8031, Path: "/actuator/health", Expect: activities.WaitHTTPInput{JSONField: "status", Equals: "UP", BodyContains: `"0.22"`}})
		require.NoError(t, err)
		var res activities.WaitHTTPResult
		require.NoError(t, val.Get(&res))
		require.Contains(t, res.Summary, "pod hzero-iam-new-1")
	})

	t.Run("the API server's pod proxy refuses loopback pod IPs", func(t *testing.T) {
		// The lab's pods have loopback IPs, which kube-apiserver will not
		// proxy to (not global unicast); the probe says so instead of hanging.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		env.SetWorkerOptions(testsuiteWorkerOptions(ctx))
		defer env.SetWorkerOptions(testsuiteWorkerOptions(context.Background()))
		_, err := env.ExecuteActivity(k.WaitUp, activities.WaitUpInput{Cluster: "lab", Namespace: ns, Release: "hzero-iam", Via: activities.ViaProxy,
			Port: 8031, Path: "/actuator/health", Expect: expectUP})
		require.Error(t, err)
		require.Contains(t, err.Error(), "(proxy)")
	})

	t.Run("wait until UP through the API server's pod proxy", func(t *testing.T) {
		// A kubeconfig is all the worker needs: the API server reaches the pod
		// (on a netns test host, so its IP is one the proxy accepts).
		var up atomic.Bool
		up.Store(true)
		sim.RunPod(lab.PodSpec{Namespace: ns, Name: "hzero-admin-1", Labels: map[string]string{"choerodon.io/release": "hzero-admin"},
			Host: lab.NewNetnsHost(t), Handlers: map[int]http.Handler{8061: healthHandler(&up, "0.22")}})
		val, err := env.ExecuteActivity(k.WaitUp, activities.WaitUpInput{Cluster: "lab", Namespace: ns, Release: "hzero-admin", Via: activities.ViaProxy,
			Port: 8061, Path: "/actuator/health", Expect: expectUP})
		require.NoError(t, err)
		var res activities.WaitHTTPResult
		require.NoError(t, val.Get(&res))
		require.Contains(t, res.Summary, "pod hzero-admin-1 (proxy): HTTP 200")
	})

	t.Run("follow the migration log across a pod restart until the success line", func(t *testing.T) {
		mig := map[string]string{"choerodon.io/release": "data-migration"}
		sim.RunPod(lab.PodSpec{Namespace: ns, Name: "data-migration-a", Labels: mig})
		sim.Log(ns, "data-migration-a", "Started DataMigrationApplication", "migrating emailConfig 10%")
		go func() {
			time.Sleep(700 * time.Millisecond)
			sim.Log(ns, "data-migration-a", "OOMKilled")
			sim.EndLogs(ns, "data-migration-a") // the container dies...
			time.Sleep(1100 * time.Millisecond)
			sim.RunPod(lab.PodSpec{Namespace: ns, Name: "data-migration-b", Labels: mig}) // ...and comes back
			sim.Log(ns, "data-migration-b", "Started DataMigrationApplication", "WARN Exception while probing redis, retrying", "修复完成，正常退出")
		}()
		val, err := env.ExecuteActivity(k.FollowLog, activities.FollowLogInput{Cluster: "lab", Namespace: ns, Release: "data-migration",
			Success: "修复完成，正常退出", Failure: []string{"Exception", "ERROR"}, Ignore: []string{"^WARN "}})
		require.NoError(t, err)
		var res activities.FollowLogResult
		require.NoError(t, val.Get(&res))
		require.Equal(t, "data-migration-b", res.Pod)
		require.Equal(t, "修复完成，正常退出", res.Match)
		require.Equal(t, 6, res.Read)
	})

	t.Run("an exception line stops the upgrade", func(t *testing.T) {
		kb := map[string]string{"choerodon.io/release": "knowledgebase-service"}
		sim.RunPod(lab.PodSpec{Namespace: ns, Name: "kb-1", Labels: kb})
		sim.Log(ns, "kb-1", "fixing data", "java.lang.IllegalStateException: page 42 has no space")
		_, err := env.ExecuteActivity(k.FollowLog, activities.FollowLogInput{Cluster: "lab", Namespace: ns, Release: "knowledgebase-service",
			Success: "Data Fix Succeed!!! FINISHED!!!", Failure: []string{"Exception"}})
		app := appErr(t, err)
		require.Equal(t, activities.ErrLogFailure, app.Type())
		require.True(t, app.NonRetryable())
		require.Contains(t, app.Message(), "java.lang.IllegalStateException: page 42 has no space")
	})

	t.Run("a failed job reports its pod's last log lines", func(t *testing.T) {
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "create-c7nfw-db", Namespace: ns}, Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "mysql-client", Image: "c7n/mysql-client:0.1.0"}}}}}}
		created, err := kc.BatchV1().Jobs(ns).Create(context.Background(), job, metav1.CreateOptions{})
		require.NoError(t, err)
		sim.RunPod(lab.PodSpec{Namespace: ns, Name: "create-c7nfw-db-x1", Labels: map[string]string{"job-name": "create-c7nfw-db"}})
		sim.Log(ns, "create-c7nfw-db-x1", "connecting to c7n-mysql.c7n-system.svc:3306", "ERROR 1045 (28000): Access denied for user 'root'")
		now := metav1.Now()
		created.Status.StartTime = &now
		created.Status.Failed = 1
		created.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now}}
		_, err = kc.BatchV1().Jobs(ns).UpdateStatus(context.Background(), created, metav1.UpdateOptions{})
		require.NoError(t, err)
		_, err = env.ExecuteActivity(k.WaitJob, activities.WaitJobInput{Cluster: "lab", Namespace: ns, Name: "create-c7nfw-db"})
		app := appErr(t, err)
		require.Equal(t, activities.ErrJobFailed, app.Type())
		require.Contains(t, app.Message(), "Access denied for user 'root'")
	})

	t.Run("a new try resumes where the last heartbeat was, reading no line twice", func(t *testing.T) {
		dv := map[string]string{"choerodon.io/release": "devops-service"}
		sim.RunPod(lab.PodSpec{Namespace: ns, Name: "devops-1", Labels: dv})
		sim.Log(ns, "devops-1", "Check 1", "Check 2", "Check 3")
		// First try: reads the three lines, heartbeats, and its worker dies.
		var beats []activities.FollowLogProgress
		env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
			var p activities.FollowLogProgress
			if details.HasValues() && details.Get(&p) == nil {
				beats = append(beats, p)
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		env.SetWorkerOptions(testsuiteWorkerOptions(ctx))
		_, err := env.ExecuteActivity(k.FollowLog, activities.FollowLogInput{Cluster: "lab", Namespace: ns, Release: "devops-service", Success: "修复数据完成"})
		cancel()
		require.Error(t, err)
		require.NotEmpty(t, beats)
		last := beats[len(beats)-1]
		require.Equal(t, 3, last.Lines)

		// Second try, on a new worker, from the heartbeat.
		sim.Log(ns, "devops-1", "Check 4", "修复数据完成")
		env.SetWorkerOptions(testsuiteWorkerOptions(context.Background()))
		env.SetHeartbeatDetails(last)
		val, err := env.ExecuteActivity(k.FollowLog, activities.FollowLogInput{Cluster: "lab", Namespace: ns, Release: "devops-service", Success: "修复数据完成"})
		require.NoError(t, err)
		var res activities.FollowLogResult
		require.NoError(t, val.Get(&res))
		require.Equal(t, 2, res.Read, "only Check 4 and the success line are new")
		require.Equal(t, []string{"Check 4", "修复数据完成"}, res.Excerpt)
	})
}
