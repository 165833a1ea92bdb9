package activities_test

import (
	"context"

	"go.temporal.io/sdk/worker"
)

// testsuiteWorkerOptions gives test activities a context with ctx's deadline.
func testsuiteWorkerOptions(ctx context.Context) worker.Options {
	return worker.Options{BackgroundActivityContext: ctx}
}
