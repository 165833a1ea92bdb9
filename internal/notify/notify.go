// Package notify posts a run's moments that need people — a gate waiting for
// approval, a step paused for a decision, a run that ended — to the webhooks
// in the worker config, in the message format of each team's chat: plain
// JSON, DingTalk, WeCom (企业微信), Feishu, Slack. Webhook URLs carry tokens,
// so the config names them as secrets; the worker resolves them. A webhook
// that fails is logged and never fails a step.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event kinds.
const (
	GateWaiting    = "gate-waiting"    // a step waits at its gate for approval
	DecisionNeeded = "decision-needed" // a step failed and waits for retry, skip or abort
	RunEnded       = "run-ended"       // the run completed, was aborted or rejected
)

// Formats of the message body.
const (
	FormatJSON     = "json"
	FormatDingTalk = "dingtalk"
	FormatWeCom    = "wecom"
	FormatFeishu   = "feishu"
	FormatSlack    = "slack"
)

// Formats lists every format a webhook may have.
var Formats = []string{FormatJSON, FormatDingTalk, FormatWeCom, FormatFeishu, FormatSlack}

// Events lists every event kind.
var Events = []string{GateWaiting, DecisionNeeded, RunEnded}

// Event is one moment of a run. It holds names and states, never secrets.
type Event struct {
	Kind        string    `json:"kind"`
	WorkflowID  string    `json:"workflowId"`
	Guide       string    `json:"guide"`
	Title       string    `json:"title,omitempty"`
	Environment string    `json:"environment"`
	From        string    `json:"from,omitempty"`
	To          string    `json:"to,omitempty"`
	State       string    `json:"state,omitempty"`
	Step        string    `json:"step,omitempty"`
	Section     string    `json:"section,omitempty"`
	Prompt      string    `json:"prompt,omitempty"`
	Error       string    `json:"error,omitempty"`
	Report      string    `json:"report,omitempty"`
	At          time.Time `json:"at"`
}

// Webhook is one place to post to.
type Webhook struct {
	Name   string
	Format string
	// URL is a webhook URL without a token; URLRef names a secret holding
	// the whole URL (DingTalk's access_token, WeCom's key, Feishu's and
	// Slack's hook paths are the credential).
	URL    string
	URLRef string
	// SignRef names a secret for DingTalk's or Feishu's signed webhooks.
	SignRef string
	// Events this webhook wants; empty: all.
	Events []string
}

// Secrets resolves secret names.
type Secrets interface {
	Resolve(name string) (string, error)
}

// Sender posts events to webhooks.
type Sender struct {
	Webhooks []Webhook
	Secrets  Secrets
	Client   *http.Client
	// Now is the clock for signatures; nil: time.Now.
	Now func() time.Time
}

// Send posts ev to every webhook that wants it and returns one error per
// webhook that failed (named, never with its URL). Each post is tried up to
// three times.
func (s *Sender) Send(ctx context.Context, ev Event) []error {
	var errs []error
	for _, w := range s.Webhooks {
		if len(w.Events) > 0 && !slices.Contains(w.Events, ev.Kind) {
			continue
		}
		var err error
		for try := 0; try < 3; try++ {
			if err = s.post(ctx, w, ev); err == nil || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(try+1) * 500 * time.Millisecond):
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("webhook %s: %w", w.Name, err))
		}
	}
	return errs
}

func (s *Sender) post(ctx context.Context, w Webhook, ev Event) error {
	target := w.URL
	if w.URLRef != "" {
		v, err := s.Secrets.Resolve(w.URLRef)
		if err != nil {
			return err
		}
		target = strings.TrimSpace(v)
	}
	var sign string
	if w.SignRef != "" {
		v, err := s.Secrets.Resolve(w.SignRef)
		if err != nil {
			return err
		}
		sign = strings.TrimSpace(v)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	body, target, err := Build(w.Format, ev, target, sign, now())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return errors.New("the webhook URL is not valid") // the URL holds a token: not repeated
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("post failed: %v", ue.Err) // without the URL
		}
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(answer)))
	}
	// DingTalk, WeCom and Feishu answer 200 with an error code in the body.
	var code struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
		Code    *int   `json:"code"`
		Msg     string `json:"msg"`
	}
	if json.Unmarshal(answer, &code) == nil {
		if code.ErrCode != nil && *code.ErrCode != 0 {
			return fmt.Errorf("answered errcode %d: %s", *code.ErrCode, code.ErrMsg)
		}
		if code.Code != nil && *code.Code != 0 {
			return fmt.Errorf("answered code %d: %s", *code.Code, code.Msg)
		}
	}
	return nil
}

