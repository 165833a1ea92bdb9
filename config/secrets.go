package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"upgrader/internal/secret"
)

// MinSecretLen is the shortest secret value accepted: a shorter one cannot
// be scrubbed from text without scrubbing ordinary words with it, and is
// too weak to protect anything.
const MinSecretLen = 6

// SecretStore resolves secret names to values on the worker and knows every
// value it handed out, so that error text can be scrubbed before it leaves
// the worker (failure messages are not encrypted by payload codecs).
type SecretStore struct {
	sources map[string]Secret
	trusted []string
	mu      sync.Mutex
	seen    map[string]struct{}
	// cached forms, for the values seen when they were computed
	cache     []string
	cacheSeen int
}

// NewSecretStore returns a store over the configured sources.
func NewSecretStore(sources map[string]Secret) *SecretStore {
	return &SecretStore{sources: sources, seen: map[string]struct{}{}}
}

// SecretNotFoundError says a name is not configured or its source is empty.
type SecretNotFoundError struct {
	Name   string
	Reason string
}

// Error says which secret and why, never a value.
func (e *SecretNotFoundError) Error() string {
	return fmt.Sprintf("secret %q %s", e.Name, e.Reason)
}

// NewSecretStoreFor returns the store of a worker config: its secrets,
// bound to their uses, with its trustedHosts.
func NewSecretStoreFor(cfg Worker) *SecretStore {
	s := NewSecretStore(cfg.Secrets)
	s.trusted = cfg.TrustedHosts
	return s
}

// CheckUse says whether the named secret may go to u (see Worker.CheckUse).
func (s *SecretStore) CheckUse(name string, u SecretUse) error {
	src, ok := s.sources[name]
	if !ok {
		return nil
	}
	return checkUse(name, src, s.trusted, u)
}

// ResolveFor returns the named secret's value for use u, or a
// SecretMisuseError when its config does not let it go there.
func (s *SecretStore) ResolveFor(name string, u SecretUse) (string, error) {
	if err := s.CheckUse(name, u); err != nil {
		return "", err
	}
	return s.Resolve(name)
}

// Resolve returns the value of the named secret.
func (s *SecretStore) Resolve(name string) (string, error) {
	src, ok := s.sources[name]
	if !ok {
		return "", &SecretNotFoundError{Name: name, Reason: "is not configured on the worker; add it under secrets: in the worker config (known: " + s.known() + ")"}
	}
	var val string
	switch {
	case src.Env != "":
		v, ok := os.LookupEnv(src.Env)
		if !ok || v == "" {
			return "", &SecretNotFoundError{Name: name, Reason: "comes from environment variable " + src.Env + ", which is not set on the worker"}
		}
		val = v
	case src.File != "":
		b, err := os.ReadFile(src.File)
		if err != nil {
			return "", &SecretNotFoundError{Name: name, Reason: fmt.Sprintf("comes from file %s, which cannot be read: %v", src.File, err)}
		}
		val = strings.TrimRight(string(b), "\r\n")
	default:
		val = src.Value
	}
	if val == "" {
		return "", &SecretNotFoundError{Name: name, Reason: "is empty"}
	}
	if len(val) < MinSecretLen {
		return "", &SecretNotFoundError{Name: name, Reason: fmt.Sprintf("is shorter than %d characters: too short to scrub from logs and history safely; use a longer one", MinSecretLen)}
	}
	s.mu.Lock()
	s.seen[val] = struct{}{}
	s.mu.Unlock()
	return val, nil
}

// ResolveAll resolves every configured secret, so that each is known to the
// scrubber before any step runs (a worker restarted mid-run has not
// resolved the secrets of steps that ran before) and a missing one stops
// the worker at start, naming it, instead of failing a step later.
func (s *SecretStore) ResolveAll() error {
	var errs []string
	for _, n := range sortedKeys(s.sources) {
		if _, err := s.Resolve(n); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return errors.New("the worker cannot start: " + strings.Join(errs, "; "))
	}
	return nil
}

func (s *SecretStore) known() string {
	names := make([]string, 0, len(s.sources))
	for n := range s.sources {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// values is every value to scrub: those resolved, every inline value, and
// the long parts of values with spaces (the token of "Bearer <token>",
// echoed back by a server).
func (s *SecretStore) values() []string {
	s.mu.Lock()
	vals := make([]string, 0, len(s.seen)+len(s.sources))
	for v := range s.seen {
		vals = append(vals, v)
	}
	s.mu.Unlock()
	for _, src := range s.sources {
		if src.Value != "" {
			vals = append(vals, src.Value)
		}
	}
	for _, v := range vals {
		if f := strings.Fields(v); len(f) > 1 {
			for _, part := range f {
				if len(part) >= 8 {
					vals = append(vals, part)
				}
			}
		}
	}
	return vals
}

// forms is every text to replace: each value in every encoding it travels
// in (raw, JSON-escaped, URL-encoded, base64 at any offset), longest first
// so that a form that contains another is replaced whole.
func (s *SecretStore) forms() []string {
	s.mu.Lock()
	if s.cache != nil && s.cacheSeen == len(s.seen) {
		defer s.mu.Unlock()
		return s.cache
	}
	n := len(s.seen)
	s.mu.Unlock()
	out := []string{}
	for _, v := range s.values() {
		if len(v) < 3 { // shorter values would scrub ordinary words
			continue
		}
		for _, f := range secret.Forms(v) {
			out = append(out, f.Text)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	s.mu.Lock()
	s.cache, s.cacheSeen = out, n
	s.mu.Unlock()
	return out
}

// Scrub replaces every form of every secret value this store knows with "***".
func (s *SecretStore) Scrub(text string) string {
	for _, f := range s.forms() {
		text = strings.ReplaceAll(text, f, "***")
	}
	return text
}

// Forms is every text Scrub replaces, longest first.
func (s *SecretStore) Forms() []string { return s.forms() }

// MaxFormLen is the length of the longest text Scrub replaces: a stream
// scrubber holds back that much (less one) at a chunk's end, so a secret
// split across two reads, or two lines, is still replaced whole.
func (s *SecretStore) MaxFormLen() int {
	if f := s.forms(); len(f) > 0 {
		return len(f[0])
	}
	return 0
}
