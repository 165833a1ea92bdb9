package config

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

// SecretStore resolves secret names to values on the worker and knows every
// value it handed out, so that error text can be scrubbed before it leaves
// the worker (failure messages are not encrypted by payload codecs).
type SecretStore struct {
	sources map[string]Secret
	mu      sync.Mutex
	seen    map[string]struct{}
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
	s.mu.Lock()
	s.seen[val] = struct{}{}
	s.mu.Unlock()
	return val, nil
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

// Scrub replaces every secret value this store has resolved, and every
// configured inline value, with "***".
func (s *SecretStore) Scrub(text string) string {
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
	// Parts of a value travel alone too: the token of "Bearer <token>",
	// echoed back by a server. Long parts only, to spare ordinary words.
	for _, v := range vals {
		if f := strings.Fields(v); len(f) > 1 {
			for _, part := range f {
				if len(part) >= 8 {
					vals = append(vals, part)
				}
			}
		}
	}
	// Longest first, so a value that contains another is replaced whole.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		if len(v) >= 3 { // shorter values would scrub ordinary words
			text = strings.ReplaceAll(text, v, "***")
		}
	}
	return text
}
