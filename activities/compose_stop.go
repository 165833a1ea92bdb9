package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"upgrader/internal/contract"
)

// StopContainers heartbeats while docker stop waits for the containers.
var _ = contract.Declare((*Compose).StopContainers, contract.Options{Heartbeat: 20 * time.Second})

// StopContainersInput names containers to stop on a host.
type StopContainersInput struct {
	Host       SSHTarget `json:"host"`
	DockerHost string    `json:"dockerHost,omitempty"`
	Containers []string  `json:"containers"`
}

// StopContainers runs `docker stop` for the containers (the old WeCube's,
// in replace mode, once the new one answers). Stopping a stopped container
// is harmless, so a retry runs it again; the containers are kept, so
// `docker start` brings the old installation back.
func (c *Compose) StopContainers(ctx context.Context, in StopContainersInput) (HostCommandResult, error) {
	if len(in.Containers) == 0 {
		return HostCommandResult{}, invalid("no container to stop")
	}
	res, err := c.Host.Run(ctx, HostCommandInput{
		Host: in.Host, Command: "docker stop", Args: in.Containers, Env: dockerEnv(in.DockerHost), Repeatable: true,
	})
	if err != nil {
		return res, err
	}
	res.Summary = fmt.Sprintf("stopped %s on %s (kept: docker start brings them back)", strings.Join(in.Containers, ", "), in.Host)
	return res, nil
}
