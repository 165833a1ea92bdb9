package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/workflows/runbook"
)

func TestUnifiedDiffShowsChangedLinesWithContext(t *testing.T) {
	a := strings.Split("{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3,\n  \"d\": 4,\n  \"e\": 5,\n  \"f\": 6,\n  \"g\": 7\n}", "\n")
	b := strings.Split("{\n  \"a\": 1,\n  \"b\": 20,\n  \"c\": 3,\n  \"d\": 4,\n  \"e\": 5,\n  \"f\": 6,\n  \"g\": 7,\n  \"h\": 8\n}", "\n")
	require.Equal(t, `@@ -2,3 +2,3 @@
   "a": 1,
-  "b": 2,
+  "b": 20,
   "c": 3,
@@ -7,3 +7,4 @@
   "f": 6,
-  "g": 7
+  "g": 7,
+  "h": 8
 }
`, unifiedDiff(a, b, 1))
	require.Empty(t, unifiedDiff(a, a, 2))
}

func TestPlanShowsValuesNotKnownYet(t *testing.T) {
	type hostIn struct {
		Command string            `json:"command"`
		Env     map[string]string `json:"env"`
	}
	steps := []runbook.Step{
		{Name: "read-versions/job", Kind: runbook.KindHost, Summary: "read VERSION files", Activity: "Run", Input: hostIn{}},
		{Name: "upgrade/job", Kind: runbook.KindHost, Summary: "bkcli upgrade job", Activity: "Run", Input: hostIn{},
			Inputs: map[string]runbook.From{"env.FROM": {Step: "read-versions/job", Output: "from"}}},
		{Name: "reregister-plugin", Summary: "re-register every running plugin", Expand: &runbook.Expand{
			From: "read-versions/job", SideBySide: true, Build: func(item string) runbook.Step {
				return runbook.Step{Name: "reregister-plugin/" + item, Kind: runbook.KindHTTP, Summary: "re-register " + item, Activity: "Call"}
			}}},
	}
	require.NoError(t, runbook.ValidatePlan(steps))
	var out bytes.Buffer
	printPlan(&out, steps, false, nil)
	got := out.String()
	require.Contains(t, got, "input env.FROM: from read-versions/job.from")
	require.Contains(t, got, "expands: one step per item of read-versions/job (known when it has run), side by side")
	require.Contains(t, got, "reregister-plugin/<item>")
}

func TestStatusShowsTemporalAttempts(t *testing.T) {
	st := runbook.RunStatus{Title: "t", State: runbook.RunFailedAwaiting, Steps: []runbook.StepStatus{{
		Name: "upgrade/hzero-iam", State: runbook.StepFailedAwaiting, Attempts: 1, StartedAt: time.Now(),
		LastError: "release hzero-iam is pending-install [HelmPending]",
		Tries: []runbook.TryStatus{{Try: 1, Attempts: 2, Failures: []runbook.AttemptFailure{
			{Attempt: 1, Failure: "activity Heartbeat timeout"},
			{Attempt: 2, Failure: "release hzero-iam is pending-install [HelmPending]"}}}},
	}, {
		Name: "list-plugins", State: runbook.StepDone, Attempts: 1, Result: "3 plugins",
		Outputs: map[string]string{"platform": "4.1"}, Items: []string{"a", "b"},
	}}}
	var out bytes.Buffer
	printStatus(&out, "upgrade/x/lab", st, nil, nil)
	got := out.String()
	require.Contains(t, got, "1 (2 attempts)")
	require.Contains(t, got, "try 1: 2 Temporal attempts — attempt 1: activity Heartbeat timeout; attempt 2: release hzero-iam is pending-install [HelmPending]")
	require.Contains(t, got, "outputs: platform=4.1; items: a, b")
	require.Contains(t, got, "retry [--config FIXED.yaml]")
}
