package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"upgrader/internal/codec"
	"upgrader/internal/secret"
)

// SecretCheck is what NoSecrets searches: every event of every run of a
// workflow ID (payloads decoded: inputs, results, heartbeat details, update
// and signal arguments, memo, search attributes, failures with causes and
// details), the processes' logs, and the run's journal and log files.
type SecretCheck struct {
	Client client.Client
	// Codec decrypts the payloads; nil when they are plain.
	Codec converter.PayloadCodec
	// WorkflowID is the run's ID; every run under it is read.
	WorkflowID string
	// Secrets are the values no one may see, in any form.
	Secrets []string
	// Logs are processes' output by name (the worker's log, the starter's).
	Logs map[string]string
	// ArtifactDir is searched for journal.log and *.log files.
	ArtifactDir string
	// MinEvents is how many events the history must have at least (a
	// check of an empty history proves nothing).
	MinEvents int
	// Encrypted asks that every payload but the search attributes (which
	// the server must read) be encrypted by the codec, as
	// `temporal workflow show` without the codec would show them.
	Encrypted bool
}

// Finding is one place a secret showed.
type Finding struct {
	Where string // "run R event 12 (ActivityTaskCompleted) payload", "worker log", a file
	Form  string // raw, json, base64, ...
}

func (f Finding) String() string { return f.Where + ": the secret in " + f.Form + " form" }

// FindSecrets returns every place a secret of c shows.
func FindSecrets(ctx context.Context, c SecretCheck) ([]Finding, error) {
	var found []Finding
	look := func(where, text string) {
		for _, f := range secret.Find(text, c.Secrets...) {
			found = append(found, Finding{Where: where, Form: f.Name})
		}
	}
	runs, err := runsOf(ctx, c.Client, c.WorkflowID)
	if err != nil {
		return nil, err
	}
	events := 0
	for _, run := range runs {
		it := c.Client.GetWorkflowHistory(ctx, c.WorkflowID, run, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, fmt.Errorf("reading the history of %s run %s: %w", c.WorkflowID, run, err)
			}
			events++
			where := fmt.Sprintf("run %s event %d (%s)", run, ev.GetEventId(), ev.GetEventType())
			plain, texts, err := decodeEvent(ctx, ev, c.Codec, c.Encrypted)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			for _, t := range texts {
				look(where+" payload", t)
			}
			b, err := protojson.Marshal(plain)
			if err != nil {
				return nil, err
			}
			look(where, string(b))
		}
	}
	if events < c.MinEvents {
		return nil, fmt.Errorf("%s has %d events, expected at least %d: the check would prove nothing", c.WorkflowID, events, c.MinEvents)
	}
	names := make([]string, 0, len(c.Logs))
	for n := range c.Logs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		look(n, c.Logs[n])
	}
	if c.ArtifactDir != "" {
		err := filepath.WalkDir(c.ArtifactDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() || (d.Name() != "journal.log" && !strings.HasSuffix(d.Name(), ".log")) {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			look(p, string(b))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return found, nil
}

// NoSecrets fails t when a secret of c shows anywhere, naming each place.
func NoSecrets(t TB, c SecretCheck) {
	t.Helper()
	found, err := FindSecrets(context.Background(), c)
	if err != nil {
		t.Fatalf("checking %s for secrets: %v", c.WorkflowID, err)
	}
	if len(found) > 0 {
		lines := make([]string, len(found))
		for i, f := range found {
			lines[i] = f.String()
		}
		t.Fatalf("a secret of %s shows in %d places:\n  %s", c.WorkflowID, len(found), strings.Join(lines, "\n  "))
	}
}

// runsOf lists every run of id: those visibility knows, and the latest
// run's continue-as-new chain back to its first.
func runsOf(ctx context.Context, c client.Client, id string) ([]string, error) {
	seen := map[string]bool{}
	var runs []string
	add := func(r string) {
		if r != "" && !seen[r] {
			seen[r] = true
			runs = append(runs, r)
		}
	}
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = '%s'", id), NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("listing the runs of %s: %w", id, err)
		}
		for _, e := range resp.GetExecutions() {
			add(e.GetExecution().GetRunId())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", id, err)
	}
	run := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	for run != "" && !seen[run] {
		add(run)
		it := c.GetWorkflowHistory(ctx, id, run, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		if !it.HasNext() {
			break
		}
		first, err := it.Next()
		if err != nil {
			return nil, err
		}
		run = first.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
	}
	return runs, nil
}

// decodeEvent returns a copy of ev with every payload decoded, and the text
// of every decoded payload (metadata and data). With encrypted set, a
// payload the codec did not encrypt is an error.
func decodeEvent(ctx context.Context, ev *historypb.HistoryEvent, pc converter.PayloadCodec, encrypted bool) (*historypb.HistoryEvent, []string, error) {
	out := proto.Clone(ev).(*historypb.HistoryEvent)
	var texts []string
	if encrypted {
		err := proxy.VisitPayloads(ctx, out, proxy.VisitPayloadsOptions{SkipSearchAttributes: true,
			Visitor: func(vc *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
				for _, p := range ps {
					if string(p.GetMetadata()[converter.MetadataEncoding]) != codec.Encoding {
						return nil, fmt.Errorf("a payload is not encrypted (encoding %q): %.200s",
							p.GetMetadata()[converter.MetadataEncoding], p.GetData())
					}
				}
				return ps, nil
			}})
		if err != nil {
			return nil, nil, err
		}
	}
	err := proxy.VisitPayloads(ctx, out, proxy.VisitPayloadsOptions{
		Visitor: func(vc *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			if pc != nil {
				var err error
				if ps, err = pc.Decode(ps); err != nil {
					return nil, err
				}
			}
			for _, p := range ps {
				var b strings.Builder
				for k, v := range p.GetMetadata() {
					b.WriteString(k + "=" + string(v) + "\n")
				}
				b.Write(p.GetData())
				texts = append(texts, b.String())
			}
			return ps, nil
		}})
	return out, texts, err
}

// DecodeHistory decodes every payload of h in place (a recorded history
// kept for replay tests is kept plain).
func DecodeHistory(ctx context.Context, h *historypb.History, pc converter.PayloadCodec) error {
	return proxy.VisitPayloads(ctx, h, proxy.VisitPayloadsOptions{
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return pc.Decode(ps)
		}})
}
