package activities

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"upgrader/internal/contract"
)

// PreflightDocker heartbeats while the host answers (Run's ticker).
var _ = contract.Declare((*Compose).PreflightDocker, contract.Options{Heartbeat: 20 * time.Second})

// PreflightDockerInput says what a host must have before a compose
// deployment starts; each part is optional.
type PreflightDockerInput struct {
	Host       SSHTarget `json:"host"`
	DockerHost string    `json:"dockerHost,omitempty"`
	// Engine: the docker engine answers and docker-compose is installed.
	Engine bool `json:"engine,omitempty"`
	// Images must be present on the host, or (LoadFrom[image]) their
	// `docker save` tar must be readable there to be loaded later.
	Images   []string          `json:"images,omitempty"`
	LoadFrom map[string]string `json:"loadFrom,omitempty"`
	// FreePorts are host:port pairs nothing may listen on yet (the new
	// installation's ports beside the old one's).
	FreePorts []string `json:"freePorts,omitempty"`
}

// PreflightDocker checks the host with read-only commands: docker and
// docker-compose answer, the images are there (or can be loaded), and the
// ports the new containers publish are free. Every problem is listed
// before the step fails; nothing is changed.
func (c *Compose) PreflightDocker(ctx context.Context, in PreflightDockerInput) (HostCommandResult, error) {
	var s strings.Builder
	s.WriteString("fail=0\n")
	if in.Engine {
		s.WriteString(`if v=$(docker version --format '{{.Server.Version}}' 2>&1); then echo "docker engine $v"; else echo "PROBLEM: the docker engine does not answer: $v"; fail=1; fi
if v=$(docker-compose version --short 2>&1); then echo "docker-compose $v"; else echo "PROBLEM: docker-compose is not installed (the guide runs docker-compose -f FILE up -d): $v"; fail=1; fi
`)
	}
	images := append([]string{}, in.Images...)
	sort.Strings(images)
	for _, img := range images {
		fmt.Fprintf(&s, "img=%s tar=%s\n", QuoteArgs([]string{img}), QuoteArgs([]string{in.LoadFrom[img]}))
		s.WriteString(`if docker image inspect "$img" >/dev/null 2>&1; then echo "image present: $img"
elif [ -n "$tar" ] && [ -r "$tar" ]; then echo "image to load: $img from $tar"
elif [ -n "$tar" ]; then echo "PROBLEM: image $img is missing and $tar is not readable"; fail=1
else echo "PROBLEM: image $img is missing: docker pull it (or docker load its saved tar)"; fail=1; fi
`)
	}
	if len(in.FreePorts) > 0 {
		s.WriteString("listening=$(ss -Hltn 2>/dev/null | awk '{print $4}') || listening=$(netstat -ltn 2>/dev/null | awk 'NR>2 {print $4}')\n")
		for _, hp := range in.FreePorts {
			i := strings.LastIndex(hp, ":")
			if i < 0 {
				return HostCommandResult{}, invalid("free port %q: give host:port", hp)
			}
			port := hp[i+1:]
			fmt.Fprintf(&s, "for a in %s; do if printf '%%s\\n' \"$listening\" | grep -qx -- \"$a\"; then echo \"PROBLEM: $a is taken: something listens there already (the old WeCube?)\"; fail=1; fi; done\n",
				QuoteArgs([]string{hp, "0.0.0.0:" + port, "*:" + port, "[::]:" + port}))
		}
		s.WriteString("[ $fail = 0 ] && echo \"ports free: " + strings.Join(in.FreePorts, " ") + "\"\n")
	}
	s.WriteString("exit $fail\n")
	res, err := c.Host.Run(ctx, HostCommandInput{Host: in.Host, Command: s.String(), Env: dockerEnv(in.DockerHost), Repeatable: true})
	if err != nil {
		return res, err
	}
	res.Summary = fmt.Sprintf("%s: %s", in.Host, strings.Join(res.Tail, "; "))
	return res, nil
}
