package integration_test

// The kill sweep (issue 20): every guide that exists on the lab, run once
// without kills and once with the worker SIGKILLed at its steps in turn —
// while a step runs and right after it completes — and the Temporal server
// SIGKILLed and restarted mid-run. Gates are approved as an operator
// would (starter approve); nothing else is answered, so a run that needs a
// person fails the sweep. After the run: the same facts as the unkilled run
// (Helm revisions per release, API calls, SQL writes, host commands: each
// guide's site says which), every backup's file matches its recorded
// SHA-256, and no process a killed worker started outlived it.
//
// `make test` runs a seeded sample (a few kills per guide); `make chaos`
// sets UPGRADER_CHAOS=full and kills at every step. UPGRADER_CHAOS_SEED
// picks another sample, UPGRADER_CHAOS_GUIDES=a,b runs only those guides.
//
// A guide plugs in with a function next to its e2e test that builds its lab
// site against a given Temporal address (chaosGuides below).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"

	"upgrader/activities"
	"upgrader/internal/app"
	"upgrader/workflows/runbook"
)

// chaosSite is one guide's lab site, ready to run: the worker config (it
// reaches the sweep's Temporal server), the upgrade config, extra worker
// environment, and the facts a run leaves that must not depend on kills.
type chaosSite struct {
	workerCfg, runCfg string
	workerEnv         []string
	facts             func(t testing.TB) map[string]int
	// repeatable names the facts of calls the guide's workflow declares
	// safe to repeat (an upsert, a read-only check): a kill between the
	// call and its step's recorded end may make it again, so the killed run
	// passes with at least the unkilled run's count. Every other fact must
	// equal the unkilled run's.
	repeatable []string
	// hostRoot is where a host's files are on this machine (its / is
	// there), for the backups steps wrote on hosts over SSH; nil when the
	// guide's steps write none.
	hostRoot func(host string) string
}

// chaosGuide builds a fresh site for one environment of a guide.
type chaosGuide struct {
	guide string
	site  func(t testing.TB, address, env string) chaosSite
}

// chaosGuides is every guide the sweep runs; a new guide adds a line here
// and its site function beside its e2e test.
var chaosGuides = []chaosGuide{
	{"demo", demoChaosSite},
	{"choerodon-0.21-0.22", c7n021ChaosSite},
	{"choerodon-0.8-0.9", c7n08ChaosSite},
	{"dce5-skoala", skoalaChaosSite},
	{"blueking-6.1-6.2", bkChaosSite},
	{"wecube-4.0.0", wecubeChaosSite},
}

func TestChaosKillSweep(t *testing.T) {
	full := os.Getenv("UPGRADER_CHAOS") == "full"
	seed := uint64(20)
	if s := os.Getenv("UPGRADER_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "UPGRADER_CHAOS_SEED")
		seed = n
	}
	only := map[string]bool{}
	guides := os.Getenv("UPGRADER_CHAOS_GUIDES")
	for _, g := range strings.Split(guides, ",") {
		if g != "" {
			only[g] = true
		}
	}
	srv := startChaosServer(t)
	var tables []string
	for i, g := range chaosGuides {
		if len(only) > 0 && !only[g.guide] {
			continue
		}
		t.Run(g.guide, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			tables = append(tables, sweepGuide(t, srv, g, full, rng))
		})
	}
	mode := fmt.Sprintf("sample (seed %d)", seed)
	if full {
		mode = "full"
	}
	mode += ", heartbeat timeouts capped at " + chaosHeartbeat()
	fmt.Printf("\nKill sweep, %s:\n\n| guide | steps | worker kills (during / after a step) | server kills | time lost per kill, median / max | wall, unkilled → killed |\n|---|---|---|---|---|---|\n%s\n",
		mode, strings.Join(tables, ""))
}

// killPoint is one planned kill: the worker while step runs (during) or
// right after it completed, or the Temporal server while step runs.
type killPoint struct {
	step   string
	during bool
	server bool
}

func (p killPoint) String() string {
	switch {
	case p.server:
		return "server during " + p.step
	case p.during:
		return "worker during " + p.step
	}
	return "worker after " + p.step
}

// landed is a kill that happened: when, and what it cost.
type landed struct {
	killPoint
	at   time.Time
	lost time.Duration
}

