package config

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// The uses a secret can be bound to (a Secret's uses:). A step that would
// send a secret to a use its config does not list fails before it does
// anything.
const (
	UseMySQL      = "mysql"       // a MySQL/MariaDB login (dumps, scripts, preflight)
	UseMongo      = "mongo"       // a MongoDB login
	UseSSHKey     = "ssh-key"     // the private key an SSH session logs in with
	UseSSHEnv     = "ssh-env"     // an environment variable of a command run over SSH
	UseHelmValues = "helm-values" // a value in a Helm release (the chart sees it)
	UseHTTP       = "http"        // a header or body of an HTTP call (hosts: binds where)
	UseFile       = "file"        // rendered into a file uploaded to a host
	UseCompose    = "compose-env" // a docker-compose environment value
	UseDemo       = "demo"        // the demo guide's lab
)

// Uses is every use a secret can be bound to.
var Uses = []string{UseMySQL, UseMongo, UseSSHKey, UseSSHEnv, UseHelmValues, UseHTTP, UseFile, UseCompose, UseDemo}

// SecretUse is one place a step is about to send a secret.
type SecretUse struct {
	// Kind is one of Uses.
	Kind string
	// Host is where an HTTP use sends it; Scheme is http or https.
	Host, Scheme string
}

func (u SecretUse) String() string {
	if u.Kind == UseHTTP && u.Host != "" {
		return fmt.Sprintf("%s to %s://%s", u.Kind, u.Scheme, u.Host)
	}
	return u.Kind
}

// SecretMisuseError says a secret was about to go where its config does not
// let it: the step must fail at once, with nothing sent.
type SecretMisuseError struct {
	Name, Reason string
}

func (e *SecretMisuseError) Error() string {
	return fmt.Sprintf("secret %q %s", e.Name, e.Reason)
}

// CheckUse says whether the named secret may go to u under this config:
// its uses: list (empty: any use, as configs before bindings), the hosts
// an HTTP use may reach (its hosts:, else any the run allows), and never
// over plain http:// unless the host is in the secret's hosts or the
// worker's trustedHosts. A name the config lacks passes (Resolve names it).
func (c Worker) CheckUse(name string, u SecretUse) error {
	s, ok := c.Secrets[name]
	if !ok {
		return nil
	}
	return checkUse(name, s, c.TrustedHosts, u)
}

func checkUse(name string, s Secret, trusted []string, u SecretUse) error {
	if len(s.Uses) > 0 && !slices.Contains(s.Uses, u.Kind) {
		return &SecretMisuseError{Name: name, Reason: fmt.Sprintf("may be used for %s only (its uses: in the worker config), not for %s; "+
			"a config that sends it there is wrong, or add %s to its uses: if it really belongs there", strings.Join(s.Uses, ", "), u, u.Kind)}
	}
	if u.Kind != UseHTTP || u.Host == "" {
		return nil
	}
	if len(s.Hosts) > 0 && !hostIn(u.Host, s.Hosts) {
		return &SecretMisuseError{Name: name, Reason: fmt.Sprintf("may be sent only to %s (its hosts: in the worker config), not to %s",
			strings.Join(s.Hosts, ", "), u.Host)}
	}
	if u.Scheme == "http" && !loopback(u.Host) && !hostIn(u.Host, s.Hosts) && !hostIn(u.Host, trusted) {
		return &SecretMisuseError{Name: name, Reason: fmt.Sprintf("would be sent over plain http:// to %s, where anyone on the way reads it; "+
			"use https://, or, if that network is trusted, list %s in the secret's hosts: or the worker's trustedHosts", u.Host, u.Host)}
	}
	return nil
}

// loopback says whether host never leaves this machine: plain http there
// crosses no network.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostIn says whether host is one of hosts or a name under one of them.
func hostIn(host string, hosts []string) bool {
	host = strings.ToLower(host)
	for _, t := range hosts {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && (host == t || strings.HasSuffix(host, "."+t)) {
			return true
		}
	}
	return false
}

// NamedSecretUse is a secret, by name, and where a step sends it.
type NamedSecretUse struct {
	Name string
	Use  SecretUse
}

// SecretUser is a step input that can say, before the step runs, which
// secrets it sends where: `starter plan` and `start` check them against
// the worker config's bindings.
type SecretUser interface {
	SecretUses() []NamedSecretUse
}

// CheckUses reports every use the worker config does not allow.
func (c Worker) CheckUses(step string, uses []NamedSecretUse) []string {
	var out []string
	for _, u := range uses {
		if err := c.CheckUse(u.Name, u.Use); err != nil {
			out = append(out, step+": "+err.Error())
		}
	}
	return out
}
