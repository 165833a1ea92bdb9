package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"upgrader/activities"
	"upgrader/internal/app"
	"upgrader/internal/secret"
	"upgrader/workflows/runbook"
)

const secretValue = "Zq8-demo-S3CRET-pw-7741"

// lab is one demo lab with its worker config, upgrade config and health server.
type lab struct {
	dir, artifacts, workerCfg, upgradeCfg string
}

func newLab(t *testing.T, env string, work int) *lab {
	t.Helper()
	return newLabOn(t, server.FrontendHostPort(), env, work)
}

// newLabOn is newLab with a worker config that reaches the Temporal
// frontend at address (the kill sweep runs its own server).
func newLabOn(t testing.TB, address, env string, work int) *lab {
	t.Helper()
	root := t.TempDir()
	l := &lab{dir: filepath.Join(root, "lab"), artifacts: filepath.Join(root, "artifacts")}
	for _, name := range []string{"base-service", "api-gateway", "hzero-gateway"} {
		b, _ := json.Marshal(activities.DemoRelease{Name: name, Version: "0.21", Values: map[string]string{"replicaCount": "1"}})
		writeFile(t, filepath.Join(l.dir, "releases", name+".json"), string(b))
	}
	health := serveHealth(t, l.dir, "0.22")
	l.workerCfg = writeFile(t, filepath.Join(root, "worker.yaml"), fmt.Sprintf(`
temporal:
  address: %s
artifactDir: %s
demo: true
secrets:
  demo-db-password:
    env: DEMO_DB_PASSWORD
`, address, l.artifacts))
	l.upgradeCfg = writeFile(t, filepath.Join(root, "demo.yaml"), fmt.Sprintf(`
guide: demo
environment: %s
from: "0.21"
to: "0.22"
labDir: %s
oldReleases: [base-service, api-gateway]
releases: [hzero-iam, hzero-gateway]
passwordRef: demo-db-password
healthURL: %s/{release}/actuator/health
work: %d
`, env, l.dir, health, work))
	return l
}

