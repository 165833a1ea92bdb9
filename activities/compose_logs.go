package activities

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/alessio/shellescape"

	"upgrader/internal/text"
)

// containerLogTail reads the last lines a container printed (`docker logs
// --tail N`, both streams), scrubbed of every secret the worker knows: what
// an operator needs to see when a container restarts in a loop (a wrong
// database password, a missing key file).
func (c *Compose) containerLogTail(ctx context.Context, host SSHTarget, dockerHost, name string, lines int) []string {
	if lines <= 0 {
		lines = 20
	}
	out, err := c.Host.capture(ctx, host, dockerPrefix(dockerHost)+"docker logs --tail "+strconv.Itoa(lines)+" "+shellescape.Quote(name), nil)
	if err != nil && out == "" {
		return []string{fmt.Sprintf("(docker logs %s: %v)", name, err)}
	}
	var tail []string
	for _, l := range strings.Split(strings.TrimRight(c.scrub(out), "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			tail = append(tail, text.OneLine(l, 400))
		}
	}
	return lastN(tail, lines)
}

// dockerPrefix exports DOCKER_HOST for a script when the step names an engine.
func dockerPrefix(dockerHost string) string {
	if dockerHost == "" {
		return ""
	}
	return "export DOCKER_HOST=" + shellescape.Quote(dockerHost) + "\n"
}
