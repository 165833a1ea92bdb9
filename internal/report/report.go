// Package report renders a run's report: a Markdown file and a
// self-contained HTML file (inline CSS and an SVG timeline, nothing loaded
// from elsewhere) that an operator hands to whoever asks what happened.
//
// It reads a run's status as internal/runstatus defines it (the status
// query's answer and the workflow's result), so the worker's report
// activity writes it without importing the workflows.
package report

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"upgrader/internal/runstatus"
)

// File names of the report inside the run's artifact folder.
const (
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
)

// Input is everything a report shows: the run's status and what the status
// does not hold (who started it, the guide's section titles, the IDs).
type Input struct {
	Status Status `json:"status"`
	// WorkflowID and RunID name the run (filled by the report activity from
	// its own info when empty).
	WorkflowID string `json:"workflowId,omitempty"`
	RunID      string `json:"runId,omitempty"`
	// StartedBy is who started the run; empty: the status's StartedBy.
	StartedBy string `json:"startedBy,omitempty"`
	// StartedAt is when the run started; EndedAt when it ended (zero while
	// it runs: an on-demand report of a live run).
	StartedAt time.Time `json:"startedAt,omitempty"`
	EndedAt   time.Time `json:"endedAt,omitempty"`
	// Sections are the guide's map, for each step's section title.
	Sections []Section `json:"sections,omitempty"`
	// GeneratedAt is when the report was made; zero: now.
	GeneratedAt time.Time `json:"generatedAt,omitempty"`
}

// Section is one section of the guide's map (runbook.Section).
type Section struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Heading string `json:"heading,omitempty"`
}

// The run's status as the report reads it: the status query's answer and
// the workflow's result, the same types (internal/runstatus).
type (
	Status       = runstatus.RunStatus
	Step         = runstatus.StepStatus
	Answer       = runstatus.Answer
	Identity     = runstatus.Identity
	Target       = runstatus.Target
	ConfigChange = runstatus.ConfigChange
)

// Starter is who started the run as the report says it: the name, and
// whether a client certificate vouches for it.
func (in *Input) Starter() string {
	if in.StartedBy != "" {
		return in.StartedBy
	}
	who := in.Status.StartedBy
	if who == nil || who.Name == "" {
		return "unknown"
	}
	if who.Verified {
		return who.Name + " (client certificate)"
	}
	return who.Name + " (" + orDash(who.Source, "unverified") + ")"
}

// Backup is a file a step set aside: its path and SHA-256 as the step
// published them (outputs path and sha256).
type Backup struct {
	Step   string
	Path   string
	SHA256 string
	// Bytes is the size the step published (outputs bytes or bytes.X), if any.
	Bytes string
	// Proof is what the backup's restore drill (verify-restore/<what> of
	// backup-db/<what> or backup/<what>) found, when the plan has one.
	Proof string
}

// Backups lists every file a step published with its checksum (outputs
// path and sha256, or path.X and sha256.X).
func (in *Input) Backups() []Backup {
	var out []Backup
	for _, s := range in.Status.Steps {
		keys := make([]string, 0, len(s.Outputs))
		for k := range s.Outputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			// "path" with "sha256", or "path.X" with "sha256.X" (one
			// step backing up several files).
			if k != "path" && !strings.HasPrefix(k, "path.") {
				continue
			}
			sum := s.Outputs["sha256"+strings.TrimPrefix(k, "path")]
			if s.Outputs[k] == "" || sum == "" {
				continue
			}
			b := Backup{Step: s.Name, Path: s.Outputs[k], SHA256: sum, Bytes: s.Outputs["bytes"+strings.TrimPrefix(k, "path")]}
			drill := "verify-restore/" + s.Name[strings.LastIndex(s.Name, "/")+1:]
			for _, d := range in.Status.Steps {
				if strings.HasPrefix(s.Name, "backup") && d.Name == drill {
					b.Proof = fmt.Sprintf("%s %s: %s", d.Name, d.State, d.Result)
					if d.LastError != "" && d.Result == "" {
						b.Proof = fmt.Sprintf("%s %s: %s", d.Name, d.State, d.LastError)
					}
				}
			}
			out = append(out, b)
		}
	}
	return out
}

