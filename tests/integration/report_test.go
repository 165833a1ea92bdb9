package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"upgrader/activities"
	"upgrader/internal/report"
	"upgrader/workflows/runbook"
)

// TestRunEndsWithItsReport runs the demo guide on its lab with a person at
// the gate, and checks that the worker left the run's report in the run's
// artifact folder when the run ended (no starter watching), that it holds
// what an operator asks (who started, each step with its section, who
// approved and why, the backups with checksums that match the files), that
// `starter report` writes the same on demand, and that the HTML renders in
// headless Chromium with no console errors.
func TestRunEndsWithItsReport(t *testing.T) {
	l := newLab(t, "report", 1)
	id := runbook.WorkflowID("demo", "report")
	metricsURL := "http://127.0.0.1:" + freePort(t) + "/metrics"
	hooks := newHookReceiver(t)
	// The worker config's secrets block is last: the webhook URL (its
	// token inside) and the DingTalk signing secret join it by name.
	appendFile(t, l.workerCfg, fmt.Sprintf(`  ding-url:
    value: %[1]s/robot/send?access_token=T0KEN
  ding-sign:
    value: SECsign
metrics:
  address: %[2]s
notify:
  - name: ops-json
    format: json
    url: %[1]s/json
  - name: ops-dingtalk
    format: dingtalk
    urlRef: ding-url
    signRef: ding-sign
  - name: broken
    format: wecom
    url: %[1]s/fail
`, hooks.url, strings.TrimSuffix(strings.TrimPrefix(metricsURL, "http://"), "/metrics")))
	startWorker(t, l.workerCfg, "DEMO_DB_PASSWORD="+secretValue)
	mustStarter(t, l.workerCfg, "start", "demo", "-c", l.upgradeCfg)
	eventually(t, 30*time.Second, "the gate", func() bool { return status(t, id).State == runbook.RunWaitingApproval })

	// /metrics while the run waits: the steps so far, the gate waiting,
	// and the Temporal SDK's own metrics beside ours.
	page := scrape(t, metricsURL)
	require.Equal(t, 1.0, metricValue(page, "upgrader_steps_total", `kind="gate"`, `state="waiting-approval"`), page)
	require.Equal(t, 4.0, metricValue(page, "upgrader_steps_total", `kind="backup"`, `state="done"`))
	require.Equal(t, 0.0, metricValue(page, "upgrader_steps_total", `kind="helm"`, `state="done"`))
	require.Equal(t, 1.0, metricValue(page, "upgrader_runs_total", `guide="demo"`, `state="waiting-approval"`))
	require.Greater(t, metricValue(page, "temporal_workflow_task_execution_latency_seconds_count"), 0.0, "the SDK's metrics are served")
	time.Sleep(time.Second) // the gate waits a visible while on the timeline
	// Another person approves (the one who started may not approve its own destructive step).
	mustStarterAs(t, "alice", l.workerCfg, "approve", id, "approve/delete-old-releases", "--comment", "values backups checked <ok>")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := temporalClient().GetWorkflow(ctx, id, "")
	var final runbook.RunStatus
	require.NoError(t, run.Get(ctx, &final))
	require.Equal(t, runbook.RunCompleted, final.State)

	// The counters moved on: every step done, the gate's wait and each
	// step's duration observed, the run completed.
	page = scrape(t, metricsURL)
	require.Equal(t, 4.0, metricValue(page, "upgrader_steps_total", `kind="helm"`, `state="done"`))
	require.Equal(t, 1.0, metricValue(page, "upgrader_steps_total", `kind="gate"`, `state="done"`))
	require.Equal(t, 1.0, metricValue(page, "upgrader_runs_total", `state="completed"`))
	require.Equal(t, 1.0, metricValue(page, "upgrader_gate_wait_seconds_count", `guide="demo"`))
	require.Greater(t, metricValue(page, "upgrader_gate_wait_seconds_sum"), 0.9, "the gate waited over a second")
	require.Equal(t, float64(len(final.Steps)), metricValue(page, "upgrader_step_duration_seconds_count"))
	require.GreaterOrEqual(t, metricValue(page, "upgrader_step_tries_total", `kind="helm"`), 4.0)

	// The webhooks heard the gate and the end; the broken one (500 each
	// try) failed no step.
	eventually(t, 10*time.Second, "the run's end posted", func() bool { return len(hooks.kinds("/json")) == 2 })
	require.Equal(t, []string{"gate-waiting", "run-ended"}, hooks.kinds("/json"))
	ding := hooks.bodies("/robot/send")
	require.Len(t, ding, 2)
	require.Equal(t, "markdown", ding[0]["msgtype"])
	require.Contains(t, ding[0]["markdown"].(map[string]any)["text"], "`approve/delete-old-releases` waits for approval")
	require.Contains(t, ding[1]["markdown"].(map[string]any)["text"], "report: ")
	require.Contains(t, hooks.query("/robot/send"), "access_token=T0KEN")
	require.Contains(t, hooks.query("/robot/send"), "sign=")
	require.Len(t, hooks.bodies("/fail"), 6, "three tries for each of two events")

	dir := filepath.Join(l.artifacts, "upgrade", "demo", "report", run.GetRunID())
	mdBytes, err := os.ReadFile(filepath.Join(dir, report.MarkdownFile))
	require.NoError(t, err, "the worker wrote the report when the run ended")
	md := string(mdBytes)
	for _, want := range []string{
		"# Demo upgrade", "| guide | demo |", "0.21 → 0.22 on report", "| state | completed |",
		"| started by | tester (os-user) |", "| 6 | §2 ", "`approve/delete-old-releases` | gate | done |",
		"approve by alice: values backups checked <ok>",
		"## Approvals and decisions", "## Backups", "## Timeline",
	} {
		require.Contains(t, md, want)
	}
	for _, s := range final.Steps {
		require.Contains(t, md, "`"+s.Name+"`")
	}
	// Every values backup is listed with the checksum of the file on disk.
	n := 0
	for _, s := range final.Steps {
		path := s.Outputs["path"]
		if s.Kind != runbook.KindBackup || path == "" {
			continue // hzero-iam is not installed on this lab: nothing to back up
		}
		require.FileExists(t, path)
		sum, err := activities.FileSHA256(path)
		require.NoError(t, err)
		require.Contains(t, md, "| `"+s.Name+"` | `"+path+"` | "+s.Outputs["bytes"]+" | `"+sum+"` |")
		n++
	}
	require.Equal(t, 3, n)

	// For scripts: status and list as JSON.
	var js runbook.RunStatus
	require.NoError(t, json.Unmarshal([]byte(mustStarter(t, l.workerCfg, "status", id, "--output", "json")), &js))
	require.Equal(t, runbook.RunCompleted, js.State)
	eventually(t, 10*time.Second, "list --output json lists the run, completed", func() bool {
		var rows []map[string]any
		require.NoError(t, json.Unmarshal([]byte(mustStarter(t, l.workerCfg, "list", "--guide", "demo", "-o", "json")), &rows))
		for _, r := range rows {
			if r["id"] == id && r["status"] == "completed" && r["environment"] == "report" && r["state"] == "completed" {
				return true
			}
		}
		return false
	})

	// On demand, the same report.
	out := t.TempDir()
	got := mustStarter(t, l.workerCfg, "report", id, "--out", out)
	require.Contains(t, got, filepath.Join(out, report.HTMLFile))
	again, err := os.ReadFile(filepath.Join(out, report.MarkdownFile))
	require.NoError(t, err)
	cut := func(s string) string { // all but the line saying when it was made
		var keep []string
		for _, line := range strings.Split(s, "\n") {
			if !strings.HasPrefix(line, "| report made |") && !strings.HasPrefix(line, "| ended |") && !strings.HasPrefix(line, "| took |") {
				keep = append(keep, line)
			}
		}
		return strings.Join(keep, "\n")
	}
	require.Equal(t, cut(md), cut(string(again)))

	// The HTML in a real browser: it renders, nothing fails in its console.
	shot := screenshotReport(t, filepath.Join(dir, report.HTMLFile), len(final.Steps))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "report.png"), shot, 0o600))
}