// Text is the event as a few lines of Markdown a person reads in a chat.
func Text(ev Event) (title, body string) {
	run := fmt.Sprintf("%s %s → %s on %s", orName(ev.Title, ev.Guide), ev.From, ev.To, ev.Environment)
	step := "`" + ev.Step + "`"
	if ev.Section != "" {
		step = "§" + ev.Section + " " + step
	}
	var b strings.Builder
	switch ev.Kind {
	case GateWaiting:
		title = "Approval needed: " + ev.Step
		fmt.Fprintf(&b, "**%s**\n\n%s waits for approval: %s\n\napprove: `starter approve %s %s --comment \"…\"`",
			run, step, ev.Prompt, ev.WorkflowID, ev.Step)
	case DecisionNeeded:
		title = "Step failed: " + ev.Step
		fmt.Fprintf(&b, "**%s**\n\n%s failed: %s\n\ndecide: `starter decide %s %s retry|skip|abort`",
			run, step, ev.Error, ev.WorkflowID, ev.Step)
	default:
		title = "Run " + ev.State + ": " + ev.WorkflowID
		fmt.Fprintf(&b, "**%s**: %s", run, ev.State)
		if ev.Report != "" {
			fmt.Fprintf(&b, "\n\nreport: %s", ev.Report)
		}
	}
	return title, b.String()
}

// Build returns the body to post in format, and the URL to post it to
// (DingTalk's signature goes into the URL).
func Build(format string, ev Event, target, sign string, now time.Time) ([]byte, string, error) {
	title, text := Text(ev)
	var body any
	switch format {
	case FormatJSON, "":
		body = ev
	case FormatDingTalk:
		// DingTalk custom robot (open.dingtalk.com/document/robots/custom-robot-access,
		// message types at .../robot-message-type): {"msgtype":"markdown",
		// "markdown":{"title","text"}}. Signed robots: timestamp (ms) and
		// sign = urlencode(base64(HmacSHA256(key=secret, timestamp+"\n"+secret))) in the URL.
		body = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": title, "text": "#### " + title + "\n\n" + text}}
		if sign != "" {
			ts := strconv.FormatInt(now.UnixMilli(), 10)
			m := hmac.New(sha256.New, []byte(sign))
			m.Write([]byte(ts + "\n" + sign))
			u, err := url.Parse(target)
			if err != nil {
				return nil, "", errors.New("the webhook URL is not valid")
			}
			q := u.Query()
			q.Set("timestamp", ts)
			q.Set("sign", base64.StdEncoding.EncodeToString(m.Sum(nil)))
			u.RawQuery = q.Encode()
			target = u.String()
		}
	case FormatWeCom:
		// WeCom group robot (developer.work.weixin.qq.com/document/path/91770):
		// {"msgtype":"markdown","markdown":{"content"}}, content up to 4096 bytes.
		body = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": limit("## "+title+"\n"+text, 4000)}}
	case FormatFeishu:
		// Feishu custom bot (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot):
		// {"msg_type":"text","content":{"text"}}; signed bots add "timestamp"
		// (seconds) and "sign" = base64(HmacSHA256(key=timestamp+"\n"+secret, message="")).
		m := map[string]any{"msg_type": "text", "content": map[string]string{"text": title + "\n" + text}}
		if sign != "" {
			ts := strconv.FormatInt(now.Unix(), 10)
			h := hmac.New(sha256.New, []byte(ts+"\n"+sign))
			m["timestamp"] = ts
			m["sign"] = base64.StdEncoding.EncodeToString(h.Sum(nil))
		}
		body = m
	case FormatSlack:
		// Slack incoming webhook (api.slack.com/messaging/webhooks): {"text"}
		// in mrkdwn, where bold is *one star*.
		body = map[string]string{"text": "*" + title + "*\n" + strings.ReplaceAll(text, "**", "*")}
	default:
		return nil, "", fmt.Errorf("unknown format %q (one of %s)", format, strings.Join(Formats, ", "))
	}
	b, err := json.Marshal(body)
	return b, target, err
}

func limit(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func orName(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