func sweepGuide(t *testing.T, srv *chaosServer, g chaosGuide, full bool, rng *rand.Rand) string {
	tag := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000)

	// The unkilled run: its wall time, step times and facts are the
	// reference. Its lab is gone (subtest cleanup) before the killed run's starts.
	var baseSt runbook.RunStatus
	var baseFacts map[string]int
	if !t.Run("unkilled", func(t *testing.T) {
		base := g.site(t, srv.hostPort, "base"+tag)
		baseID := runbook.WorkflowID(g.guide, "base"+tag)
		wb := startChaosWorker(t, base, "base")
		mustStarter(t, base.workerCfg, "start", g.guide, "-c", base.runCfg)
		baseSt = srv.drive(t, base, baseID, 10*time.Minute, nil)
		require.Equal(t, runbook.RunCompleted, baseSt.State, "the unkilled run: %+v", baseSt)
		wb.kill(t)
		baseFacts = base.facts(t)
	}) {
		t.FailNow()
	}
	baseWall := wallTime(baseSt)

	// The kill plan: every step in the order the unkilled run ran them;
	// during-kills only where the step took long enough to be caught.
	steps := ranSteps(baseSt)
	var plan []killPoint
	for _, s := range steps {
		if s.Kind == runbook.KindGate {
			continue
		}
		if s.EndedAt.Sub(s.StartedAt) >= time.Second {
			plan = append(plan, killPoint{step: s.Name, during: true})
		}
		plan = append(plan, killPoint{step: s.Name})
	}
	if !full {
		rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
		plan = plan[:min(3, len(plan))]
		order := map[string]int{}
		for i, s := range steps {
			order[s.Name] = i
		}
		sort.SliceStable(plan, func(i, j int) bool { return order[plan[i].step] < order[plan[j].step] })
	}
	// The server dies once, in the middle of the slowest step (not a gate)
	// of the middle third.
	var mid []runbook.StepStatus
	for _, s := range steps[len(steps)/3 : 2*len(steps)/3] {
		if s.Kind != runbook.KindGate {
			mid = append(mid, s)
		}
	}
	slowest := slices.MaxFunc(mid, func(a, b runbook.StepStatus) int {
		return int(a.EndedAt.Sub(a.StartedAt) - b.EndedAt.Sub(b.StartedAt))
	})
	serverAt := killPoint{step: slowest.Name, during: true, server: true}
	idx := slices.IndexFunc(plan, func(p killPoint) bool {
		return slices.IndexFunc(steps, func(s runbook.StepStatus) bool { return s.Name == p.step }) >=
			slices.IndexFunc(steps, func(s runbook.StepStatus) bool { return s.Name == slowest.Name })
	})
	if idx < 0 {
		idx = len(plan)
	}
	plan = slices.Insert(plan, idx, serverAt)
	t.Logf("%s: %d steps, %d kills planned", g.guide, len(steps), len(plan))

	// The killed run.
	site := g.site(t, srv.hostPort, "kill"+tag)
	id := runbook.WorkflowID(g.guide, "kill"+tag)
	w := startChaosWorker(t, site, "w0")
	var (
		kills   []landed
		orphans []string
		mu      sync.Mutex
		wg      sync.WaitGroup
		n       int
	)
	killWorker := func(p killPoint) {
		n++
		old := w
		old.kill(t)
		kills = append(kills, landed{killPoint: p, at: time.Now()})
		w = startChaosWorker(t, site, fmt.Sprintf("w%d", n))
		wg.Add(1)
		go func() { // nothing the dead worker started may be alive 1 s later
			defer wg.Done()
			time.Sleep(time.Second)
			if left := processesTagged(old.tag); len(left) > 0 {
				mu.Lock()
				orphans = append(orphans, fmt.Sprintf("%s: %v", p, left))
				mu.Unlock()
			}
		}()
	}
	mustStarter(t, site.workerCfg, "start", g.guide, "-c", site.runCfg)
	next := 0
	st := srv.drive(t, site, id, 40*time.Minute, func(st runbook.RunStatus) {
		if next >= len(plan) {
			return
		}
		p := plan[next]
		s := st.Step(p.step)
		if s == nil {
			return
		}
		switch {
		case p.during && s.State == runbook.StepRunning:
			if p.server {
				srv.kill(t)
				kills = append(kills, landed{killPoint: p, at: time.Now()})
				srv.start(t)
			} else {
				killWorker(p)
			}
		case p.during && s.State != runbook.StepPending && s.State != runbook.StepWaitingApproval:
			t.Logf("%s: the step ended before the kill could land; not counted", p)
		case !p.during && (s.State == runbook.StepDone || s.State == runbook.StepSkipped):
			killWorker(p)
		default:
			return
		}
		next++
	})
	wg.Wait()
	for _, k := range kills { // named before any assertion, so a failing sweep says where it killed
		t.Logf("killed: %s at %s", k.killPoint, k.at.UTC().Format("15:04:05.000"))
	}
	require.Equal(t, runbook.RunCompleted, st.State, "the killed run needed a person: %+v", st)
	for _, s := range st.Steps {
		require.Empty(t, s.Decisions, "%s: nobody decides anything in the sweep", s.Name)
	}

	// Invariants.
	require.Empty(t, orphans, "processes started by a killed worker outlived it")
	if facts := site.facts(t); !assertEqualFacts(t, baseFacts, repeatedOnce(t, site.repeatable, baseFacts, facts)) {
		for _, s := range st.Steps { // each try of each step, for the facts that differ
			if len(s.Tries) > 1 || s.WorkerLost > 0 {
				t.Logf("tries of %s (worker lost %d): %+v", s.Name, s.WorkerLost, s.Tries)
			}
		}
		t.FailNow()
	}
	backups := checkBackups(t, &srv.temporalAt, id, site.hostRoot)
	wall := wallTime(st)
	lostTries := 0
	for _, s := range st.Steps {
		lostTries += s.WorkerLost
	}
	if g.guide == "demo" {
		recordHistoryFrom(t, srv.client, id, "demo-killed-history.json")
	}

	// What each kill cost: the step it hit took longer than in the unkilled
	// run by this much (during), or the next step started this much later
	// than it did there (after).
	var lost []time.Duration
	for i := range kills {
		kills[i].lost = killCost(kills[i], baseSt, st)
		lost = append(lost, kills[i].lost)
		t.Logf("%-60s lost %s", kills[i].killPoint, kills[i].lost.Round(100*time.Millisecond))
	}
	slices.Sort(lost)
	var during, after, server int
	for _, k := range kills {
		switch {
		case k.server:
			server++
		case k.during:
			during++
		default:
			after++
		}
	}
	var med, max time.Duration
	if len(lost) > 0 {
		med, max = lost[len(lost)/2], lost[len(lost)-1]
	}
	t.Logf("%s: %d kills, %d new tries after a lost worker, %d backups verified, wall %s → %s", g.guide, len(kills), lostTries, backups,
		baseWall.Round(100*time.Millisecond), wall.Round(100*time.Millisecond))
	return fmt.Sprintf("| %s | %d | %d (%d / %d) | %d | %.1f s / %.1f s | %.1f s → %.1f s (%.1f×) |\n",
		g.guide, len(steps), during+after, during, after, server, med.Seconds(), max.Seconds(),
		baseWall.Seconds(), wall.Seconds(), wall.Seconds()/baseWall.Seconds())
}

