// Package secret knows the forms a secret value takes when it travels
// inside other text: raw, JSON-escaped, URL-encoded, and base64 at any
// position inside a longer encoded value ("user:password" in a Basic
// Authorization header). The scrubber removes them all; the tests' history
// checker looks for them all.
package secret

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
)

// Form is one way a secret can appear.
type Form struct {
	// Name says which encoding: raw, json, url-query, url-path, base64, ...
	Name string
	// Text is what to look for.
	Text string
}

// MinBase64Run is the shortest base64 run Forms returns: a shorter one
// would match ordinary encoded data by chance.
const MinBase64Run = 8

// Forms returns every distinct form of v, raw first.
func Forms(v string) []Form {
	if v == "" {
		return nil
	}
	var out []Form
	seen := map[string]bool{}
	add := func(name, text string) {
		if text == "" || seen[text] {
			return
		}
		seen[text] = true
		out = append(out, Form{Name: name, Text: text})
	}
	add("raw", v)
	add("json", jsonEscape(v, true))
	add("json", jsonEscape(v, false))
	add("url-query", url.QueryEscape(v))
	add("url-path", url.PathEscape(v))
	for _, enc := range []struct {
		name string
		e    *base64.Encoding
	}{{"base64", base64.RawStdEncoding}, {"base64url", base64.RawURLEncoding}} {
		for k := 0; k < 3; k++ {
			if run := base64Run(enc.e, v, k); len(run) >= MinBase64Run || (k == 0 && len(run) > 0 && len(run) >= len(v)) {
				add(enc.name, run)
			}
		}
	}
	return out
}

// jsonEscape is v as it appears inside a JSON string (without quotes).
func jsonEscape(v string, html bool) string {
	var b strings.Builder
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(html)
	_ = e.Encode(v)
	s := strings.TrimSuffix(b.String(), "\n")
	return s[1 : len(s)-1]
}

// base64Run is the part of the base64 encoding of v that does not depend
// on what surrounds it, when v starts k bytes (mod 3) into the encoded
// value: characters that also hold bits of neighbouring bytes are dropped.
func base64Run(e *base64.Encoding, v string, k int) string {
	buf := make([]byte, k+len(v))
	copy(buf[k:], v)
	enc := e.EncodeToString(buf)
	from := (8*k + 5) / 6
	to := 8 * len(buf) / 6
	if to > len(enc) {
		to = len(enc)
	}
	if from >= to {
		return ""
	}
	return enc[from:to]
}

// Find returns the forms of any of values that occur in text.
func Find(text string, values ...string) []Form {
	var found []Form
	for _, v := range values {
		for _, f := range Forms(v) {
			if strings.Contains(text, f.Text) {
				found = append(found, f)
			}
		}
	}
	return found
}
