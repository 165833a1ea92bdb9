package activities

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"

	"upgrader/internal/text"
)

// What history keeps of a command's output: the last lines, capped by count
// and by bytes. The whole output is in the step's log in the run's artifact
// folder (and, for a command that must not run twice, on the host).
const (
	tailMaxLines = 200
	tailMaxBytes = 64 << 10
	// lastLineMax caps the line a heartbeat carries.
	lastLineMax = 512
)

// outputScan reads a command's output line by line: it scrubs each line,
// writes it to the step log, keeps a capped tail and the line count for
// history and heartbeats, optionally the whole output for callers in this
// package that parse it, and judges the success and failure patterns.
type outputScan struct {
	scrub   func(string) string
	log     io.Writer
	keepAll bool
	// onLine, when set, hears the line count, last line and marker after
	// each line (the heartbeat details).
	onLine func(lines int, last, marker string)

	success, failure, ignore []*regexp.Regexp

	mu        sync.Mutex
	marker    string // the run-once folder on the host
	lines     int
	last      string
	tail      []string
	tailBytes int
	seen      []bool
	failLines []string
	all       strings.Builder
}

func newOutputScan(scrub func(string) string, log io.Writer, success, failure, ignore []*regexp.Regexp, keepAll bool) *outputScan {
	return &outputScan{scrub: scrub, log: log, keepAll: keepAll,
		success: success, failure: failure, ignore: ignore, seen: make([]bool, len(success))}
}

// read consumes r to its end.
func (o *outputScan) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		o.line(sc.Text())
	}
	// A line longer than the scanner's buffer ends the scan; drain the rest
	// so the remote side is never blocked on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

func (o *outputScan) line(raw string) {
	line := o.scrub(raw)
	if o.log != nil {
		fmt.Fprintln(o.log, line)
	}
	o.mu.Lock()
	defer func() {
		lines, last, marker := o.lines, o.last, o.marker
		o.mu.Unlock()
		if o.onLine != nil {
			o.onLine(lines, last, marker)
		}
	}()
	o.lines++
	o.last = text.Truncate(line, lastLineMax)
	if o.keepAll {
		o.all.WriteString(line)
		o.all.WriteByte('\n')
	}
	kept := text.Truncate(line, tailMaxBytes)
	o.tail = append(o.tail, kept)
	o.tailBytes += len(kept)
	for len(o.tail) > tailMaxLines || (len(o.tail) > 1 && o.tailBytes > tailMaxBytes) {
		o.tailBytes -= len(o.tail[0])
		o.tail = o.tail[1:]
	}
	for i, re := range o.success {
		if re.MatchString(line) {
			o.seen[i] = true
		}
	}
	if !matchesAny(o.ignore, line) && matchesAny(o.failure, line) && len(o.failLines) < 10 {
		o.failLines = append(o.failLines, text.Truncate(line, 300))
	}
}

// progress is what the next heartbeat carries.
func (o *outputScan) progress() commandProgress {
	o.mu.Lock()
	defer o.mu.Unlock()
	return commandProgress{Lines: o.lines, Last: o.last, Marker: o.marker}
}

// setMarker records the run-once folder the command runs under.
func (o *outputScan) setMarker(m string) {
	o.mu.Lock()
	o.marker = m
	o.mu.Unlock()
}

func compileAll(lists ...[]string) (success, failure, ignore []*regexp.Regexp, err error) {
	out := make([][]*regexp.Regexp, len(lists))
	for i, l := range lists {
		for _, p := range l {
			re, e := regexp.Compile(p)
			if e != nil {
				return nil, nil, nil, invalid("pattern %q is not a valid regular expression: %v", p, e)
			}
			out[i] = append(out[i], re)
		}
	}
	return out[0], out[1], out[2], nil
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// oneLine shows a command or statement on one line, cut at 80 bytes on a
// rune boundary.
func oneLine(s string) string {
	return text.OneLine(s, 80)
}
