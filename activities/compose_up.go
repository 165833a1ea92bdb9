package activities

import (
	"context"
	"fmt"
	"path"
	"time"

	"upgrader/internal/contract"
)

// ComposeUp heartbeats while docker-compose runs on the host (Run's ticker).
var _ = contract.Declare((*Compose).ComposeUp, contract.Options{Heartbeat: 20 * time.Second})

// ComposeUpInput is the guide's `cd DIR && docker-compose -f FILE up -d`.
type ComposeUpInput struct {
	Host SSHTarget `json:"host"`
	// File is the compose file's full path on the host; the command runs in
	// its directory, as the guide's cd does.
	File string `json:"file"`
	// DockerHost, when set, is DOCKER_HOST for the command (an engine on
	// another socket); empty uses the host's default engine.
	DockerHost string `json:"dockerHost,omitempty"`
}

// ComposeUp runs `docker-compose -f FILE up -d` on the host once per step
// try: it runs under a marker there (Host.Run), so a worker lost while
// docker-compose creates the container reattaches to that run and takes
// its exit code instead of starting a second one. Each file names a fixed
// container_name, and `up -d` on a file already up leaves its container
// alone (`… is up-to-date`), so an operator's retry is safe too.
func (c *Compose) ComposeUp(ctx context.Context, in ComposeUpInput) (HostCommandResult, error) {
	if !path.IsAbs(in.File) {
		return HostCommandResult{}, invalid("compose file %q must be an absolute path", in.File)
	}
	res, err := c.Host.Run(ctx, HostCommandInput{
		Host:    in.Host,
		Dir:     path.Dir(in.File),
		Command: "docker-compose -f",
		Args:    []string{path.Base(in.File), "up", "-d"},
		Env:     dockerEnv(in.DockerHost),
	})
	if err != nil {
		return res, err
	}
	res.Summary = fmt.Sprintf("docker-compose -f %s up -d: %s", path.Base(in.File), res.Summary)
	return res, nil
}
