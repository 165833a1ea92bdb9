package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"upgrader/internal/app"
	"upgrader/internal/codec"
)

func newCodecKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "codec-key ID",
		Short: "Print a new payload codec key line for a key ring (temporal.codec.keyFile)",
		Long: `codec-key prints "<ID> <64 hex digits>": a fresh AES-256 key for the payload codec.
Put it on the first line of the key ring (temporal.codec.keyFile, mode 600) of the worker, the
starter and the codec server; to rotate, put a new line first and keep the old ones after it
while runs that used them exist.`,
		Example: `  starter codec-key k2026-12 > /etc/upgrader/codec.keys && chmod 600 /etc/upgrader/codec.keys`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			line, err := codec.NewKeyLine(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), line)
			return nil
		},
	}
}

// ensureCodecKeys creates a key ring file with one fresh key unless one is
// there already (the demo's state folder keeps it across demos, so earlier
// runs still decrypt).
func ensureCodecKeys(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	line, err := codec.NewKeyLine("demo-1")
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(line+"\n"), 0o600)
}

func newCodecServerCmd(g *globals) *cobra.Command {
	var listen, tokenEnv string
	var origins []string
	cmd := &cobra.Command{
		Use:   "codec-server",
		Short: "Serve the payload codec to the Web UI (decoded inputs and results) and `temporal --codec-endpoint`",
		Long: `codec-server decrypts and encrypts payloads with the worker config's key ring
(temporal.codec) at POST /decode and /encode, Temporal's remote codec protocol. Point the Web UI at
it (its codec endpoint setting, or the dev server's --ui-codec-endpoint); the browser calls it
directly, so it must be reachable from operators' browsers and nobody else's: bind it to loopback or
behind the same access control as the UI, and/or require a bearer token.`,
		Example: `  starter codec-server --worker-config /etc/upgrader/worker.yaml --listen 127.0.0.1:8234 --ui-origin http://127.0.0.1:8233`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			if !cfg.Temporal.Codec.Enabled() {
				return fmt.Errorf("the worker config sets no temporal.codec key ring: there is nothing to decode")
			}
			c, err := app.Codec(cfg.Temporal.Codec)
			if err != nil {
				return err
			}
			o := codec.ServerOptions{Origins: origins}
			if tokenEnv != "" {
				if o.Token = os.Getenv(tokenEnv); len(o.Token) < 16 {
					return fmt.Errorf("--token-env %s: the variable must hold a token of at least 16 characters", tokenEnv)
				}
			}
			srv, addr, err := serveCodec(cmd.Context(), listen, c, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "codec server on http://%s (origins: %s)\n", addr, strings.Join(origins, ", "))
			<-cmd.Context().Done()
			return srv.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8234", "host:port to listen on")
	f.StringSliceVar(&origins, "ui-origin", []string{"http://127.0.0.1:8233"}, "the Web UI's origin(s) allowed to call from a browser")
	f.StringVar(&tokenEnv, "token-env", "", "environment variable holding a bearer token callers must send")
	return cmd
}

// serveCodec starts the codec server on listen (":0" picks a port) until
// ctx ends.
func serveCodec(ctx context.Context, listen string, c *codec.Codec, o codec.ServerOptions) (*http.Server, string, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, "", fmt.Errorf("codec server: %w", err)
	}
	srv := &http.Server{Handler: c.Handler(o), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return srv, l.Addr().String(), nil
}
