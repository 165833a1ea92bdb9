package activities

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/alessio/shellescape"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"

	"upgrader/internal/contract"
	"upgrader/internal/text"
)

// A command that must not run twice runs on the host like this:
//
//   - Its marker folder is <marker dir>/<run ID>/<step>/<try>-<digest>: the
//     try is the activity ID (step and operator try; Temporal's automatic
//     retries of one try share it, an operator's retry gets a new one), the
//     digest identifies the command (shell, body, environment, names of its
//     secrets). `mkdir` of that folder is the claim: only the session that
//     creates it starts the command, every later one reattaches.
//   - The command is started detached (setsid, nohup, stdin from
//     /dev/null, output to <marker>/out) so a dead worker or a cut SSH
//     session does not stop it. A runner shell holds a flock on
//     <marker>/lock while it runs (the command itself does not inherit the
//     lock's descriptor), and writes the exit code to <marker>/exit when it
//     ends (atomically, via rename).
//   - Every try, the first included, then follows the marker: it streams
//     <marker>/out from the start (stdout of the session) and reports on
//     stderr "upgrader: exit N" once the exit file exists (and marks the
//     result collected), or "upgrader: lost" when the runner is gone
//     without one (the host rebooted, someone killed it). A session cut
//     while following leaves the command running; the next try follows it
//     again.
//   - A new operator try first looks at the step's earlier tries: the same
//     command still running, or finished with a result no try collected, is
//     adopted (followed, its result taken); another command of the step
//     still running is reported as busy; a command gone without an exit
//     code is reported once (NotRepeatable), so the person who then retries
//     knowingly runs it again.

const defaultMarkerDir = ".upgrader/commands"

// runnerScript is what the detached runner runs: sh -c runnerScript
// upgrader-run <marker> <shell>.
const runnerScript = `D=$1; SH=$2
exec 9>"$D/lock"
if command -v flock >/dev/null 2>&1; then flock -n 9 || exit 0; fi
echo $$ > "$D/pid"
$SH "$D/cmd" >"$D/out" 2>&1 </dev/null 9>&-
echo $? > "$D/exit.tmp" && mv -f "$D/exit.tmp" "$D/exit"
`

// runningFunc tells whether the runner of the marker folder $1 still runs:
// it holds the folder's lock (or, without flock, its pid is alive).
const runningFunc = `running() {
  [ -f "$1/pid" ] || return 1
  if command -v flock >/dev/null 2>&1; then
    ! flock -n "$1/lock" true 2>/dev/null
  else
    kill -0 "$(cat "$1/pid")" 2>/dev/null
  fi
}
`

// earlierScript looks at the step's earlier tries before this one claims
// its marker $D (digest $G).
const earlierScript = `if [ ! -d "$D" ]; then
  for o in "$(dirname "$D")"/*; do
    [ -d "$o" ] || continue
    if [ ! -f "$o/exit" ]; then
      if running "$o"; then
        if [ "${o##*-}" = "$G" ]; then echo "upgrader: adopted $(cat "$o/started" 2>/dev/null)" >&2; D=$o; A=1; break; fi
        echo "upgrader: busy $o $(cat "$o/started" 2>/dev/null)" >&2
        exit 0
      fi
      if [ -f "$o/pid" ] && [ ! -f "$o/reported" ]; then
        : > "$o/reported"
        echo "upgrader: lost-earlier $o $(cat "$o/started" 2>/dev/null)" >&2
        exit 0
      fi
    elif [ ! -f "$o/collected" ] && [ "${o##*-}" = "$G" ]; then
      echo "upgrader: adopted $(cat "$o/started" 2>/dev/null)" >&2; D=$o; A=1; break
    fi
  done
fi
`

// followScript streams the marker's output and reports how it ended. It
// writes to stderr now and then, so a follower whose session is gone dies
// of SIGPIPE instead of polling until the command ends.
const followScript = `off=0; i=0; w=0
while :; do
  fin=; [ -f "$D/exit" ] && fin=1
  n=$(wc -c < "$D/out" 2>/dev/null) || n=0
  n=$((n+0))
  if [ "$n" -gt "$off" ]; then tail -c +$((off+1)) "$D/out" | head -c $((n-off)); off=$n; fi
  if [ -n "$fin" ]; then : > "$D/collected"; echo "upgrader: exit $(cat "$D/exit")" >&2; exit 0; fi
  if ! running "$D" && [ ! -f "$D/exit" ]; then
    if [ -f "$D/pid" ] || [ "$w" -ge 100 ]; then : > "$D/reported"; echo "upgrader: lost $(cat "$D/started" 2>/dev/null)" >&2; exit 0; fi
    w=$((w+1))
  fi
  i=$((i+1))
  if [ $((i % 40)) -eq 0 ]; then echo "upgrader: waiting" >&2; fi
  if [ "$i" -lt 10 ]; then s=0.01; elif [ "$i" -lt 40 ]; then s=0.05; else s=0.25; fi
  sleep "$s" 2>/dev/null || sleep 1
done
`