// Answers lists every approval and decision in the order they were given.
func (in *Input) Answers() []StepAnswer {
	var out []StepAnswer
	for _, s := range in.Status.Steps {
		if s.Approval != nil {
			out = append(out, StepAnswer{Step: s.Name, Answer: *s.Approval})
		}
		for _, d := range s.Decisions {
			out = append(out, StepAnswer{Step: s.Name, Answer: d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// StepAnswer is one person's answer to one step.
type StepAnswer struct {
	Step string
	Answer
}

// SectionTitle is "§ID Title" for a section ID, or "§ID" when the map does
// not hold it.
func (in *Input) SectionTitle(id string) string {
	if id == "" {
		return ""
	}
	for _, s := range in.Sections {
		if s.ID == id {
			return "§" + id + " " + s.Title
		}
	}
	return "§" + id
}

// Span is a step's time on the timeline: Wait is time at its gate waiting
// for a person, Work is time its activity ran (including waits for a
// decision after a failed try).
type Span struct {
	Step       string
	State      string
	WaitFrom   time.Time
	WaitTo     time.Time
	WorkFrom   time.Time
	WorkTo     time.Time
	Unfinished bool // still running or waiting when the report was made
}

// Spans returns one span per step that started, in the steps' order.
func (in *Input) Spans() []Span {
	now := in.now()
	var out []Span
	for _, s := range in.Status.Steps {
		if s.StartedAt.IsZero() {
			continue
		}
		sp := Span{Step: s.Name, State: string(s.State)}
		end := s.EndedAt
		if end.IsZero() {
			end, sp.Unfinished = now, true
			if !in.EndedAt.IsZero() {
				end = in.EndedAt
			}
		}
		gate := s.Kind == "gate" || s.Approval != nil || s.State == "waiting-approval"
		switch {
		case s.Approval != nil:
			sp.WaitFrom, sp.WaitTo = s.StartedAt, s.Approval.At
			if end.After(s.Approval.At) {
				sp.WorkFrom, sp.WorkTo = s.Approval.At, end
			}
		case gate:
			sp.WaitFrom, sp.WaitTo = s.StartedAt, end
		default:
			sp.WorkFrom, sp.WorkTo = s.StartedAt, end
		}
		out = append(out, sp)
	}
	return out
}

func (in *Input) now() time.Time {
	if !in.GeneratedAt.IsZero() {
		return in.GeneratedAt
	}
	return time.Now()
}

// Duration is a step's duration as a person reads it ("1m30s", "0.4s"),
// or "" when it has not both started and ended.
func Duration(from, to time.Time) string {
	if from.IsZero() || to.IsZero() {
		return ""
	}
	return human(to.Sub(from))
}

func human(d time.Duration) string {
	switch {
	case d < 0:
		return ""
	case d < time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// Write renders both files into dir and returns their paths.
func Write(dir string, in Input) (md, html string, err error) {
	if in.GeneratedAt.IsZero() {
		in.GeneratedAt = time.Now().UTC()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("unable to create the report folder %s: %w", dir, err)
	}
	h, err := HTML(in)
	if err != nil {
		return "", "", err
	}
	md, html = filepath.Join(dir, MarkdownFile), filepath.Join(dir, HTMLFile)
	for path, body := range map[string]string{md: Markdown(in), html: h} {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			return "", "", fmt.Errorf("unable to write %s: %w", path, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return "", "", fmt.Errorf("unable to write %s: %w", path, err)
		}
	}
	return md, html, nil
}

// Markdown renders the report as Markdown.
func Markdown(in Input) string {
	st := in.Status
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: %s → %s on %s\n\n", orDash(st.Title, st.Guide), st.Target.From, st.Target.To, st.Target.Environment)
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, mdCell(v))
		}
	}
	row("guide", st.Guide)
	row("target", fmt.Sprintf("%s → %s on %s", st.Target.From, st.Target.To, st.Target.Environment))
	row("run", strings.TrimSpace(in.WorkflowID+" "+in.RunID))
	row("state", string(st.State))
	row("started by", in.Starter())
	row("started", stamp(in.StartedAt))
	row("ended", stamp(in.EndedAt))
	row("took", Duration(in.StartedAt, in.EndedAt))
	if st.CurrentStep != "" {
		row("current step", st.CurrentStep)
	}
	if st.Continued > 0 {
		row("continued as new", fmt.Sprint(st.Continued))
	}
	row("report made", stamp(in.now()))

	b.WriteString("\n## Steps\n\n| # | § | step | kind | state | tries | started | took | who / detail |\n|---|---|---|---|---|---|---|---|---|\n")
	for i, s := range st.Steps {
		fmt.Fprintf(&b, "| %d | %s | `%s` | %s | %s | %d | %s | %s | %s |\n", i+1, mdCell(in.SectionTitle(s.Section)),
			s.Name, s.Kind, s.State, s.Attempts, clock(s.StartedAt), Duration(s.StartedAt, s.EndedAt), mdCell(detail(s)))
	}
	if ans := in.Answers(); len(ans) > 0 {
		b.WriteString("\n## Approvals and decisions\n\n| when | step | answer | by | comment |\n|---|---|---|---|---|\n")
		for _, a := range ans {
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", stamp(a.At), a.Step, a.Action, mdCell(a.By), mdCell(a.Comment))
		}
	}
	if bk := in.Backups(); len(bk) > 0 {
		b.WriteString("\n## Backups\n\n| step | path | bytes | SHA-256 | restore drill |\n|---|---|---|---|---|\n")
		for _, x := range bk {
			fmt.Fprintf(&b, "| `%s` | `%s` | %s | `%s` | %s |\n", x.Step, x.Path, x.Bytes, x.SHA256, mdCell(x.Proof))
		}
	}
	if len(st.ConfigChanges) > 0 {
		b.WriteString("\n## Config corrected during the run\n\n")
		for _, c := range st.ConfigChanges {
			var keys []string
			for _, k := range c.Changes {
				keys = append(keys, k.Key)
			}
			fmt.Fprintf(&b, "- %s with %s of `%s` by %s: %s\n", stamp(c.At), c.Action, c.Step, c.By, strings.Join(keys, ", "))
		}
	}
	if len(st.Notices) > 0 {
		b.WriteString("\n## Notices\n\n")
		for _, n := range st.Notices {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	b.WriteString("\n## Timeline\n\nThe HTML report (" + HTMLFile + ") draws it; per step, time waiting at a gate and time working:\n\n")
	b.WriteString("| step | waited at gate | worked |\n|---|---|---|\n")
	for _, sp := range in.Spans() {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", sp.Step, Duration(sp.WaitFrom, sp.WaitTo), Duration(sp.WorkFrom, sp.WorkTo))
	}
	return b.String()
}

// detail is a step's who and outcome in one line.
func detail(s Step) string {
	var parts []string
	if s.Approval != nil {
		p := fmt.Sprintf("%s by %s", s.Approval.Action, s.Approval.By)
		if s.Approval.Comment != "" {
			p += ": " + s.Approval.Comment
		}
		parts = append(parts, p)
	}
	for _, d := range s.Decisions {
		p := fmt.Sprintf("%s by %s", d.Action, d.By)
		if d.Comment != "" {
			p += ": " + d.Comment
		}
		parts = append(parts, p)
	}
	if s.WorkerLost > 0 {
		// A lost worker's try does not use up the step's attempts: the
		// next try starts by itself (runbook's lost.go).
		parts = append(parts, fmt.Sprintf("worker lost %d×, a new try started by itself each time", s.WorkerLost))
	}
	switch {
	case s.State == runstatus.StepFailedAwaiting || (s.LastError != "" && s.Result == ""):
		if s.LastError != "" {
			parts = append(parts, "error: "+oneLine(s.LastError, 200))
		}
	case s.State == runstatus.StepWaitingApproval:
		parts = append(parts, "asks: "+oneLine(s.Prompt, 200))
	case s.Result != "":
		parts = append(parts, oneLine(s.Result, 200))
	}
	return strings.Join(parts, "; ")
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func orDash(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("15:04:05")
}
