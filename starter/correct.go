package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"go.temporal.io/sdk/client"

	"upgrader/workflows/runbook"
)

// A corrected config goes with `decide … retry --config FILE` or `approve …
// --config FILE`: the file is loaded and validated as at start, compared
// with the config the run uses now, and the difference shown before anything
// is sent. The run checks it again, as a whole, before taking it.

// correctedConfig loads FILE for the run id (upgrade/<guide>/<environment>),
// prints how it differs from the run's config, and asks to go on unless yes.
// It returns the config to send, or nil when the operator said no.
func correctedConfig(ctx context.Context, c client.Client, id, file string, yes bool, in io.Reader, out io.Writer) (json.RawMessage, error) {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 || parts[0] != "upgrade" {
		return nil, fmt.Errorf("%s is not a run ID (upgrade/<guide>/<environment>); `%s list` shows runs", id, self())
	}
	spec, next, err := loadInput(parts[1], file, parts[2])
	if err != nil {
		return nil, err
	}
	if _, err := next.Plan(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	v, err := c.QueryWorkflow(ctx, id, "", runbook.QueryConfig)
	if err != nil {
		return nil, fmt.Errorf("unable to read the config %s uses now: %w", id, err)
	}
	now := spec.NewInput()
	if err := v.Get(now); err != nil {
		return nil, fmt.Errorf("unable to decode the config %s uses now: %w", id, err)
	}
	// Who started the run is the run's, not the file's.
	next.GetTarget().StartedBy = now.GetTarget().StartedBy
	next.GetTarget().Webhooks = now.GetTarget().Webhooks
	changes, err := runbook.DiffConfig(now, next)
	if err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		return nil, fmt.Errorf("%s is the config %s already uses; send the answer without --config", file, id)
	}
	oldText, _ := json.MarshalIndent(now, "", "  ")
	newText, _ := json.MarshalIndent(next, "", "  ")
	fmt.Fprintf(out, "--- config %s uses now\n+++ %s\n", id, file)
	fmt.Fprint(out, unifiedDiff(strings.Split(string(oldText), "\n"), strings.Split(string(newText), "\n"), 2))
	fmt.Fprintf(out, "\nkeys changed (%d):\n", len(changes))
	for _, k := range changes {
		fmt.Fprintf(out, "  %s: %s → %s\n", k.Key, orNone(k.Old), orNone(k.New))
	}
	fmt.Fprintln(out, "\nThe run applies it to the steps not done yet; steps already done keep their results.")
	if !yes {
		fmt.Fprint(out, "Send it? [y/N] ")
		line, _ := bufio.NewReader(in).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(out, "not sent")
			return nil, nil
		}
	}
	return json.Marshal(next)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// unifiedDiff is a line diff of a and b in unified format with ctx lines of
// context around each change. Configs are small: a plain LCS table will do.
func unifiedDiff(a, b []string, ctx int) string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte // ' ', '-', '+'
		text string
		ai   int // line number in a (1-based) before this line
		bi   int
	}
	var lines []line
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			lines = append(lines, line{' ', a[i], i, j})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', a[i], i, j})
			i++
		default:
			lines = append(lines, line{'+', b[j], i, j})
			j++
		}
	}
	var out strings.Builder
	for k := 0; k < len(lines); {
		if lines[k].op == ' ' {
			k++
			continue
		}
		start := max(0, k-ctx)
		end := k
		for end < len(lines) {
			if lines[end].op != ' ' {
				end++
				continue
			}
			run := end
			for run < len(lines) && lines[run].op == ' ' {
				run++
			}
			if run-end > 2*ctx || run == len(lines) {
				end = min(end+ctx, len(lines))
				break
			}
			end = run
		}
		na, nb := 0, 0
		for _, l := range lines[start:end] {
			if l.op != '+' {
				na++
			}
			if l.op != '-' {
				nb++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", lines[start].ai+1, na, lines[start].bi+1, nb)
		for _, l := range lines[start:end] {
			fmt.Fprintf(&out, "%c%s\n", l.op, l.text)
		}
		k = end
	}
	return out.String()
}