// commandDigest identifies a command within a step: shell, body,
// environment and the names of its secrets (never their values).
func commandDigest(in HostCommandInput) string {
	h := sha256.New()
	for _, s := range []string{in.shell(), in.body()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, m := range []map[string]string{in.Env, in.SecretEnv} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			h.Write([]byte(k + "=" + m[k]))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// markerName names a command's marker folder under the marker dir:
// <run ID>/<step>/<activity ID>-<digest>. The step folder holds one marker
// per operator try (and per command, for a step that runs several), so a
// new try sees what earlier ones left.
func markerName(ctx context.Context, in HostCommandInput) string {
	info := activity.GetInfo(ctx)
	run := info.WorkflowExecution.RunID
	if run == "" {
		run = "no-run"
	}
	return markerSafe(run) + "/" + markerSafe(StepName(ctx)) + "/" + markerSafe(info.ActivityID) + "-" + commandDigest(in)
}

// markerSafe keeps a name readable in a folder name: letters, digits, '.',
// '_' and '-' stay, anything else becomes '_'.
func markerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
	if len(s) > 100 {
		s = s[:100]
	}
	return strings.TrimLeft(s, ".")
}

// markerBase is the shell expression of the marker dir on the host.
func (h *Host) markerBase() string {
	dir := h.MarkerDir
	if dir == "" {
		dir = defaultMarkerDir
	}
	if path.IsAbs(dir) {
		return shellescape.Quote(dir)
	}
	return `"$HOME"/` + shellescape.Quote(dir)
}

// tryOf is the operator's try in an activity ID ("upgrade/x#2" → "2").
func tryOf(activityID string) string {
	if i := strings.LastIndexByte(activityID, '#'); i >= 0 {
		return activityID[i+1:]
	}
	return "1"
}

// launcher builds the script the session's shell reads from stdin: look at
// the step's earlier tries, claim the marker and start the command
// detached, or find it claimed; then follow it.
func (h *Host) launcher(ctx context.Context, in HostCommandInput, exports, name string) string {
	info := activity.GetInfo(ctx)
	var b strings.Builder
	b.WriteString("umask 077\n")
	b.WriteString("D=" + h.markerBase() + "/" + shellescape.Quote(name) + "\n")
	b.WriteString("G=" + commandDigest(in) + "\nA=\n")
	b.WriteString(exports)
	b.WriteString(runningFunc)
	b.WriteString(earlierScript)
	fmt.Fprintf(&b, `if [ -n "$A" ]; then :
elif mkdir -p "$(dirname "$D")" 2>/dev/null && mkdir "$D" 2>/dev/null; then
  printf '%%s' %s > "$D/cmd"
  printf 'at %%s by try %%s, attempt %%s\n' "$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)" %s %s > "$D/started"
  : > "$D/out"
  S=; command -v setsid >/dev/null 2>&1 && S=setsid
  $S nohup sh -c %s upgrader-run "$D" %s </dev/null >/dev/null 2>&1 &
  echo "upgrader: started" >&2
elif [ -d "$D" ]; then
  echo "upgrader: reattached $(cat "$D/started" 2>/dev/null)" >&2
else
  echo "upgrader: cannot create $D: check that the SSH user may write there (Host.MarkerDir)" >&2
  exit 1
fi
echo "upgrader: marker $D" >&2
`, shellescape.Quote(in.body()), shellescape.Quote(tryOf(info.ActivityID)), strconv.Itoa(int(info.Attempt)),
		shellescape.Quote(runnerScript), shellescape.Quote(in.shell()))
	b.WriteString(followScript)
	return b.String()
}

// runOnce starts the command under its marker, or reattaches to the one an
// earlier attempt or try started, and follows it to its end. It returns the
// command's exit code and, when this try took another's run, when and by
// which try that run was started.
func (h *Host) runOnce(ctx context.Context, client *ssh.Client, in HostCommandInput, exports string, scan *outputScan, prog *Progress) (int, string, error) {
	name := markerName(ctx, in)
	sess, err := client.NewSession()
	if err != nil {
		return 0, "", fmt.Errorf("unable to open a session on %s: %w", in.Host, err)
	}
	defer sess.Close()
	pr, pw := io.Pipe()
	er, ew := io.Pipe()
	sess.Stdout, sess.Stderr = pw, ew
	sess.Stdin = strings.NewReader(h.launcher(ctx, in, exports, name))
	if err := sess.Start("sh -s"); err != nil {
		return 0, "", fmt.Errorf("unable to start sh on %s: %w", in.Host, err)
	}
	var (
		wg     sync.WaitGroup
		ctl    control
		cmu    sync.Mutex
		tail   []string
		marked bool
	)
	wg.Add(2)
	go func() { defer wg.Done(); scan.read(scrubReader(h.Scrub, pr)) }()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(er)
		for sc.Scan() {
			line := sc.Text()
			cmu.Lock()
			if !ctl.parse(line) {
				tail = append(lastN(tail, 9), text.Truncate(h.scrub(line), 300))
			}
			if ctl.marker != "" && !marked {
				marked = true
				scan.setMarker(ctl.marker)
				prog.Set(scan.progress())
			}
			cmu.Unlock()
		}
		_, _ = io.Copy(io.Discard, er)
	}()
	waitErr := make(chan error, 1)
	go func() { err := sess.Wait(); pw.Close(); ew.Close(); waitErr <- err }()
	var runErr error
	select {
	case runErr = <-waitErr:
	case <-ctx.Done():
		// Only the follower dies with the session; the command goes on and
		// the next attempt (if any) reattaches to it.
		client.Close()
		<-waitErr
		wg.Wait()
		return 0, ctl.startedBy(), fmt.Errorf("stopped following `%s` on %s (it keeps running there, under %s): %w",
			oneLine(in.Command), in.Host, ctl.marker, ctx.Err())
	}
	wg.Wait()
	cmu.Lock()
	defer cmu.Unlock()
	switch {
	case ctl.exited:
		return ctl.code, ctl.startedBy(), nil
	case ctl.busy != "":
		return 0, "", temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"`%s` on %s was not started: an earlier try of this step still runs it (%s); it is not safe to run twice, "+
				"so wait for it to end (its exit code will be in exit there), then retry to run it again or skip if it completed",
			oneLine(in.Command), in.Host, ctl.busy), contract.ErrNotRepeatable, nil)
	case ctl.lostEarlier != "":
		return 0, "", temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"`%s` on %s was not started: an earlier try of this step started it (%s) and it is gone without an exit "+
				"code (the host may have rebooted, or someone killed it), so it may have run in part; check its output in "+
				"out there and the host's state, then retry to run it again or skip if it completed",
			oneLine(in.Command), in.Host, ctl.lostEarlier), contract.ErrNotRepeatable, nil)
	case ctl.lost:
		return 0, "", temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"`%s` on %s was started (%s) but is gone without an exit code: the host may have rebooted or someone "+
				"killed it, so it may have run in part; it is not safe to repeat, so check its output in %s/out and the host's "+
				"state, then retry to run it again or skip if it completed", oneLine(in.Command), in.Host, ctl.started, ctl.marker),
			contract.ErrNotRepeatable, nil)
	case ctl.marker == "" && runErr != nil && len(tail) > 0:
		return 0, "", fmt.Errorf("unable to start `%s` on %s: %s", oneLine(in.Command), in.Host, strings.Join(tail, " | "))
	}
	return 0, "", fmt.Errorf("lost the SSH session to %s while `%s` ran (%v); it keeps running there "+
		"(marker %s) and the next attempt reattaches to it rather than start it again", in.Host, oneLine(in.Command), runErr, ctl.marker)
}

