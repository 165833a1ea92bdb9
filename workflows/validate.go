package workflows

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode"

	"upgrader/config"
	"upgrader/internal/text"
	"upgrader/workflows/runbook"
)

// Bounds every guide's config is held to, far below Temporal's payload
// limits (2 MB a payload): a run whose step input is too big is terminated by
// the server at that step, after the steps before it changed the site.
const (
	MaxFieldBytes = 16 << 10  // one string value
	MaxInputBytes = 256 << 10 // the whole workflow input, as JSON
	MaxTimeout    = 24 * time.Hour
)

// finish adds the checks every guide's config gets to the guide's own
// problems and returns them all at once. Every guide's Validate ends with
// it, so `starter plan`, `starter start`, a corrected config sent with
// `decide … retry` and the workflow's first task all run the same checks.
func finish(p *config.Problems, in any) error {
	walkStrings(reflect.ValueOf(in), "", func(key, v string) {
		switch {
		case len(v) > MaxFieldBytes:
			p.Add(key, "is %d bytes; at most %d (a config holds settings, not files)", len(v), MaxFieldBytes)
		case strings.Contains(v, "{{") || strings.Contains(v, "}}"):
			p.Add(key, "%q holds a template ({{ … }}); config values are data, never rendered: write the value itself", short(v))
		case strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0:
			p.Add(key, "holds a control character; write plain text")
		}
	})
	if t, ok := in.(interface{ GetTarget() *runbook.Target }); ok {
		validateApprovers(p, t.GetTarget().Approvers)
		validateSites(p, t.GetTarget().Sites)
	}
	if t, ok := in.(interface{ GetTarget() *runbook.Target }); ok && t.GetTarget().Resume != nil {
		// A continued run's carried progress is the runbook's, not the
		// config's: measure the config alone.
		saved := t.GetTarget().Resume
		t.GetTarget().Resume = nil
		defer func() { t.GetTarget().Resume = saved }()
	}
	if b, err := json.Marshal(in); err == nil && len(b) > MaxInputBytes {
		p.Add("(whole config)", "is %d bytes as JSON; at most %d", len(b), MaxInputBytes)
	}
	return p.Err()
}

func short(s string) string { return text.Truncate(s, 60) }

// walkStrings calls fn with the key path (as the config spells it) and value
// of every string in v: struct fields by their mapstructure names (squashed
// structs add none), map entries by key, list items by index.
func walkStrings(v reflect.Value, key string, fn func(key, v string)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), key, fn)
		}
	case reflect.String:
		fn(key, v.String())
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			switch {
			case strings.Contains(opts, "squash"):
				walkStrings(v.Field(i), key, fn)
				continue
			case name == "-":
				continue // not from the config (a run's carried progress)
			case name == "":
				name = f.Name
			}
			walkStrings(v.Field(i), join(key, name), fn)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := fmt.Sprint(iter.Key().Interface())
			fn(join(key, k)+" (key)", k)
			walkStrings(iter.Value(), join(key, k), fn)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), fmt.Sprintf("%s[%d]", key, i), fn)
		}
	}
}

func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

var (
	// dns1123Label is a Kubernetes name: releases, namespaces, clusters.
	dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// dns1123Subdomain is a host name.
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// semver is an exact chart version (helm would take "" or a range as "newest").
	semver = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	// mysqlIdent is a database or user name the guides' SQL can hold unquoted.
	mysqlIdent = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	// secretName is a worker-side secret's name.
	secretName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)
)

// checkLabel reports a value that is not a DNS-1123 label.
func checkLabel(p *config.Problems, key, v, what string) {
	if !dns1123Label.MatchString(v) {
		p.Add(key, "%q is not a %s name: lower-case letters, digits and -, at most 63, starting and ending with a letter or digit", v, what)
	}
}