// ranSteps are the steps a finished run ran, in the order they started.
func ranSteps(st runbook.RunStatus) []runbook.StepStatus {
	var out []runbook.StepStatus
	for _, s := range st.Steps {
		if !s.StartedAt.IsZero() && !s.EndedAt.IsZero() {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}

func wallTime(st runbook.RunStatus) time.Duration {
	steps := ranSteps(st)
	if len(steps) == 0 {
		return 0
	}
	end := steps[0].EndedAt
	for _, s := range steps {
		if s.EndedAt.After(end) {
			end = s.EndedAt
		}
	}
	return end.Sub(steps[0].StartedAt)
}

func killCost(k landed, base, killed runbook.RunStatus) time.Duration {
	dur := func(st runbook.RunStatus, name string) time.Duration {
		s := st.Step(name)
		if s == nil {
			return 0
		}
		return s.EndedAt.Sub(s.StartedAt)
	}
	if k.during {
		return max(0, dur(killed, k.step)-dur(base, k.step))
	}
	// After: the step that was running when the kill landed took longer,
	// or the first one to start after it started later.
	for _, s := range ranSteps(killed) {
		if s.Name == k.step {
			continue
		}
		if s.StartedAt.Before(k.at) && s.EndedAt.After(k.at) && s.Kind != runbook.KindGate {
			return max(0, dur(killed, s.Name)-dur(base, s.Name))
		}
		if !s.StartedAt.Before(k.at) {
			prev, prevBase := killed.Step(k.step), base.Step(k.step)
			b := base.Step(s.Name)
			gapBase := time.Duration(0)
			if b != nil && b.StartedAt.After(prevBase.EndedAt) {
				gapBase = b.StartedAt.Sub(prevBase.EndedAt)
			}
			return max(0, s.StartedAt.Sub(prev.EndedAt)-gapBase)
		}
	}
	return 0
}

// checkBackups re-hashes every file a step of the run recorded with a
// SHA-256 (dump outputs, values backups) and returns how many it checked.
// A step that ran on a host over SSH (its input's "via") recorded a path on
// that host: hostRoot (nil: no host holds files) says where that host's
// files are on this machine. A recorded folder (a mongodump) is checked by
// its manifest, as activities/backup_verify.go's backupDigest does.
func checkBackups(t *testing.T, srv *temporalAt, id string, hostRoot func(host string) string) int {
	t.Helper()
	ctx := context.Background()
	dc := payloadCodec.DataConverter()
	n := 0
	// A long run continues as new (runbook.DefaultHistoryLimit): its
	// backups are in the histories of the runs before the last; each run's
	// first event names the one it continued.
	for runID, runs := "", 0; ; runs++ {
		require.Less(t, runs, 100, "%s: more than 100 runs continued as new", id)
		it := srv.client.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		via := map[int64]string{} // scheduled event → the host its input runs on
		prev := ""
		for it.HasNext() {
			e, err := it.Next()
			require.NoError(t, err)
			if s := e.GetWorkflowExecutionStartedEventAttributes(); s != nil {
				prev = s.GetContinuedExecutionRunId()
				continue
			}
			if s := e.GetActivityTaskScheduledEventAttributes(); s != nil {
				for _, p := range s.GetInput().GetPayloads() {
					var in struct {
						Via *struct {
							Name string `json:"name"`
						} `json:"via"`
					}
					if dc.FromPayload(p, &in) == nil && in.Via != nil {
						via[e.GetEventId()] = in.Via.Name
					}
				}
				continue
			}
			a := e.GetActivityTaskCompletedEventAttributes()
			if a == nil {
				continue
			}
			host := via[a.GetScheduledEventId()]
			for _, p := range a.GetResult().GetPayloads() {
				var v any
				if dc.FromPayload(p, &v) != nil {
					continue
				}
				for path, sum := range hashedFiles(v) {
					local := path
					if host != "" {
						require.NotNil(t, hostRoot, "%s was recorded on host %s, and the sweep does not know where its files are", path, host)
						root := hostRoot(host)
						require.NotEmpty(t, root, "%s was recorded on host %s, and the sweep does not know where its files are", path, host)
						local = filepath.Join(root, path)
					}
					got, err := digest(local)
					require.NoError(t, err, "a recorded backup is gone (%s on %s)", path, or(host, "the worker"))
					require.Equal(t, sum, got, "%s on %s no longer matches its recorded SHA-256", path, or(host, "the worker"))
					n++
				}
			}
		}
		if prev == "" {
			return n
		}
		runID = prev
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// digest is a file's SHA-256, or a folder's manifest's: `sha256sum` of
// every file in it, sorted by path, hashed again.
func digest(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	sum := func(p string) (string, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		h := sha256.Sum256(b)
		return hex.EncodeToString(h[:]), nil
	}
	if !st.IsDir() {
		return sum(path)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(path, p)
			files = append(files, "./"+filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		s, err := sum(filepath.Join(path, filepath.FromSlash(f)))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s  %s\n", s, f)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashedFiles finds every {"path": …, "sha256": …} in a decoded result.
func hashedFiles(v any) map[string]string {
	out := map[string]string{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			p, _ := x["path"].(string)
			s, _ := x["sha256"].(string)
			if p == "" {
				p, _ = x["Path"].(string)
			}
			if s == "" {
				s, _ = x["SHA256"].(string)
			}
			if p != "" && len(s) == 64 {
				out[p] = s
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

// repeatedOnce returns the killed run's facts with each repeatable call
// that ran at least as often as in the unkilled run counted as in the
// unkilled run, logging the ones that ran more often.
func repeatedOnce(t *testing.T, repeatable []string, base, killed map[string]int) map[string]int {
	out := make(map[string]int, len(killed))
	for k, v := range killed {
		out[k] = v
	}
	for _, k := range repeatable {
		if n, ok := killed[k]; ok && n > base[k] && base[k] > 0 {
			t.Logf("%s: %d times (the unkilled run: %d); the step declares the call repeatable", k, n, base[k])
			out[k] = base[k]
		}
	}
	return out
}

// assertEqualFacts says whether the killed run left the unkilled run's facts.
func assertEqualFacts(t *testing.T, base, killed map[string]int) bool {
	return assert.Equal(t, base, killed, "the killed run changed the site differently from the unkilled one")
}

// sqlWrites counts MariaDB's data-changing statements since it started.
func sqlWrites(t testing.TB, db *sql.DB) map[string]int {
	rows, err := db.Query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_insert','Com_update','Com_delete','Com_replace'," +
		"'Com_create_db','Com_drop_db','Com_create_table','Com_drop_table','Com_alter_table','Com_grant','Com_create_user')")
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var v int
		require.NoError(t, rows.Scan(&k, &v))
		out["sql "+k] = v
	}
	for k, v := range scratchWrites(t, db) { // restore drills' scratch databases: not the site
		out[k] -= v
	}
	return out
}

// chaosWorker is a worker process whose children can be found by a tag in
// their environment, so the sweep sees any that outlive it.
type chaosWorker struct {
	*workerProc
	tag string
}

func startChaosWorker(t testing.TB, s chaosSite, name string) *chaosWorker {
	tag := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	env := append(slices.Clone(s.workerEnv), "UPGRADER_CHAOS_WORKER="+tag, app.LabHeartbeatEnv+"="+chaosHeartbeat())
	return &chaosWorker{workerProc: startWorker(t, s.workerCfg, env...), tag: tag}
}

// chaosHeartbeat is the cap on heartbeat timeouts the sweep's workers run
// with (app.LabHeartbeatEnv): a kill inside a step costs one heartbeat
// timeout, and 5 s tests the same contract as the declared 15–20 s at a
// quarter of the cost. $UPGRADER_LAB_HEARTBEAT_TIMEOUT overrides it ("0":
// no cap, the declared timeouts).
func chaosHeartbeat() string {
	if v, ok := os.LookupEnv(app.LabHeartbeatEnv); ok {
		return v
	}
	return "5s"
}

// processesTagged lists the processes whose environment carries the tag.
func processesTagged(tag string) []string {
	want := []byte("UPGRADER_CHAOS_WORKER=" + tag + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !bytes.Contains(env, want) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		stat, _ := os.ReadFile(filepath.Join(d, "stat"))
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			continue // a zombie holds no files and runs nothing
		}
		out = append(out, filepath.Base(d)+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
	}
	return out
}

// temporalAt is a Temporal frontend the sweep drives runs on.
type temporalAt struct {
	hostPort string
	client   client.Client
}

// chaosServer is a Temporal dev server whose state is a file on disk, so
// the sweep can SIGKILL it and start it again on the same port.
type chaosServer struct {
	temporalAt
	bin, db string
	cmd     *exec.Cmd
	log     bytes.Buffer
}

func startChaosServer(t *testing.T) *chaosServer {
	bin, err := app.TemporalBin()
	require.NoError(t, err)
	s := &chaosServer{bin: bin, db: filepath.Join(t.TempDir(), "temporal.db"), temporalAt: temporalAt{hostPort: "127.0.0.1:" + freePort(t)}}
	s.start(t)
	// The sweep's server holds payloads encrypted like every test's: its
	// client decodes them with the tests' codec (queries, results).
	c, err := client.Dial(client.Options{HostPort: s.hostPort, Logger: app.NewLogger("error", &s.log),
		DataConverter: payloadCodec.DataConverter(), FailureConverter: payloadCodec.FailureConverter()})
	require.NoError(t, err)
	s.client = c
	t.Cleanup(func() {
		c.Close()
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Signal(syscall.SIGINT)
			_ = s.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("sweep server log:\n%s", tail(s.log.String(), 3000))
		}
	})
	return s
}

func (s *chaosServer) start(t testing.TB) {
	t.Helper()
	host, port, _ := strings.Cut(s.hostPort, ":")
	args := []string{"server", "start-dev", "--ip", host, "--port", port, "--headless", "--namespace", "default",
		"--db-filename", s.db, "--log-level", "warn", "--dynamic-config-value", "frontend.enableServerVersionCheck=false"}
	for _, k := range runbook.SearchAttributeKeys() {
		args = append(args, "--search-attribute", k.GetName()+"="+k.GetValueType().String())
	}
	s.cmd = exec.Command(s.bin, append(args, app.DevServerDynamicConfig()...)...)
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	require.NoError(t, s.cmd.Start())
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := client.Dial(client.Options{HostPort: s.hostPort, Logger: app.NewLogger("error", &s.log)})
		if err == nil {
			_, err = c.CheckHealth(context.Background(), &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sweep's Temporal server did not answer in a minute: %v\n%s", err, tail(s.log.String(), 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kill ends the server the hard way: no graceful stop, no flush.
func (s *chaosServer) kill(t testing.TB) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Kill())
	_ = s.cmd.Wait()
}

func (s *temporalAt) status(id string) (runbook.RunStatus, error) {
	var st runbook.RunStatus
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	v, err := s.client.QueryWorkflow(ctx, id, "", runbook.QueryStatus)
	if err != nil {
		return st, err
	}
	return st, v.Get(&st)
}

// drive runs a run to its end as an operator would: it approves each gate
// with the starter, answers nothing else, and calls each with every status
// it reads (every 100 ms) so the sweep can kill on cue.
func (s *temporalAt) drive(t testing.TB, site chaosSite, id string, timeout time.Duration, each func(runbook.RunStatus)) runbook.RunStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	approved := map[string]bool{}
	for time.Now().Before(deadline) {
		st, err := s.status(id)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		switch st.State {
		case runbook.RunCompleted, runbook.RunAborted, runbook.RunRejected, runbook.RunFailedAwaiting:
			return st
		}
		if each != nil {
			each(st)
		}
		for _, step := range st.Steps {
			if step.State == runbook.StepWaitingApproval && !approved[step.Name] {
				if _, err := starterAs(t, "reviewer", site.workerCfg, "approve", id, step.Name, "--comment", "approved by the kill sweep"); err == nil {
					approved[step.Name] = true
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, _ := s.status(id)
	t.Fatalf("%s did not finish in %s: %+v", id, timeout, st)
	return st
}

// helmRevisionFacts counts a release's completed revisions (deployed or
// superseded: what the guide's upgrades made) and any other revision,
// except one our engine unlocked when the try that started it died
// (activities.Unlocked): the same step's next try upgraded once more with
// the same chart and values. Helm marks such a revision superseded when the
// next upgrade starts from it (nothing deployed before it: a dead install,
// or an upgrade that died after superseding the revision before it), so
// its status does not tell; its description does.
func helmRevisionFacts(t testing.TB, cfg *action.Configuration, name string) map[string]int {
	h, err := action.NewHistory(cfg).Run(name)
	if err == driver.ErrReleaseNotFound {
		return nil
	}
	require.NoError(t, err)
	facts := map[string]int{}
	for _, r := range h {
		// Which step and try made each revision (activities/helm_pending.go's
		// labels): what a sweep whose facts differ needs to say why.
		t.Logf("helm history %s: revision %d %s (%s) step=%s try=%s labelled-revision=%s at %s", name, r.Version, r.Info.Status,
			r.Info.Description, r.Labels["upgrader.io/step"], r.Labels["upgrader.io/try"], r.Labels["upgrader.io/revision"],
			r.Info.LastDeployed.UTC().Format("15:04:05.000"))
		switch {
		case activities.Unlocked(r):
		case r.Info.Status == release.StatusDeployed || r.Info.Status == release.StatusSuperseded:
			facts["helm completed revisions "+name]++
		default:
			facts[fmt.Sprintf("helm %s revision of %s: %s", r.Info.Status, name, r.Info.Description)]++
		}
	}
	return facts
}
