package activities

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"upgrader/config"
)

// Error types of docker-compose steps.
const (
	ErrComposeInvalid      = "ComposeInvalid"      // a rendered compose file does not load, or a value does not survive it
	ErrContainerRestarting = "ContainerRestarting" // a container restarts in a loop (its log tail is in the message)
	ErrContainerMissing    = "ContainerMissing"    // no container of that name on the host
)

// Compose runs docker-compose files on hosts over SSH, as WeCube's guide
// does (`docker-compose -f FILE up -d` on the host), and watches their
// containers with the docker CLI there. The verbs live in their own files:
// compose_preflight.go, compose_validate.go, compose_write.go,
// compose_up.go, compose_wait.go, compose_logs.go, compose_stop.go.
type Compose struct {
	Host    *Host
	Secrets Secrets
	Scrub   Scrubber
}

func (c *Compose) scrub(s string) string { return scrubText(c.Scrub, s) }

// ComposeFileInput is one of the guide's compose files: its text with the
// guide's {{NAME}} placeholders, the values of the plain ones, and the
// secret names of the others. The worker fills it in; history holds the
// template and the names only.
type ComposeFileInput struct {
	Host SSHTarget `json:"host"`
	// Path is where the file goes on the host (the guide's directory per
	// component, e.g. /data/app/platform/platform-core/2-wecube-platform-core.yml).
	Path string `json:"path"`
	// Template is the file as the guide writes it, with {{NAME}} placeholders.
	Template string `json:"template"`
	// Vars are the plain placeholders (WECUBE_VERSION, HOSTIP, …).
	Vars map[string]string `json:"vars,omitempty"`
	// SecretVars map placeholders to worker-side secret names
	// (mysql_auth_password → wecube-mysql-auth-password).
	SecretVars map[string]string `json:"secretVars,omitempty"`
	// Service is the one service the file must define.
	Service string `json:"service"`
}

var placeholder = regexp.MustCompile(`\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}`)

// listItem is a YAML sequence entry on one line: `      - KEY=value`.
var listItem = regexp.MustCompile(`^(\s*-\s+)(.*)$`)

// renderedCompose is a compose file filled in on the worker, with the
// environment entries it must yield once loaded.
type renderedCompose struct {
	data []byte
	// env is every `KEY=value` entry of the file as docker-compose must
	// read it back (the values the guide's sed would have put there).
	env map[string]string
	// secretKeys are the environment keys whose value holds a secret.
	secretKeys []string
}

// render does what the guide's `sed -i "s/{{X}}/$X/g"` lines do, without
// their traps: a value with / or & cannot break it, a $ is doubled so
// docker-compose does not read it as a variable, and a line that takes a
// secret is written as one double-quoted YAML string, so a # or a quote in
// a password is data, not syntax. A placeholder without a value is an
// error, never left in the file.
func (c *Compose) render(in ComposeFileInput) (renderedCompose, error) {
	secrets := map[string]string{}
	for k, ref := range in.SecretVars {
		if _, plain := in.Vars[k]; plain {
			return renderedCompose{}, invalid("%s: {{%s}} is given both as a value and as a secret", in.Path, k)
		}
		v, err := resolveSecretFor(c.Secrets, ref, config.SecretUse{Kind: config.UseCompose})
		if err != nil {
			return renderedCompose{}, err
		}
		secrets[k] = v
	}
	out := renderedCompose{env: map[string]string{}}
	var b bytes.Buffer
	var missing []string
	for _, line := range strings.SplitAfter(in.Template, "\n") {
		body := strings.TrimRight(line, "\n")
		nl := line[len(body):]
		hasSecret := false
		value := func(name string) (string, bool) {
			if v, ok := in.Vars[name]; ok {
				return v, true
			}
			if v, ok := secrets[name]; ok {
				hasSecret = true
				return v, true
			}
			return "", false
		}
		// The value as docker-compose must read it, and as written.
		read := placeholder.ReplaceAllStringFunc(body, func(m string) string {
			v, ok := value(placeholder.FindStringSubmatch(m)[1])
			if !ok {
				missing = append(missing, m)
				return m
			}
			return v
		})
		written := placeholder.ReplaceAllStringFunc(body, func(m string) string {
			v, _ := value(placeholder.FindStringSubmatch(m)[1])
			return strings.ReplaceAll(v, "$", "$$")
		})
		if m := listItem.FindStringSubmatch(read); m != nil && strings.Contains(m[2], "=") && !strings.HasPrefix(m[2], "\"") {
			k, v, _ := strings.Cut(m[2], "=")
			out.env[k] = v
			if hasSecret {
				out.secretKeys = append(out.secretKeys, k)
			}
		}
		if hasSecret {
			m := listItem.FindStringSubmatch(written)
			if m == nil {
				return renderedCompose{}, invalid("%s: a secret placeholder may only stand in a `- KEY=value` line: %s", in.Path, body)
			}
			written = m[1] + yamlQuote(m[2])
		}
		b.WriteString(written + nl)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return renderedCompose{}, invalid("%s: no value for %s; give it in the step's vars or secretVars", in.Path, strings.Join(dedupe(missing), ", "))
	}
	out.data = b.Bytes()
	sort.Strings(out.secretKeys)
	return out, nil
}

// yamlQuote writes s as a YAML double-quoted scalar (JSON's string syntax
// is a subset of it).
func yamlQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimRight(b.String(), "\n")
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// dockerEnv is the environment docker and docker-compose run with on the
// host: DOCKER_HOST when the step names an engine other than the default.
func dockerEnv(dockerHost string) map[string]string {
	if dockerHost == "" {
		return nil
	}
	return map[string]string{"DOCKER_HOST": dockerHost}
}
