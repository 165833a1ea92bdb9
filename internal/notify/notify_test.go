package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type secrets map[string]string

func (s secrets) Resolve(name string) (string, error) {
	v, ok := s[name]
	if !ok {
		return "", fmt.Errorf("secret %s not found", name)
	}
	return v, nil
}

type received struct {
	path, query string
	body        map[string]any
}

// receiver answers like the chats do: DingTalk and WeCom {"errcode":0},
// Feishu {"code":0}, Slack "ok"; /fail answers 500, /refuse a DingTalk
// error in a 200.
func receiver(t *testing.T) (*httptest.Server, func() []received) {
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		require.NoError(t, json.Unmarshal(b, &body), string(b))
		mu.Lock()
		got = append(got, received{r.URL.Path, r.URL.RawQuery, body})
		mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/fail"):
			http.Error(w, "down", http.StatusInternalServerError)
		case strings.HasPrefix(r.URL.Path, "/refuse"):
			fmt.Fprint(w, `{"errcode":310000,"errmsg":"keywords not in content"}`)
		case strings.HasPrefix(r.URL.Path, "/feishu"):
			fmt.Fprint(w, `{"code":0,"msg":"success"}`)
		case strings.HasPrefix(r.URL.Path, "/slack"):
			fmt.Fprint(w, "ok")
		default:
			fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received { mu.Lock(); defer mu.Unlock(); return append([]received(nil), got...) }
}

func TestEveryFormatPostsItsChatsShape(t *testing.T) {
	srv, got := receiver(t)
	now := time.Unix(1764550000, 0)
	s := &Sender{Now: func() time.Time { return now }, Secrets: secrets{
		"ding": srv.URL + "/dingtalk/robot/send?access_token=T0KEN", "ding-sign": "SECabc",
		"wecom": srv.URL + "/wecom/cgi-bin/webhook/send?key=K3Y", "feishu": srv.URL + "/feishu/open-apis/bot/v2/hook/H00K",
		"feishu-sign": "fsecret", "slack": srv.URL + "/slack/services/T/B/X",
	}, Webhooks: []Webhook{
		{Name: "plain", Format: FormatJSON, URL: srv.URL + "/json"},
		{Name: "ding", Format: FormatDingTalk, URLRef: "ding", SignRef: "ding-sign"},
		{Name: "wecom", Format: FormatWeCom, URLRef: "wecom", Events: []string{GateWaiting}},
		{Name: "feishu", Format: FormatFeishu, URLRef: "feishu", SignRef: "feishu-sign"},
		{Name: "slack", Format: FormatSlack, URLRef: "slack", Events: []string{RunEnded}},
	}}
	ev := Event{Kind: GateWaiting, WorkflowID: "upgrade/demo/lab", Guide: "demo", Title: "Demo", Environment: "lab",
		From: "0.21", To: "0.22", Step: "approve/delete", Section: "2", Prompt: "Delete the old releases?", At: now}
	require.Empty(t, s.Send(context.Background(), ev))
	r := got()
	require.Len(t, r, 4, "slack wants run-ended only")

	require.Equal(t, "/json", r[0].path)
	require.Equal(t, "gate-waiting", r[0].body["kind"])
	require.Equal(t, "approve/delete", r[0].body["step"])

	require.Equal(t, "markdown", r[1].body["msgtype"])
	md := r[1].body["markdown"].(map[string]any)
	require.Equal(t, "Approval needed: approve/delete", md["title"])
	require.Contains(t, md["text"], "starter approve upgrade/demo/lab approve/delete")
	mac := hmac.New(sha256.New, []byte("SECabc"))
	mac.Write([]byte(fmt.Sprint(now.UnixMilli()) + "\nSECabc"))
	require.Contains(t, r[1].query, "access_token=T0KEN")
	require.Contains(t, r[1].query, "timestamp="+fmt.Sprint(now.UnixMilli()))
	q := strings.ReplaceAll(r[1].query, "%2B", "+")
	q = strings.ReplaceAll(strings.ReplaceAll(q, "%2F", "/"), "%3D", "=")
	require.Contains(t, q, "sign="+base64.StdEncoding.EncodeToString(mac.Sum(nil)))

	require.Equal(t, "markdown", r[2].body["msgtype"])
	require.Contains(t, r[2].body["markdown"].(map[string]any)["content"], "§2 `approve/delete` waits for approval")

	require.Equal(t, "text", r[3].body["msg_type"])
	require.Contains(t, r[3].body["content"].(map[string]any)["text"], "Delete the old releases?")
	fmac := hmac.New(sha256.New, []byte(fmt.Sprint(now.Unix())+"\nfsecret"))
	require.Equal(t, base64.StdEncoding.EncodeToString(fmac.Sum(nil)), r[3].body["sign"])
	require.Equal(t, fmt.Sprint(now.Unix()), r[3].body["timestamp"])

	ev.Kind, ev.State, ev.Report = RunEnded, "completed", "/art/report.html"
	require.Empty(t, s.Send(context.Background(), ev))
	r = got()[4:]
	require.Len(t, r, 4, "wecom wants gate-waiting only")
	require.Equal(t, "/slack/services/T/B/X", r[3].path)
	require.Contains(t, r[3].body["text"], "*Run completed: upgrade/demo/lab*")
	require.Contains(t, r[3].body["text"], "report: /art/report.html")
}

func TestAFailingWebhookIsNamedWithoutItsToken(t *testing.T) {
	srv, got := receiver(t)
	s := &Sender{Secrets: secrets{"bad": srv.URL + "/fail?access_token=T0KEN", "refuse": srv.URL + "/refuse?access_token=T0KEN"},
		Webhooks: []Webhook{{Name: "down", Format: FormatDingTalk, URLRef: "bad"}, {Name: "refusing", Format: FormatDingTalk, URLRef: "refuse"},
			{Name: "unknown-secret", Format: FormatJSON, URLRef: "nope"}, {Name: "ok", Format: FormatJSON, URL: srv.URL + "/json"}}}
	errs := s.Send(context.Background(), Event{Kind: DecisionNeeded, Step: "upgrade/x", Error: "boom"})
	require.Len(t, errs, 3)
	require.Contains(t, errs[0].Error(), "webhook down: answered 500")
	require.Contains(t, errs[1].Error(), "webhook refusing: answered errcode 310000")
	require.Contains(t, errs[2].Error(), "webhook unknown-secret")
	for _, e := range errs {
		require.NotContains(t, e.Error(), "T0KEN")
	}
	n := 0
	for _, r := range got() {
		if r.path == "/fail" {
			n++
		}
	}
	require.Equal(t, 3, n, "a failing webhook is tried three times")
	require.Equal(t, "/json", got()[len(got())-1].path, "the others still get the event")
}