// checkHostName reports a value that is not a bare host name.
func checkHostName(p *config.Problems, key, v string) {
	switch {
	case v == "":
		p.Add(key, "is empty; give a host name (api.example.com)")
	case strings.Contains(v, "://"):
		p.Add(key, "%q: give a host name, without http://", v)
	case len(v) > 253 || !dns1123Subdomain.MatchString(v):
		p.Add(key, "%q is not a host name: lower-case letters, digits, - and dots", v)
	}
}

// checkSemver reports a chart version that is not exact: helm installs the
// newest chart in the repository for an empty version or a range.
func checkSemver(p *config.Problems, key, v string) {
	if !semver.MatchString(v) {
		p.Add(key, "%q is not an exact chart version (x.y.z, e.g. 0.22.1)", v)
	}
}

// checkMySQLIdent reports a database or user name the guides' SQL cannot hold.
func checkMySQLIdent(p *config.Problems, key, v string) {
	if !mysqlIdent.MatchString(v) {
		p.Add(key, "%q is not a MySQL name: letters, digits and _, at most 64", v)
	}
}

// checkSecretRef reports a secret name that is empty or malformed.
func checkSecretRef(p *config.Problems, key, v, holds string) {
	switch {
	case v == "":
		p.Add(key, "is empty; name the worker-side secret (secrets: in worker.yaml) holding %s", holds)
	case !secretName.MatchString(v):
		p.Add(key, "%q is not a secret name: lower-case letters, digits, . _ - (the worker reads its secret names in lower case)", v)
	}
}

// checkPort reports a value that is not a TCP port.
func checkPort(p *config.Problems, key string, v int) {
	if v <= 0 || v > 65535 {
		p.Add(key, "%d is not a port (1-65535)", v)
	}
}

// checkTimeout reports a timeout that is not positive or longer than a day.
func checkTimeout(p *config.Problems, key string, d time.Duration, example string) {
	switch {
	case d <= 0:
		p.Add(key, "must be positive, with a unit (e.g. %s)", example)
	case d > MaxTimeout:
		p.Add(key, "%s is longer than a day; at most %s", d, MaxTimeout)
	}
}

// checkURL reports a URL the worker would send something to that is not
// plainly http(s)://host[:port]/path: no user info (https://a@b/ goes to b),
// no fragment, and, when hosts is not empty, a host that belongs to the
// platform (one of hosts, or a name under one of them).
func checkURL(p *config.Problems, key, raw string, hosts []string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		p.Add(key, "%q is not a URL: %v", raw, err)
		return
	case u.Scheme != "http" && u.Scheme != "https":
		p.Add(key, "%q: only http:// and https:// URLs", raw)
		return
	case u.User != nil:
		p.Add(key, "%q holds user info before @: the request would go to %s; write the host alone", raw, u.Host)
		return
	case u.Hostname() == "":
		p.Add(key, "%q has no host", raw)
		return
	case u.Fragment != "" || u.RawQuery != "":
		p.Add(key, "%q: no query or fragment here", raw)
		return
	}
	if port := u.Port(); port != "" {
		if _, err := net.LookupPort("tcp", port); err != nil {
			p.Add(key, "%q: %s is not a port", raw, port)
		}
	}
	if len(hosts) == 0 {
		return
	}
	h := strings.ToLower(u.Hostname())
	for _, t := range hosts {
		t = strings.ToLower(t)
		if t != "" && (h == t || strings.HasSuffix(h, "."+t)) {
			return
		}
	}
	p.Add(key, "%q: host %s is not one of the platform's (%s); the admin token goes only there", raw, h, strings.Join(hosts, ", "))
}

// SecretRefs lists the worker-side secret names a config refers to, by key
// path: every field whose key ends in "Ref" (passwordRef, tokenRef, keyRef…).
func SecretRefs(in any) map[string]string {
	refs := map[string]string{}
	walkStrings(reflect.ValueOf(in), "", func(key, v string) {
		last := key
		if i := strings.LastIndex(key, "."); i >= 0 {
			last = key[i+1:]
		}
		if strings.HasSuffix(strings.ToLower(last), "ref") && v != "" {
			refs[key] = v
		}
	})
	return refs
}

