package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"upgrader/workflows/runbook"
)

// TemporalVersion is the Temporal CLI (dev server + Web UI) the project pins;
// scripts/build-tools.sh builds it once into the cache.
const TemporalVersion = "1.5.1"

// TemporalBin finds the pinned Temporal CLI: $UPGRADER_TEMPORAL_BIN, else
// <cache>/bin/temporal-<version> where cache is $UPGRADER_CACHE or
// ~/.cache/upgrader. Nothing is downloaded: the SDK's automatic download
// needs the internet, which upgrader's sites and CI do not have.
func TemporalBin() (string, error) {
	if p := os.Getenv("UPGRADER_TEMPORAL_BIN"); p != "" {
		return p, nil
	}
	cache := os.Getenv("UPGRADER_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache", "upgrader")
	}
	p := filepath.Join(cache, "bin", "temporal-"+TemporalVersion)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the Temporal CLI %s is not built yet (%s); build it once with `scripts/build-tools.sh temporal` "+
			"(about 13 minutes on 2 cores), or point UPGRADER_TEMPORAL_BIN at a temporal binary", TemporalVersion, p)
	}
	return p, nil
}

// DevServerOptions configure a local dev server.
type DevServerOptions struct {
	// HostPort to bind; empty picks a free loopback port.
	HostPort string
	// UIPort for the Web UI; empty runs headless.
	UIPort string
	// DBFile keeps state across restarts; empty keeps it in memory.
	DBFile string
	// Log receives the server's output; nil discards it.
	Log io.Writer
	// CodecEndpoint is the codec server the Web UI decodes payloads with.
	CodecEndpoint string
}

// StartDevServer starts the pinned Temporal dev server with upgrader's
// search attributes registered, and waits until it answers.
func StartDevServer(ctx context.Context, o DevServerOptions) (*testsuite.DevServer, error) {
	bin, err := TemporalBin()
	if err != nil {
		return nil, err
	}
	for _, hp := range []string{o.HostPort, uiHostPort(o)} {
		if hp == "" {
			continue
		}
		l, err := net.Listen("tcp", hp)
		if err != nil {
			return nil, fmt.Errorf("cannot start the dev server: %s is in use (another dev server? stop it, or pick other ports)", hp)
		}
		l.Close()
	}
	var updates []temporal.SearchAttributeUpdate
	for _, k := range runbook.SearchAttributeKeys() {
		updates = append(updates, k.ValueSet(""))
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	opts := testsuite.DevServerOptions{
		ExistingPath:     bin,
		ClientOptions:    &client.Options{HostPort: o.HostPort, Namespace: "default", Logger: NewLogger("error", o.Log)},
		DBFilename:       o.DBFile,
		EnableUI:         o.UIPort != "",
		UIPort:           o.UIPort,
		LogLevel:         "warn",
		SearchAttributes: temporal.NewSearchAttributes(updates...),
		Stdout:           o.Log,
		Stderr:           o.Log,
		ExtraArgs:        append(DevServerDynamicConfig(), uiCodecArgs(o)...),
	}
	srv, err := testsuite.StartDevServer(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("unable to start the Temporal dev server (%s): %w", bin, err)
	}
	return srv, nil
}

// DevServerDynamicConfig is the dynamic config the dev server runs with.
// The dev server has one history shard, and its transfer-queue reader polls
// at most history.transferProcessorMaxPollRPS times a second (default 20):
// up to 50 ms before every new workflow or activity task reaches matching,
// ~45 ms per dispatch measured, ~100 ms per step. Raising it, and letting a
// workflow task completion hand its activity back at once (eager
// execution), is what a production cluster with many shards gets anyway;
// see ../shared/LAB-NOTES.md ("Where the 45 ms comes from") and the README.
func DevServerDynamicConfig() []string {
	return []string{
		"--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000",
		"--dynamic-config-value", "system.enableActivityEagerExecution=true",
	}
}

func uiCodecArgs(o DevServerOptions) []string {
	if o.CodecEndpoint == "" || o.UIPort == "" {
		return nil
	}
	return []string{"--ui-codec-endpoint", o.CodecEndpoint}
}

func uiHostPort(o DevServerOptions) string {
	if o.UIPort == "" || o.HostPort == "" {
		return ""
	}
	host, _, _ := net.SplitHostPort(o.HostPort)
	return net.JoinHostPort(host, o.UIPort)
}
