package activities

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
)

// checkURL parses a step's URL and refuses what would send the request
// somewhere else than it reads: no http(s) scheme, no host, or a user part
// (`https://gateway.example@other.host/` goes to other.host, with
// "gateway.example" as a user name). The error names only the user name,
// never a password after it.
func checkURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid("%s: %q is not a URL: %v", what, redactURL(raw), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, invalid("%s: URL %q is not http(s)", what, redactURL(raw))
	}
	if u.User != nil {
		return nil, invalid("%s: URL %q has a user part %q before @, so the request would go to host %s; "+
			"remove it from the URL (credentials go in basicUser/basicPasswordRef or a secret header)",
			what, redactURL(raw), u.User.Username()+"@", u.Hostname())
	}
	if u.Host == "" {
		return nil, invalid("%s: URL %q has no host", what, raw)
	}
	return u, nil
}

// redactURL is a URL as it may appear in history and errors: without its
// user part, whatever the user part holds.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.Index(raw, "@"); err != nil && i >= 0 {
			if s := strings.Index(raw, "://"); s >= 0 && s < i {
				return raw[:s+3] + raw[i+1:]
			}
		}
		return raw
	}
	c := *u
	c.User = nil
	return c.String()
}

// origin is what a secret is bound to across redirects: scheme, host and
// port (the scheme's default port when none is written).
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return u.Scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// redirectGuard follows redirects like net/http does, but a header that
// carries a secret never leaves the origin the step named: on a redirect to
// another scheme, host or port the secret headers are removed, and a body
// rendered from secrets (kept by 307 and 308) refuses the redirect. It
// records what it did, so an error after a redirect says where the request
// ended and what it no longer carried.
type redirectGuard struct {
	secretHeaders []string // canonical names
	secretBody    bool

	mu       sync.Mutex
	crossed  string   // the first other origin the request went to
	stripped []string // the headers removed there
}

// errSecretBodyRedirect refuses a redirect that would carry a secret body to
// another origin.
var errSecretBodyRedirect = errors.New("refused")

func newRedirectGuard(secretHeaders []string, secretBody bool) *redirectGuard {
	g := &redirectGuard{secretBody: secretBody}
	seen := map[string]bool{}
	for _, h := range secretHeaders {
		c := http.CanonicalHeaderKey(h)
		if !seen[c] {
			seen[c] = true
			g.secretHeaders = append(g.secretHeaders, c)
		}
	}
	sort.Strings(g.secretHeaders)
	return g
}

// check is an http.Client CheckRedirect.
func (g *redirectGuard) check(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if origin(req.URL) == origin(via[0].URL) {
		return nil
	}
	if g.secretBody && req.Body != nil && req.Body != http.NoBody {
		return fmt.Errorf("%w to follow the redirect to %s: another host, and the body holds a secret; "+
			"point the step's URL at the host that answers", errSecretBodyRedirect, redactURL(req.URL.String()))
	}
	var removed []string
	for _, h := range g.secretHeaders {
		if _, ok := req.Header[h]; ok {
			req.Header.Del(h)
			removed = append(removed, h)
		}
	}
	g.mu.Lock()
	if g.crossed == "" {
		g.crossed = redactURL(req.URL.String())
	}
	for _, h := range removed {
		if !slices.Contains(g.stripped, h) {
			g.stripped = append(g.stripped, h)
		}
	}
	g.mu.Unlock()
	return nil
}

// note says, for an error message, that the request went to another origin
// without its secret headers; empty when it did not.
func (g *redirectGuard) note() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.crossed == "" {
		return ""
	}
	if len(g.stripped) == 0 {
		return fmt.Sprintf(" (redirected to %s, another host)", g.crossed)
	}
	return fmt.Sprintf(" (redirected to %s, another host, which was not sent the secret header %s; "+
		"point the step's URL at the host that answers)", g.crossed, strings.Join(g.stripped, ", "))
}
