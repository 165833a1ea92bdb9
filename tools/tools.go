//go:build tools

// Package tools pins the versions of the heavy binaries upgrader's tests and
// demo run (the Temporal CLI with its embedded dev server and Web UI). It is a
// module of its own because the SDK's newer go.temporal.io/api breaks the
// CLI's server build when both sit in one go.mod.
package tools

import (
	_ "github.com/temporalio/cli/cmd/temporal"
	_ "go.temporal.io/server/cmd/server"
	_ "go.temporal.io/server/cmd/tools/sql"
)