// screenshotReport opens a report in headless Chromium (chromedp), checks
// the console stays clean and the timeline has its bars, and returns a PNG
// of the whole page.
func screenshotReport(t *testing.T, htmlPath string, steps int) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	require.NoError(t, err, "Debian's chromium is needed (scripts/install-test-deps.sh installs it)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "chromium starts")

	// Every console message of the page, read beside the actions.
	mctx, stopMessages := context.WithCancel(ctx)
	messages := chromedp.Console(mctx)
	var problems []string
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleException, chromedp.ConsoleWarning:
				problems = append(problems, m.String())
			}
		}
	}()

	tctx, cancelT := context.WithTimeout(ctx, time.Minute)
	defer cancelT()
	require.NoError(t, chromedp.Do(tctx,
		chromedp.Navigate("file://"+htmlPath),
		chromedp.WaitVisible(chromedp.CSS("svg.timeline rect.work"))))
	title, err := chromedp.Run(tctx, chromedp.Title())
	require.NoError(t, err)
	bars, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.timeline rect.wait, svg.timeline rect.work").length`))
	require.NoError(t, err)
	waitBars, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.timeline rect.wait").length`))
	require.NoError(t, err)
	buf, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond) // late messages reach the reader
	stopMessages()
	<-drained

	require.Empty(t, problems, "the report's console stays clean")
	require.Contains(t, title, "0.21 → 0.22")
	// One bar per step, the gate's wait apart from work: the gate step is a
	// wait bar only, every other step a work bar.
	require.Equal(t, steps, bars)
	require.Equal(t, 1, waitBars)
	img, err := png.Decode(bytes.NewReader(buf))
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dy(), 400, "the whole page, not a blank frame")
	// Not blank: more than a few distinct colours.
	colours := map[uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 7 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	require.Greater(t, len(colours), 8, "the screenshot shows the report")
	return buf
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(content)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(b)
}

// metricValue sums the samples of a metric whose labels hold every given
// label="value".
func metricValue(page, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(page, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// hookReceiver is the lab's chat: it records every post by path.
type hookReceiver struct {
	url string
	mu  sync.Mutex
	got map[string][]map[string]any
	qs  map[string]string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{got: map[string][]map[string]any{}, qs: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		h.mu.Lock()
		h.got[r.URL.Path] = append(h.got[r.URL.Path], body)
		h.qs[r.URL.Path] = r.URL.RawQuery
		h.mu.Unlock()
		if r.URL.Path == "/fail" {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`) // DingTalk's answer
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func (h *hookReceiver) bodies(path string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.got[path]...)
}

func (h *hookReceiver) kinds(path string) []string {
	var out []string
	for _, b := range h.bodies(path) {
		out = append(out, fmt.Sprint(b["kind"]))
	}
	return out
}

func (h *hookReceiver) query(path string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.qs[path]
}
