package integration_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"upgrader/config"
	"upgrader/internal/app"
	"upgrader/internal/codec"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

// The Web UI shows a run's decoded input when it reaches the codec server,
// and only ciphertext when it does not: a real Chromium (Debian's, headless)
// opens the run's page in the dev server's UI, as an operator would.
func TestWebUIShowsDecodedInputsThroughTheCodecServer(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium (scripts/install-test-deps.sh installs it): %v", err)
	}
	// The codec server, on a port the UI is told before it starts.
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	uiPort := freePort(t)
	codecSrv := &http.Server{Handler: payloadCodec.Handler(codec.ServerOptions{Origins: []string{"http://127.0.0.1:" + uiPort}})}
	go func() { _ = codecSrv.Serve(cl) }()
	t.Cleanup(func() { _ = codecSrv.Close() })

	ctx := context.Background()
	srv, err := app.StartDevServer(ctx, app.DevServerOptions{HostPort: "127.0.0.1:" + freePort(t), UIPort: uiPort,
		CodecEndpoint: "http://" + cl.Addr().String()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := app.Dial(ctx, config.Temporal{Address: srv.FrontendHostPort(), Namespace: "default",
		Codec: config.Codec{KeyFile: os.Getenv(config.EnvPrefix + "_TEMPORAL_CODEC_KEYFILE")}}, nil)
	require.NoError(t, err)
	defer c.Close()

	// A run whose input holds a value the page can show only decoded. No
	// worker: the input is in the run's first event.
	const marker = "ui-decoded-lab-dir-4471"
	in := workflows.NewDemoInput()
	in.Environment, in.LabDir = "browser", "/srv/"+marker
	id := runbook.WorkflowID("demo", "browser")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "nobody-polls"}, "DemoUpgrade", in)
	require.NoError(t, err)
	defer func() { _ = c.TerminateWorkflow(ctx, id, "", "test over") }()
	page := fmt.Sprintf("http://127.0.0.1:%s/namespaces/default/workflows/%s/%s/history",
		uiPort, strings.ReplaceAll(id, "/", "%2F"), run.GetRunID())

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// bodyHolds waits (up to limit) until the page's text holds want. It
	// asks again after errors: a page being replaced has no context to ask.
	bodyHolds := func(want string, limit time.Duration) error {
		deadline := time.Now().Add(limit)
		for {
			tctx, cancel := context.WithTimeout(bctx, 5*time.Second)
			ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](fmt.Sprintf("!!document.body && document.body.innerText.includes(%q)", want)))
			cancel()
			if err == nil && ok {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the page never showed %q (last error: %v)", want, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(page)))
	require.NoError(t, bodyHolds(marker, 60*time.Second), "the run's page never showed the decoded input %s", marker)

	// Without the codec server the page renders (the run's ID shows) but
	// the input stays ciphertext.
	require.NoError(t, codecSrv.Close())
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate("about:blank"), chromedp.Navigate(page)))
	require.NoError(t, bodyHolds("DemoUpgrade", 60*time.Second), "the run's page did not render without the codec server")
	require.Error(t, bodyHolds(marker, 10*time.Second), "the input showed decoded without the codec server")
	text, err := chromedp.Run(bctx, chromedp.Evaluate[string]("document.body.innerText"))
	require.NoError(t, err)
	require.NotContains(t, text, marker)
}
