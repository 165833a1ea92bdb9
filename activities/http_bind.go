package activities

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"upgrader/config"
	"upgrader/internal/contract"
)

// Secrets are bound to the hosts they may go to. A guide names the
// platform's own host names (its declared domains) in a call's SecretHosts;
// the worker adds its config's trustedHosts (a gateway reached by IP, a
// lab). A call that would carry a secret anywhere else is refused before
// anything is sent, so a config that points api.url elsewhere cannot turn
// the admin token into a gift.

// hostAllowed says whether u's host is one of hosts or the worker's trusted
// hosts, or a name under one of them.
func (h *HTTP) hostAllowed(u *url.URL, hosts []string) bool {
	host := strings.ToLower(u.Hostname())
	for _, t := range append(append([]string{}, hosts...), h.TrustedHosts...) {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && (host == t || strings.HasSuffix(host, "."+t)) {
			return true
		}
	}
	return false
}

// refuseForeignHost is the error for a secret bound elsewhere.
func (h *HTTP) refuseForeignHost(what, key string, u *url.URL, hosts []string) error {
	return invalid("%s: %s points at %s, which is not one of the platform's hosts (%s) nor in the worker's trustedHosts (%s); "+
		"the step's secrets go only there. Fix %s, or, if the gateway really is there, add %s to trustedHosts in the worker config",
		what, key, u.Hostname(), strings.Join(hosts, ", "), strings.Join(h.TrustedHosts, ", "), key, u.Hostname())
}

// SecretHostsInput asks whether a URL the run will send secrets to is bound.
type SecretHostsInput struct {
	// Key is the config key the URL comes from (api.url), for the message.
	Key string `json:"key"`
	URL string `json:"url"`
	// Hosts are the platform's own host names.
	Hosts []string `json:"hosts"`
	// Secrets are the secret names the run will send there (the admin
	// token): each must be bound to an http use of that host in the
	// worker config.
	Secrets []string `json:"secrets,omitempty"`
}

// PreflightSecretHosts sends nothing and returns at once; its heartbeat
// timeout notices a worker that died holding the task.
var _ = contract.Declare((*HTTP).PreflightSecretHosts, contract.Options{Heartbeat: callHeartbeat, Timeout: time.Minute})

// PreflightSecretHosts checks, before any step changes anything, that a URL
// the run will send secrets to is on the platform's hosts or the worker's
// trustedHosts. It sends nothing.
func (h *HTTP) PreflightSecretHosts(ctx context.Context, in SecretHostsInput) (contract.Outcome, error) {
	u, err := checkURL(in.Key, in.URL)
	if err != nil {
		return contract.Outcome{}, err
	}
	if !h.hostAllowed(u, in.Hosts) {
		return contract.Outcome{}, h.refuseForeignHost("preflight", in.Key, u, in.Hosts)
	}
	for _, s := range in.SecretUses() {
		if err := checkSecretUse(h.Secrets, s.Name, s.Use); err != nil {
			return contract.Outcome{}, err
		}
	}
	return contract.Outcome{Summary: fmt.Sprintf("%s (%s) is one of the hosts the run's secrets may go to", in.Key, u.Hostname())}, nil
}

// SecretUses says which secrets the call sends where, for the starter's
// check against the worker config's bindings.
func (in HTTPCallInput) SecretUses() []config.NamedSecretUse {
	use := httpUse(in.URL)
	var out []config.NamedSecretUse
	for _, k := range slices.Sorted(maps.Keys(in.SecretHeaders)) {
		out = append(out, config.NamedSecretUse{Name: in.SecretHeaders[k], Use: use})
	}
	if in.BasicPasswordRef != "" {
		out = append(out, config.NamedSecretUse{Name: in.BasicPasswordRef, Use: use})
	}
	return out
}

// SecretUses says which secrets the run will send to the URL.
func (in SecretHostsInput) SecretUses() []config.NamedSecretUse {
	var out []config.NamedSecretUse
	for _, s := range in.Secrets {
		out = append(out, config.NamedSecretUse{Name: s, Use: httpUse(in.URL)})
	}
	return out
}
