// Command hostworker is a worker for tests/integration/host_*_test.go, run as
// its own process so a test can SIGKILL it: it registers the real Host
// activities with upgrader's worker options and one workflow, HostStep,
// that runs a single host command with the activity ID and retry policy a
// runbook step gets (step name plus operator try, Temporal retries inside).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/app"
)

// StepInput is HostStep's input.
type StepInput struct {
	Command activities.HostCommandInput `json:"command"`
	// Step names the step; try i runs with activity ID Step#i.
	Step      string        `json:"step"`
	Heartbeat time.Duration `json:"heartbeat"`
	// Tries is how many operator tries to make (an operator's retry after a
	// failed try); zero means one.
	Tries int `json:"tries,omitempty"`
	// FirstTryTimeout bounds each Temporal attempt of the first try
	// (StartToClose); zero, and every later try, means 2 min.
	FirstTryTimeout time.Duration `json:"firstTryTimeout,omitempty"`
	// MaxAttempts bounds Temporal's attempts of one try; zero means 5.
	MaxAttempts int32 `json:"maxAttempts,omitempty"`
}

// HostStep runs one host command as a runbook step does: each try with
// its own activity ID, Temporal's retries inside a try. It returns the last
// try's result.
func HostStep(ctx workflow.Context, in StepInput) (activities.HostCommandResult, error) {
	attempts, tries := in.MaxAttempts, in.Tries
	if attempts == 0 {
		attempts = 5
	}
	if tries == 0 {
		tries = 1
	}
	var (
		res activities.HostCommandResult
		err error
	)
	for try := 1; try <= tries; try++ {
		timeout := 2 * time.Minute
		if try == 1 && in.FirstTryTimeout > 0 {
			timeout = in.FirstTryTimeout
		}
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			ActivityID:          fmt.Sprintf("%s#%d", in.Step, try),
			StartToCloseTimeout: timeout,
			HeartbeatTimeout:    in.Heartbeat,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 1, MaximumAttempts: attempts},
		})
		res = activities.HostCommandResult{}
		err = workflow.ExecuteActivity(actx, (*activities.Host)(nil).Run, in.Command).Get(actx, &res)
	}
	return res, err
}

func main() {
	address := flag.String("address", "", "Temporal frontend host:port")
	queue := flag.String("queue", "", "task queue")
	known := flag.String("known-hosts", "", "known_hosts file")
	keyFile := flag.String("key-file", "", "the SSH client key (PEM), served as secret lab-key")
	markers := flag.String("marker-dir", "", "Host.MarkerDir")
	artifacts := flag.String("artifacts", "", "artifact root")
	flag.Parse()
	if err := run(*address, *queue, *known, *keyFile, *markers, *artifacts); err != nil {
		fmt.Fprintln(os.Stderr, "hostworker:", err)
		os.Exit(1)
	}
}

func run(address, queue, known, keyFile, markers, artifacts string) error {
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	secrets := config.NewSecretStore(map[string]config.Secret{"lab-key": {Value: string(key)}})
	// The tests' codec key ring, as every worker of theirs uses it.
	c, err := app.Dial(context.Background(), config.Temporal{Address: address, Namespace: "default",
		Codec: config.Codec{KeyFile: os.Getenv(config.EnvPrefix + "_TEMPORAL_CODEC_KEYFILE")}}, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	w := worker.New(c, queue, app.WorkerOptions(secrets))
	w.RegisterActivity(&activities.Host{Secrets: secrets, Scrub: secrets, KnownHostsFiles: []string{known},
		MarkerDir: markers, Artifacts: &activities.Artifacts{Root: artifacts}})
	w.RegisterWorkflowWithOptions(HostStep, workflow.RegisterOptions{Name: "HostStep"})
	return w.Run(worker.InterruptCh())
}
