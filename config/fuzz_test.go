package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"upgrader/config"
	"upgrader/internal/secret"
)

// FuzzScrub: whatever surrounds a secret, and in whichever form it travels
// (raw, JSON-escaped, URL-encoded, base64 at any offset), the scrubber
// never returns it in any form.
func FuzzScrub(f *testing.F) {
	f.Add("Bearer tok-12345", "Authorization: ", "\n", uint8(0))
	f.Add("p@ss w<rd>&/", "dsn=root:", "@tcp(db)", uint8(3))
	f.Add("迁移-secret-值", `{"pw":"`, `"}`, uint8(5))
	f.Fuzz(func(t *testing.T, value, before, after string, form uint8) {
		if len(value) < config.MinSecretLen || strings.Contains(value, "*") {
			return // refused by the config; "***" is the scrubber's own mark
		}
		forms := secret.Forms(value)
		planted := before + forms[int(form)%len(forms)].Text + after
		store := config.NewSecretStore(map[string]config.Secret{"s": {Value: value}})
		out := store.Scrub(planted)
		if found := secret.Find(out, value); len(found) > 0 {
			t.Fatalf("Scrub(%q) = %q still holds the secret as %s", planted, out, found[0].Name)
		}
	})
}

// FuzzWorkerConfig: any worker config file loads or is refused with an
// error, never a panic; one that loads validates again and holds no
// secret too short to scrub.
func FuzzWorkerConfig(f *testing.F) {
	for _, s := range []string{
		"temporal: {address: 127.0.0.1:7233}\nartifactDir: /tmp/a\n",
		"secrets:\n  db: {value: long-enough, uses: [mysql]}\n  tok: {env: TOK, uses: [http], hosts: [api.example.com]}\n",
		"temporal:\n  codec: {keyEnv: NOPE}\ntrustedHosts: [a.example]\n",
		"secrets: {a: {value: x}, A: {value: y}}\n",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(dir, "w.yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.LoadWorker(p)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("loaded, then invalid: %v", err)
		}
		for n, s := range cfg.Secrets {
			if s.Value != "" && len(s.Value) < config.MinSecretLen {
				t.Fatalf("secret %s accepted with a %d-character value", n, len(s.Value))
			}
		}
	})
}
