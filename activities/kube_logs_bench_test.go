package activities_test

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"upgrader/activities"
	"upgrader/tests/lab"
)

// BenchmarkFollowLogDetectionLatency is issue 14's detection latency for a
// log wait (follow-log/data-migration, knowledgebase's data fix): a pod
// prints the awaited line at a random moment 0–2 s after the wait starts;
// the latency is from that line to the step returning, through a real API
// server's log stream with the worker's default probe settings. Each op is
// detectionSamples samples; it reports their p50 and p95.
func BenchmarkFollowLogDetectionLatency(b *testing.B) {
	cp := lab.StartControlPlane(b)
	sim := lab.StartPodSim(b, cp)
	ns := "bench-logs"
	if _, err := kubeClient(b, cp.Kubeconfig).CoreV1().Namespaces().Create(context.Background(), namespace(ns), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	k := &activities.Kube{Clusters: map[string]activities.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}}, PollInterval: activities.DefaultPollInterval}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(k)
	rng := rand.New(rand.NewSource(1))
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N*detectionSamples; i++ {
		release, pod := fmt.Sprintf("migration-%d", i), fmt.Sprintf("migration-%d-x", i)
		sim.RunPod(lab.PodSpec{Namespace: ns, Name: pod, Labels: map[string]string{"choerodon.io/release": release}})
		sim.Log(ns, pod, "Started DataMigrationApplication")
		printed := make(chan time.Time, 1)
		time.AfterFunc(time.Duration(rng.Int63n(int64(2*time.Second))), func() {
			sim.Log(ns, pod, "修复完成，正常退出")
			printed <- time.Now()
		})
		if _, err := env.ExecuteActivity(k.FollowLog, activities.FollowLogInput{Cluster: "lab", Namespace: ns, Release: release,
			Success: "修复完成，正常退出", Failure: []string{"Exception"}}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(<-printed))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}