// CheckSecretsKnown reports every secret a config names that the worker
// does not have: found at plan time, not at the step that needs it (which
// may come after the old releases are deleted).
func CheckSecretsKnown(in any, known func(name string) bool) error {
	var p config.Problems
	refs := SecretRefs(in)
	for _, k := range sortedKeys(refs) {
		if !known(refs[k]) {
			p.Add(k, "names secret %q, which the worker config does not have; add it under secrets:", refs[k])
		}
	}
	return p.Err()
}

// taskQueue is a Temporal task queue name as the worker's --task-queue takes it.
var taskQueue = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$`)

// validateSites checks the sites' own shape: names, task queues, and that
// no cluster, host, database or step pattern is in two sites. Which steps
// they claim is checked against the plan, by runbook.CheckSites.
func validateSites(p *config.Problems, sites map[string]runbook.Site) {
	owner := map[string]string{} // "clusters c7n" → the key that listed it first
	for _, name := range sortedKeys(sites) {
		key := "sites." + name
		s := sites[name]
		if !dns1123Label.MatchString(name) {
			p.Add(key+" (key)", "%q is not a site name: lower-case letters, digits and -, at most 63", name)
		}
		switch {
		case s.TaskQueue == "":
			p.Add(key+".taskQueue", "is empty; name the task queue this site's worker polls (worker --task-queue QUEUE --site %s)", name)
		case !taskQueue.MatchString(s.TaskQueue):
			p.Add(key+".taskQueue", "%q is not a task queue name: letters, digits and . _ : @ / -, at most 200", s.TaskQueue)
		}
		if len(s.Clusters)+len(s.Hosts)+len(s.Databases)+len(s.Steps) == 0 {
			p.Add(key, "lists no clusters, hosts, databases or steps: no step would run there")
		}
		for _, list := range []struct {
			field   string
			members []string
		}{{"clusters", s.Clusters}, {"hosts", s.Hosts}, {"databases", s.Databases}, {"steps", s.Steps}} {
			for i, m := range list.members {
				k := fmt.Sprintf("%s.%s[%d]", key, list.field, i)
				if strings.TrimSpace(m) == "" {
					p.Add(k, "is empty")
					continue
				}
				if list.field == "steps" {
					if _, err := path.Match(m, ""); err != nil {
						p.Add(k, "%q is not a step name or pattern (path.Match: * ? [a-z]): %v", m, err)
					}
				}
				if other, dup := owner[list.field+" "+m]; dup {
					p.Add(k, "%q is also %s; each is in one site", m, other)
					continue
				}
				owner[list.field+" "+m] = k
			}
		}
	}
}

// approverName is a person as approver lists name them: an OS user name or
// a certificate's common name (letters, digits, . _ @ - and spaces inside).
var approverName = regexp.MustCompile(`^[\pL\pN._@-]+( [\pL\pN._@-]+)*$`)

// validateApprovers checks the names of approvers: (which gates exist is
// checked against the plan, by runbook.CheckApprovers).
func validateApprovers(p *config.Problems, a *runbook.Approvers) {
	if a == nil {
		return
	}
	list := func(key string, names []string) {
		if names != nil && len(names) == 0 {
			p.Add(key, "is an empty list; leave it out to let anyone answer, or name the people who may")
		}
		seen := map[string]bool{}
		for i, n := range names {
			k := fmt.Sprintf("%s[%d]", key, i)
			switch {
			case !approverName.MatchString(n):
				p.Add(k, "%q is not a person's name: an OS user or a certificate's common name (letters, digits, . _ @ -)", n)
			case seen[strings.ToLower(n)]:
				p.Add(k, "%q is listed twice", n)
			}
			seen[strings.ToLower(n)] = true
		}
	}
	list("approvers.default", a.Default)
	list("approvers.destructive", a.Destructive)
	for _, g := range sortedKeys(a.Gates) {
		list("approvers.gates."+g, a.Gates[g])
	}
}
