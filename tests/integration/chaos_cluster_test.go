package integration_test

// On a production-shaped Temporal (issue 20, item 6): the real server
// v1.29.1 on PostgreSQL, 4 history shards, frontend, history, matching and
// worker as separate processes (internal/lab/temporal_cluster.go). One
// guide runs unkilled, then again while each service is restarted in turn
// (a rolling restart, as a Temporal upgrade does); the run must complete
// with no person and change the site exactly as the unkilled run did.
//
// `make chaos` runs it (UPGRADER_CHAOS=full); UPGRADER_CHAOS_CLUSTER=1 runs
// it alone. It needs `scripts/build-tools.sh temporal-server` and apt
// postgresql (scripts/install-test-deps.sh).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"upgrader/internal/app"
	ilab "upgrader/internal/lab"
	"upgrader/workflows/runbook"
)

func TestChaosRollingRestartOnACluster(t *testing.T) {
	if os.Getenv("UPGRADER_CHAOS") != "full" && os.Getenv("UPGRADER_CHAOS_CLUSTER") == "" {
		t.Skip("make chaos runs this (a production-shaped Temporal cluster on PostgreSQL); UPGRADER_CHAOS_CLUSTER=1 runs it alone")
	}
	l := ilab.New(t.TempDir())
	l.Logf, l.Failed = t.Logf, t.Failed
	t.Cleanup(l.Stop)
	began := time.Now()
	pg, err := ilab.StartPostgres(l)
	require.NoError(t, err)
	pgReady := time.Since(began)
	dyn := map[string]any{}
	for i := 0; i+1 < len(app.DevServerDynamicConfig()); i += 2 {
		k, v, _ := strings.Cut(app.DevServerDynamicConfig()[i+1], "=")
		dyn[k] = v
	}
	cluster, err := ilab.StartTemporalCluster(l, pg, dyn)
	require.NoError(t, err)
	c, err := client.Dial(client.Options{HostPort: cluster.Frontend, Logger: app.NewLogger("error", os.Stderr),
		DataConverter: payloadCodec.DataConverter(), FailureConverter: payloadCodec.FailureConverter()})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	registerDefaultNamespace(t, c)
	clusterReady := time.Since(began)
	at := &temporalAt{hostPort: cluster.Frontend, client: c}
	g := chaosGuide{"choerodon-0.8-0.9", c7n08ChaosSite}
	tag := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000)

	base := g.site(t, at.hostPort, "cbase"+tag)
	wb := startChaosWorker(t, base, "cbase")
	mustStarter(t, base.workerCfg, "start", g.guide, "-c", base.runCfg)
	baseSt := at.drive(t, base, runbook.WorkflowID(g.guide, "cbase"+tag), 10*time.Minute, nil)
	require.Equal(t, runbook.RunCompleted, baseSt.State, "%+v", baseSt)
	wb.kill(t)
	baseFacts := base.facts(t)
	steps := len(ranSteps(baseSt))

	site := g.site(t, at.hostPort, "croll"+tag)
	id := runbook.WorkflowID(g.guide, "croll"+tag)
	startChaosWorker(t, site, "croll")
	mustStarter(t, site.workerCfg, "start", g.guide, "-c", site.runCfg)
	next := 0
	restarts := map[string]time.Duration{}
	st := at.drive(t, site, id, 15*time.Minute, func(st runbook.RunStatus) {
		if next >= len(ilab.TemporalServices) {
			return
		}
		done := 0
		for _, s := range st.Steps {
			if s.State == runbook.StepDone || s.State == runbook.StepSkipped {
				done++
			}
		}
		// Spread the restarts over the run: service i once i+1 fifths are done.
		if done*(len(ilab.TemporalServices)+1) < (next+1)*steps {
			return
		}
		svc := ilab.TemporalServices[next]
		t0 := time.Now()
		require.NoError(t, cluster.Restart(context.Background(), svc))
		restarts[svc] = time.Since(t0)
		t.Logf("restarted %s after %d of %d steps in %s", svc, done, steps, restarts[svc].Round(10*time.Millisecond))
		next++
	})
	require.Equal(t, runbook.RunCompleted, st.State, "the run needed a person: %+v", st)
	require.Equal(t, len(ilab.TemporalServices), next, "every service was restarted during the run")
	for _, s := range st.Steps {
		require.Empty(t, s.Decisions, "%s: nobody decides anything", s.Name)
	}
	require.Equal(t, baseFacts, site.facts(t), "the run through a rolling restart changed the site differently")
	backups := checkBackups(t, at, id, site.hostRoot)

	var rs []string
	for _, s := range ilab.TemporalServices {
		rs = append(rs, fmt.Sprintf("%s %.1f s", s, restarts[s].Seconds()))
	}
	fmt.Printf("\nProduction-shaped Temporal %s (PostgreSQL, %d history shards, %d services as processes):\n"+
		"| PostgreSQL ready | cluster ready (schema, 4 processes, namespace) | %s unkilled | through a rolling restart | restarts (stop → listening) | backups verified |\n"+
		"|---|---|---|---|---|---|\n| %.1f s | %.1f s | %.1f s | %.1f s | %s | %d |\n\n",
		ilab.TemporalServerVersion, cluster.Shards, len(ilab.TemporalServices), g.guide,
		pgReady.Seconds(), clusterReady.Seconds(), wallTime(baseSt).Seconds(), wallTime(st).Seconds(), strings.Join(rs, ", "), backups)
}

// registerDefaultNamespace registers "default" with upgrader's search
// attributes on a fresh cluster (the dev server does both itself), and
// waits until the frontend serves it.
func registerDefaultNamespace(t *testing.T, c client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: "default", WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
		if err == nil || strings.Contains(err.Error(), "already") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("registering namespace default: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	attrs := map[string]enumspb.IndexedValueType{}
	for _, k := range runbook.SearchAttributeKeys() {
		attrs[k.GetName()] = k.GetValueType()
	}
	for {
		_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: "default", SearchAttributes: attrs})
		if err == nil || strings.Contains(err.Error(), "already") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("adding search attributes: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The frontend's namespace cache refreshes every few seconds.
	for {
		_, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: "UpgradeGuide = 'none'"})
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("namespace default never served: %v", errors.Join(err, ctx.Err()))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
