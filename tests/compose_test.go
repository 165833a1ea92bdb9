// Package tests holds checks of the repository's own files.
package tests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/stretchr/testify/require"
)

// No Docker engine runs on the CI machines, so docker-compose.yml is kept
// correct by loading it with compose-go, the loader Docker Compose uses:
// schema, interpolation and references are checked as `docker compose
// config` would.
func TestDockerComposeFileIsValid(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"}, cli.WithName("upgrader"),
		cli.WithWorkingDirectory(".."), cli.WithEnv([]string{"DEMO_DB_PASSWORD=x"}))
	require.NoError(t, err)
	p, err := opts.LoadProject(context.Background())
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"postgresql", "temporal", "temporal-admin-tools", "temporal-ui", "worker"}, p.ServiceNames())

	worker, err := p.GetService("worker")
	require.NoError(t, err)
	require.Equal(t, "temporal:7233", *worker.Environment["UPGRADER_TEMPORAL_ADDRESS"])
	require.Contains(t, worker.DependsOn, "temporal")
	// One image for compose and the worker chart: deploy/Dockerfile, whose
	// CMD reads /etc/upgrader/worker.yaml, mounted here.
	require.Equal(t, "deploy/Dockerfile", worker.Build.Dockerfile)
	require.Empty(t, worker.Build.DockerfileInline)
	dockerfile, err := os.ReadFile(filepath.Join("..", worker.Build.Dockerfile))
	require.NoError(t, err)
	require.Contains(t, string(dockerfile), `CMD ["-c", "/etc/upgrader/worker.yaml"]`)
	var config bool
	for _, v := range worker.Volumes {
		if v.Target == "/etc/upgrader/worker.yaml" {
			config = v.ReadOnly && strings.HasSuffix(v.Source, filepath.Join("config", "worker.example.yaml"))
		}
	}
	require.True(t, config, "the worker's config is mounted read-only at /etc/upgrader/worker.yaml")
	ui, err := p.GetService("temporal-ui")
	require.NoError(t, err)
	require.Equal(t, "8233", ui.Ports[0].Published)

	// The worker refuses to start without its secret, instead of running
	// with an empty password.
	opts, err = cli.NewProjectOptions([]string{"../docker-compose.yml"}, cli.WithName("upgrader"), cli.WithWorkingDirectory(".."), cli.WithEnv(nil))
	require.NoError(t, err)
	_, err = opts.LoadProject(context.Background())
	require.ErrorContains(t, err, "DEMO_DB_PASSWORD")
}