// control is what the launcher and follower report on stderr.
type control struct {
	marker     string
	reattached bool
	started    string
	exited     bool
	code       int
	lost       bool
	busy       string
	// lostEarlier names an earlier try's marker whose command is gone
	// without an exit code.
	lostEarlier string
}

// startedBy says when and by which try the command this try took was
// started; empty when this try started it.
func (c *control) startedBy() string {
	if !c.reattached {
		return ""
	}
	if c.started == "" {
		return "by an earlier try"
	}
	return c.started
}

// parse takes one stderr line; false if it is not a control line.
func (c *control) parse(line string) bool {
	rest, ok := strings.CutPrefix(line, "upgrader: ")
	if !ok {
		return false
	}
	verb, arg, _ := strings.Cut(rest, " ")
	switch verb {
	case "started", "waiting":
	case "reattached", "adopted":
		c.reattached, c.started = true, arg
	case "marker":
		c.marker = arg
	case "exit":
		n, err := strconv.Atoi(strings.TrimSpace(arg))
		if err != nil {
			return false
		}
		c.exited, c.code = true, n
	case "lost":
		c.lost, c.started = true, arg
	case "busy":
		c.busy = arg
	case "lost-earlier":
		c.lostEarlier = arg
	default:
		return false
	}
	return true
}