// serveHealth answers like the demo's services: UP once at the version.
func serveHealth(t testing.TB, labDir, version string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("/{release}/actuator/health", func(w http.ResponseWriter, r *http.Request) {
		var rel activities.DemoRelease
		b, err := os.ReadFile(filepath.Join(labDir, "releases", r.PathValue("release")+".json"))
		if err != nil || json.Unmarshal(b, &rel) != nil || rel.Version != version {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status":"DOWN"}`)
			return
		}
		fmt.Fprint(w, `{"status":"UP"}`)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String()
}

type journalLine struct{ step, attempt, event, detail string }

func readJournal(t testing.TB, artifacts string) []journalLine {
	t.Helper()
	var out []journalLine
	_ = filepath.Walk(artifacts, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.Name() != "journal.log" {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			f := strings.SplitN(line, "\t", 5)
			if len(f) == 5 {
				out = append(out, journalLine{f[1], f[2], f[3], f[4]})
			}
		}
		return nil
	})
	return out
}

func status(t testing.TB, id string) runbook.RunStatus {
	t.Helper()
	var st runbook.RunStatus
	v, err := temporalClient().QueryWorkflow(context.Background(), id, "", runbook.QueryStatus)
	if err != nil {
		return st
	}
	require.NoError(t, v.Get(&st))
	return st
}

// planLine is a row of plan or status: number, guide section (no slash),
// step name (verb/object).
var planLine = regexp.MustCompile(`(?m)^(\d+)\s+(?:[^\s/]+\s+)?(\S+/\S*)\s+`)

func planNames(out string) []string {
	var names []string
	for _, m := range planLine.FindAllStringSubmatch(out, -1) {
		names = append(names, m[2])
	}
	return names
}

func TestDemoUpgradeSurvivesAWorkerKillAndRunsNoStepTwice(t *testing.T) {
	l := newLab(t, "restart", 8)
	id := runbook.WorkflowID("demo", "restart")

	plan := mustStarter(t, l.workerCfg, "plan", "demo", "-c", l.upgradeCfg)
	names := planNames(plan)
	require.Equal(t, []string{"preflight/lab", "backup-values/base-service", "backup-values/api-gateway",
		"backup-values/hzero-iam", "backup-values/hzero-gateway", "approve/delete-old-releases",
		"delete-release/base-service", "delete-release/api-gateway", "upgrade/hzero-iam", "upgrade/hzero-gateway",
		"wait-up/hzero-iam", "wait-up/hzero-gateway", "verify/end-state"}, names)

	w := startWorker(t, l.workerCfg, "DEMO_DB_PASSWORD="+secretValue)
	out := mustStarter(t, l.workerCfg, "start", "demo", "-c", l.upgradeCfg)
	require.Contains(t, out, "started "+id)

	// One run per guide and environment.
	out, err := starter(t, l.workerCfg, "start", "demo", "-c", l.upgradeCfg)
	require.Error(t, err)
	require.Contains(t, out, "already running in environment restart")

	eventually(t, 30*time.Second, "the gate", func() bool {
		return status(t, id).State == runbook.RunWaitingApproval
	})
	st := status(t, id)
	require.Equal(t, "approve/delete-old-releases", st.CurrentStep)
	require.Equal(t, runbook.StepPending, st.Step("delete-release/base-service").State, "nothing destructive before approval")

	// A wrong answer is refused by the Update's validator, with a reason.
	out, err = starter(t, l.workerCfg, "approve", id, "delete-release/base-service", "--comment", "x")
	require.Error(t, err)
	require.Contains(t, out, "the run refused it")
	require.Contains(t, out, "is pending, not waiting for approval")

	// The person who started the run may not approve its destructive gate;
	// the refusal leaves nothing in the history. Another person may.
	out, err = starter(t, l.workerCfg, "approve", id, "approve/delete-old-releases", "--comment", "my own backups")
	require.Error(t, err)
	require.Contains(t, out, "tester (OS user, unverified) started this run and may not approve its destructive step approve/delete-old-releases")
	out = mustStarterAs(t, "reviewer", l.workerCfg, "approve", id, "approve/delete-old-releases", "--comment", "backups checked")
	require.Contains(t, out, "approve/delete-old-releases: approve by reviewer (OS user, unverified)")

	// Kill the worker in the middle of the long upgrade step, after it has
	// heartbeated some progress, and start a new one.
	eventually(t, 30*time.Second, "upgrade progress", func() bool {
		st := status(t, id)
		s := st.Step("upgrade/hzero-iam")
		return s != nil && s.State == runbook.StepRunning
	})
	time.Sleep(3 * time.Second) // three ticks heartbeated
	w.kill(t)
	startWorker(t, l.workerCfg, "DEMO_DB_PASSWORD="+secretValue)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var final runbook.RunStatus
	require.NoError(t, temporalClient().GetWorkflow(ctx, id, "").Get(ctx, &final))
	require.Equal(t, runbook.RunCompleted, final.State)

	// No finished step ran again; the interrupted one resumed from its heartbeat.
	done := map[string]int{}
	resumed := map[string]string{}
	for _, e := range readJournal(t, l.artifacts) {
		if e.event == "done" {
			done[e.step]++
		}
		if e.event == "resumed" {
			resumed[e.step] = e.detail
		}
	}
	for _, name := range names {
		if strings.HasPrefix(name, "approve/") || strings.HasPrefix(name, "wait-up/") {
			continue // no activity journal: a gate, and the generic HTTP wait
		}
		require.Equal(t, 1, done[name], "step %s finished %d times", name, done[name])
	}
	require.Contains(t, resumed, "upgrade/hzero-iam", "the interrupted upgrade resumed from its heartbeat")
	require.Regexp(t, `at tick [1-8] of 8`, resumed["upgrade/hzero-iam"])

	// The lab is in the end state.
	for _, name := range []string{"hzero-iam", "hzero-gateway"} {
		b, err := os.ReadFile(filepath.Join(l.dir, "releases", name+".json"))
		require.NoError(t, err)
		var rel activities.DemoRelease
		require.NoError(t, json.Unmarshal(b, &rel))
		require.Equal(t, "0.22", rel.Version)
		require.Equal(t, secretValue, rel.Values["datasource.password"], "the worker resolved the secret")
	}
	require.NoFileExists(t, filepath.Join(l.dir, "releases", "base-service.json"))

	// starter status shows the plan's step names, in the plan's order.
	out = mustStarter(t, l.workerCfg, "status", id)
	require.Equal(t, names, planNames(out))
	require.Contains(t, out, "approved by reviewer (OS user, unverified)")
	require.Contains(t, out, "started by tester (OS user, unverified)")
	require.Regexp(t, `decisions \(who, when, why\):\n  \S+ approve approve/delete-old-releases by reviewer \(OS user, unverified\): backups checked\n`, out)

	// The search attributes say where the run ended; list finds it.
	desc, err := temporalClient().DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	require.Contains(t, string(desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["UpgradeState"].GetData()), "completed")
	eventually(t, 10*time.Second, "the run in starter list", func() bool {
		out, _ := starter(t, l.workerCfg, "list", "--guide", "demo")
		return regexp.MustCompile(`upgrade/demo/restart\s+completed\s+completed`).MatchString(out)
	})

	assertNoSecrets(t, id, l.artifacts, 20, secretValue)
	assertUIShowsStepNames(t, id, names)

	// `temporal workflow show` without the codec shows only ciphertext:
	// the lab's folder, in every step's input, is nowhere.
	bin, err := app.TemporalBin()
	require.NoError(t, err)
	show, err := exec.Command(bin, "workflow", "show", "-w", id, "--address", server.FrontendHostPort(), "-o", "json").CombinedOutput()
	require.NoError(t, err, string(show))
	require.Contains(t, string(show), "YmluYXJ5L2VuY3J5cHRlZA==", "payloads say binary/encrypted (base64 in JSON)")
	require.Empty(t, secret.Find(string(show), l.dir), "the lab folder in some form")
}

// assertUIShowsStepNames checks what the Web UI lists for the run: every
// activity event carries a plan step's name as its ID (step#try) and as its
// summary, and every step that runs an activity appears.
func assertUIShowsStepNames(t *testing.T, id string, names []string) {
	t.Helper()
	plan := map[string]bool{}
	for _, n := range names {
		plan[n] = true
	}
	seen := map[string]bool{}
	it := temporalClient().GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		attrs := ev.GetActivityTaskScheduledEventAttributes()
		if attrs == nil {
			continue
		}
		step, _, _ := strings.Cut(attrs.GetActivityId(), "#")
		// The runbook's own activities: the run report at the end, and a
		// webhook post when a step waits for a person (named for that step).
		if step == "report" {
			continue
		}
		if n, ok := strings.CutPrefix(step, "notify/"); ok {
			n = n[:strings.LastIndex(n, "/")]
			require.True(t, plan[n], "notify activity %s names no plan step", attrs.GetActivityId())
			continue
		}
		require.True(t, plan[step], "activity %s is not a plan step", attrs.GetActivityId())
		var summary string
		require.NoError(t, payloadCodec.DataConverter().FromPayload(ev.GetUserMetadata().GetSummary(), &summary))
		require.Regexp(t, `^§\S+ `+regexp.QuoteMeta(step)+`$`, summary, "the summary is the step's guide section and name")
		seen[step] = true
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "approve/") {
			require.True(t, seen[n], "step %s never showed in the history", n)
		}
	}
}

