package activities

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// ValidateCompose loads a file in memory, yet declares a heartbeat timeout
// (see heartbeating).
var _ = contract.Declare((*Compose).ValidateCompose, contract.Options{Heartbeat: callHeartbeat, Timeout: time.Minute})

// ComposeCheckResult describes a rendered file that loads.
type ComposeCheckResult struct {
	contract.Outcome
	Service   string   `json:"service"`
	Image     string   `json:"image"`
	Container string   `json:"container"`
	Ports     []string `json:"ports"`
	// EnvKeys counts the environment entries; SecretKeys names those that
	// hold a secret (names only).
	EnvKeys    int      `json:"envKeys"`
	SecretKeys []string `json:"secretKeys,omitempty"`
}

// ValidateCompose fills the file in on the worker and loads it with
// compose-go, the loader Docker Compose itself uses (schema, interpolation,
// ports), before anything is written to the host: the one service is
// there, with an image and a container name, and every environment entry
// reads back exactly as meant — a password with $, # or quotes included.
// It changes nothing.
func (c *Compose) ValidateCompose(ctx context.Context, in ComposeFileInput) (ComposeCheckResult, error) {
	return heartbeating(ctx, in, c.validateCompose)
}

func (c *Compose) validateCompose(ctx context.Context, in ComposeFileInput) (ComposeCheckResult, error) {
	r, err := c.render(in)
	if err != nil {
		return ComposeCheckResult{}, err
	}
	return c.check(ctx, in, r)
}

func (c *Compose) check(ctx context.Context, in ComposeFileInput, r renderedCompose) (ComposeCheckResult, error) {
	fail := func(format string, args ...any) error {
		return temporal.NewNonRetryableApplicationError(c.scrub(fmt.Sprintf("%s: ", in.Path)+fmt.Sprintf(format, args...)), ErrComposeInvalid, nil)
	}
	dir := path.Dir(in.Path)
	p, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: in.Path, Content: r.data}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName(path.Base(dir), true)
		o.SkipResolveEnvironment = true
	})
	if err != nil {
		return ComposeCheckResult{}, fail("docker-compose would not load it: %v", err)
	}
	svc, err := p.GetService(in.Service)
	if err != nil {
		return ComposeCheckResult{}, fail("no service %q in it (services: %s)", in.Service, strings.Join(p.ServiceNames(), ", "))
	}
	if svc.Image == "" || svc.ContainerName == "" {
		return ComposeCheckResult{}, fail("service %s needs an image and a container_name", in.Service)
	}
	var wrong []string
	for _, k := range slices.Sorted(maps.Keys(r.env)) {
		got, ok := svc.Environment[k]
		if !ok || got == nil || *got != r.env[k] {
			wrong = append(wrong, k)
		}
	}
	if len(wrong) > 0 {
		return ComposeCheckResult{}, fail("environment %s would not reach the container as given (docker-compose reads it differently)", strings.Join(wrong, ", "))
	}
	res := ComposeCheckResult{Service: in.Service, Image: svc.Image, Container: svc.ContainerName, EnvKeys: len(svc.Environment), SecretKeys: r.secretKeys}
	for _, pc := range svc.Ports {
		res.Ports = append(res.Ports, fmt.Sprintf("%s:%s:%d", pc.HostIP, pc.Published, pc.Target))
	}
	sort.Strings(res.Ports)
	res.Summary = fmt.Sprintf("%s loads: service %s, image %s, container %s, ports %s, %d environment entries read back as given (%d from secrets)",
		path.Base(in.Path), in.Service, svc.Image, svc.ContainerName, strings.Join(res.Ports, " "), len(svc.Environment), len(r.secretKeys))
	return res, nil
}
