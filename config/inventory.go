package config

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
)

// Host is one machine of a site's inventory. Its key is a secret name; its
// host key may be pinned here (public, not secret) or found in the worker's
// known_hosts files.
type Host struct {
	Address string `mapstructure:"address" json:"address"` // host or host:port
	User    string `mapstructure:"user" json:"user"`
	KeyRef  string `mapstructure:"keyRef" json:"keyRef"`
	HostKey string `mapstructure:"hostKey" json:"hostKey,omitempty"`
	// Modules are what runs there, as BlueKing's install.config lists them
	// ("10.0.0.3 cmdb,job,mysql,…"): steps pick hosts by module.
	Modules []string `mapstructure:"modules" json:"modules"`
}

// Inventory maps host names to hosts.
type Inventory map[string]Host

var moduleRe = regexp.MustCompile(`^[a-z0-9_]+(\([a-z0-9_-]+\))?$`)

// Validate reports every problem of the inventory, prefixed by field.
func (inv Inventory) Validate(field string, p *Problems) {
	names := inv.names()
	for _, n := range names {
		h := inv[n]
		f := field + "." + n
		if h.Address == "" {
			p.Add(f+".address", "is empty")
		} else if host, _, err := net.SplitHostPort(h.Address); err == nil && host == "" {
			p.Add(f+".address", "%q has no host", h.Address)
		}
		if h.User == "" {
			p.Add(f+".user", "is empty")
		}
		if h.KeyRef == "" {
			p.Add(f+".keyRef", "is empty; name the worker secret that holds this host's private key")
		}
		if len(h.Modules) == 0 {
			p.Add(f+".modules", "is empty; list what runs there (mysql, mongodb, job, …)")
		}
		for _, m := range h.Modules {
			if !moduleRe.MatchString(m) {
				p.Add(f+".modules", "%q is not a module name like mysql or monitorv3(influxdb-proxy)", m)
			}
		}
	}
}

func (inv Inventory) names() []string {
	names := make([]string, 0, len(inv))
	for n := range inv {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// WithModule returns the names of the hosts running a module, sorted, and
// an error naming the known modules when none does. It is pure, so guides
// call it while planning.
func (inv Inventory) WithModule(module string) ([]string, error) {
	var out []string
	known := map[string]bool{}
	for _, n := range inv.names() {
		for _, m := range inv[n].Modules {
			known[m] = true
			if m == module {
				out = append(out, n)
			}
		}
	}
	if len(out) == 0 {
		var ks []string
		for k := range known {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return nil, fmt.Errorf("no host in the inventory runs %q (modules present: %s)", module, strings.Join(ks, ", "))
	}
	return out, nil
}