func TestFailedStepIsAbortedThroughTheStarter(t *testing.T) {
	l := newLab(t, "abort", 1)
	require.NoError(t, os.RemoveAll(l.dir)) // the lab is gone: preflight fails
	id := runbook.WorkflowID("demo", "abort")
	startWorker(t, l.workerCfg, "DEMO_DB_PASSWORD="+secretValue)
	mustStarter(t, l.workerCfg, "start", "demo", "-c", l.upgradeCfg)

	eventually(t, 30*time.Second, "the failed preflight", func() bool {
		return status(t, id).State == runbook.RunFailedAwaiting
	})
	out := mustStarter(t, l.workerCfg, "status", id)
	require.Contains(t, out, "failed-awaiting-decision")
	require.Contains(t, out, "has no releases/ folder")
	require.Contains(t, out, "decide "+id+" preflight/lab retry")

	out, err := starter(t, l.workerCfg, "decide", id, "preflight/lab", "abort")
	require.Error(t, err)
	require.Contains(t, out, "abort needs a comment")
	mustStarter(t, l.workerCfg, "decide", id, "preflight/lab", "abort", "--comment", "lab missing")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = temporalClient().GetWorkflow(ctx, id, "").Get(ctx, nil)
	require.ErrorContains(t, err, "tester aborted the upgrade at step preflight/lab: lab missing")
	require.ErrorContains(t, err, "has no releases/ folder")
	require.Empty(t, readJournalSteps(t, l.artifacts, "backup-values/"), "nothing after the failed step ran")

	// The ID is free again once the run ended.
	require.NoError(t, os.MkdirAll(filepath.Join(l.dir, "releases"), 0o700))
	mustStarter(t, l.workerCfg, "start", "demo", "-c", l.upgradeCfg)
}

func readJournalSteps(t *testing.T, artifacts, prefix string) []string {
	var out []string
	for _, e := range readJournal(t, artifacts) {
		if strings.HasPrefix(e.step, prefix) {
			out = append(out, e.step)
		}
	}
	return out
}

// demoChaosSite is the kill sweep's demo site: the releases' final files
// are its facts (each changed once, to the same content).
func demoChaosSite(t testing.TB, address, env string) chaosSite {
	l := newLabOn(t, address, env, 2)
	return chaosSite{workerCfg: l.workerCfg, runCfg: l.upgradeCfg, workerEnv: []string{"DEMO_DB_PASSWORD=" + secretValue},
		facts: func(t testing.TB) map[string]int {
			facts := map[string]int{}
			files, _ := filepath.Glob(filepath.Join(l.dir, "releases", "*.json"))
			for _, f := range files {
				var rel activities.DemoRelease
				b, err := os.ReadFile(f)
				require.NoError(t, err)
				require.NoError(t, json.Unmarshal(b, &rel))
				facts["release "+rel.Name+" at "+rel.Version]++
			}
			for _, e := range readJournal(t, l.artifacts) {
				if e.event == "done" { // a retry after a lost worker repeats "started", never "done"
					facts["journal "+e.step+" done"]++
				}
			}
			return facts
		}}
}
