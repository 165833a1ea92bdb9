// Command ferretdb serves the MongoDB wire protocol from SQLite files, for
// upgrader's tests of its Mongo steps (no mongod can be installed on the CI
// machines). It wraps FerretDB's embeddable package: FerretDB's own command
// refuses to start when built from the module proxy, whose copy lacks the
// version file its release build generates.
//
//	ferretdb -listen-addr 127.0.0.1:27017 -sqlite-url file:/tmp/ferret/
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("sqlite-url", "file:data/", "SQLite URI of the data folder (must end with /)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := ferretdb.New(&ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *addr}, Handler: "sqlite", SQLiteURL: *dir, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}
