package report

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// Colours of a step's state on the timeline and in the table.
var stateColor = map[string]string{
	"done":                     "#2e7d32",
	"completed":                "#2e7d32",
	"skipped":                  "#9e9e9e",
	"running":                  "#1565c0",
	"waiting-approval":         "#f9a825",
	"failed-awaiting-decision": "#c62828",
	"rejected":                 "#6a1b9a",
	"aborted":                  "#c62828",
	"rolling-back":             "#ef6c00",
	"rolled-back":              "#ef6c00",
	"not-run":                  "#bdbdbd",
	"pending":                  "#e0e0e0",
}

// Timeline layout.
const (
	rowHeight  = 18
	labelWidth = 300
	chartWidth = 640
	axisHeight = 24
)

// bar is one rectangle of the timeline.
type bar struct {
	X, Y, W, H float64
	Class      string
	Fill       string
	Title      string
}

// Timeline is the SVG chart: one row per step that started; a gate's wait
// is a hatched amber bar, work a solid bar in the step's state colour.
func Timeline(in Input) template.HTML {
	spans := in.Spans()
	if len(spans) == 0 {
		return template.HTML(`<p>No step started.</p>`)
	}
	t0, t1 := spans[0].from(), spans[0].to()
	for _, sp := range spans {
		if f := sp.from(); f.Before(t0) {
			t0 = f
		}
		if t := sp.to(); t.After(t1) {
			t1 = t
		}
	}
	total := t1.Sub(t0)
	if total <= 0 {
		total = time.Millisecond
	}
	x := func(t time.Time) float64 {
		return labelWidth + float64(t.Sub(t0))/float64(total)*chartWidth
	}
	w := func(a, b time.Time) float64 {
		return max(float64(b.Sub(a))/float64(total)*chartWidth, 1.5)
	}
	height := axisHeight + len(spans)*rowHeight + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" aria-label="timeline: one bar per step" width="%d" height="%d" viewBox="0 0 %d %d">`,
		labelWidth+chartWidth+10, height, labelWidth+chartWidth+10, height)
	b.WriteString(`<defs><pattern id="wait" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">` +
		`<rect width="6" height="6" fill="#fff3c4"/><rect width="3" height="6" fill="#f9a825"/></pattern></defs>`)
	// Axis: five ticks with the time since the start.
	for i := 0; i <= 4; i++ {
		at := t0.Add(total * time.Duration(i) / 4)
		xx := x(at)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, xx, axisHeight-4, xx, height)
		anchor := "middle"
		if i == 4 {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="14" font-size="11" text-anchor="%s" fill="#555">+%s</text>`, xx, anchor,
			template.HTMLEscapeString(human(at.Sub(t0))))
	}
	for i, sp := range spans {
		y := float64(axisHeight + i*rowHeight)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="#222">%s</text>`,
			labelWidth-6, y+12, template.HTMLEscapeString(oneLine(sp.Step, 44)))
		var bars []bar
		if !sp.WaitFrom.IsZero() {
			bars = append(bars, bar{X: x(sp.WaitFrom), Y: y + 3, W: w(sp.WaitFrom, sp.WaitTo), H: rowHeight - 6, Class: "wait", Fill: "url(#wait)",
				Title: fmt.Sprintf("%s waited at its gate %s", sp.Step, Duration(sp.WaitFrom, sp.WaitTo))})
		}
		if !sp.WorkFrom.IsZero() {
			fill := stateColor[sp.State]
			if fill == "" {
				fill = "#607d8b"
			}
			bars = append(bars, bar{X: x(sp.WorkFrom), Y: y + 3, W: w(sp.WorkFrom, sp.WorkTo), H: rowHeight - 6, Class: "work", Fill: fill,
				Title: fmt.Sprintf("%s %s, %s", sp.Step, sp.State, Duration(sp.WorkFrom, sp.WorkTo))})
		}
		for _, r := range bars {
			fmt.Fprintf(&b, `<rect class="%s" data-step="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
				r.Class, template.HTMLEscapeString(sp.Step), r.X, r.Y, r.W, r.H, r.Fill, template.HTMLEscapeString(r.Title))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func (s Span) from() time.Time {
	if !s.WaitFrom.IsZero() {
		return s.WaitFrom
	}
	return s.WorkFrom
}

func (s Span) to() time.Time {
	if !s.WorkTo.IsZero() {
		return s.WorkTo
	}
	return s.WaitTo
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"stamp":    stamp,
	"clock":    clock,
	"duration": Duration,
	"detail":   detail,
	// A run's or a step's state (runstatus.RunState, StepState) or a span's.
	"color": func(s any) template.CSS {
		if c, ok := stateColor[fmt.Sprint(s)]; ok {
			return template.CSS(c)
		}
		return "#607d8b"
	},
	"inc": func(i int) int { return i + 1 },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>{{.In.Status.Title}}: {{.In.Status.Target.From}} → {{.In.Status.Target.To}} on {{.In.Status.Target.Environment}}</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222}
h1{font-size:20px;margin:0 0 12px} h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5} code{font:12px ui-monospace,monospace}
.state{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:12px}
.legend span{display:inline-block;width:14px;height:10px;margin:0 4px 0 12px;vertical-align:middle}
</style>
</head>
<body>
<h1>{{.In.Status.Title}}: {{.In.Status.Target.From}} → {{.In.Status.Target.To}} on {{.In.Status.Target.Environment}}</h1>
<table class="facts">
<tr><th>guide</th><td><code>{{.In.Status.Guide}}</code></td></tr>
<tr><th>run</th><td><code>{{.In.WorkflowID}}</code> {{.In.RunID}}</td></tr>
<tr><th>state</th><td><span class="state" style="background:{{color .In.Status.State}}">{{.In.Status.State}}</span>{{if .In.Status.CurrentStep}} at <code>{{.In.Status.CurrentStep}}</code>{{end}}</td></tr>
<tr><th>started by</th><td id="started-by">{{.In.Starter}}</td></tr>
<tr><th>started</th><td>{{stamp .In.StartedAt}}</td></tr>
<tr><th>ended</th><td>{{stamp .In.EndedAt}}</td></tr>
<tr><th>took</th><td>{{duration .In.StartedAt .In.EndedAt}}</td></tr>
<tr><th>report made</th><td>{{stamp .Now}}</td></tr>
</table>

<h2>Timeline</h2>
<p class="legend"><span style="background:repeating-linear-gradient(45deg,#f9a825 0 3px,#fff3c4 3px 6px)"></span>waiting at a gate for a person
<span style="background:#2e7d32"></span>work done <span style="background:#1565c0"></span>running
<span style="background:#c62828"></span>failed / aborted <span style="background:#9e9e9e"></span>skipped</p>
{{.Timeline}}

<h2>Steps</h2>
<table class="steps">
<tr><th>#</th><th>§</th><th>step</th><th>kind</th><th>state</th><th>tries</th><th>started</th><th>took</th><th>who / detail</th></tr>
{{range $i, $s := .In.Status.Steps}}<tr data-step="{{$s.Name}}"><td>{{inc $i}}</td><td>{{$.In.SectionTitle $s.Section}}</td><td><code>{{$s.Name}}</code></td><td>{{$s.Kind}}</td><td><span class="state" style="background:{{color $s.State}}">{{$s.State}}</span></td><td>{{$s.Attempts}}</td><td>{{clock $s.StartedAt}}</td><td>{{duration $s.StartedAt $s.EndedAt}}</td><td>{{detail $s}}</td></tr>
{{end}}</table>
{{with .In.Answers}}
<h2>Approvals and decisions</h2>
<table class="answers"><tr><th>when</th><th>step</th><th>answer</th><th>by</th><th>comment</th></tr>
{{range .}}<tr><td>{{stamp .At}}</td><td><code>{{.Step}}</code></td><td>{{.Action}}</td><td>{{.By}}</td><td>{{.Comment}}</td></tr>
{{end}}</table>{{end}}
{{with .In.Backups}}
<h2>Backups</h2>
<table class="backups"><tr><th>step</th><th>path</th><th>bytes</th><th>SHA-256</th><th>restore drill</th></tr>
{{range .}}<tr><td><code>{{.Step}}</code></td><td><code>{{.Path}}</code></td><td>{{.Bytes}}</td><td><code>{{.SHA256}}</code></td><td>{{.Proof}}</td></tr>
{{end}}</table>{{end}}
{{with .In.Status.ConfigChanges}}
<h2>Config corrected during the run</h2><ul>
{{range .}}<li>{{stamp .At}}: {{.Action}} of <code>{{.Step}}</code> by {{.By}}: {{range .Changes}}<code>{{.Key}}</code> {{end}}</li>
{{end}}</ul>{{end}}
{{with .In.Status.Notices}}
<h2>Notices</h2><ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body>
</html>
`))

// HTML renders the report as one self-contained HTML page.
func HTML(in Input) (string, error) {
	var b bytes.Buffer
	err := page.Execute(&b, struct {
		In       *Input
		Now      time.Time
		Timeline template.HTML
	}{&in, in.now(), Timeline(in)})
	if err != nil {
		return "", fmt.Errorf("unable to render the report: %w", err)
	}
	return b.String(), nil
}
