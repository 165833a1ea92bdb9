package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/alessio/shellescape"
	"go.temporal.io/sdk/temporal"

	"upgrader/config"
	"upgrader/internal/contract"
)

// Upload heartbeats while the file travels and the host checks it.
var _ = contract.Declare((*Host).Upload, contract.Options{Heartbeat: 20 * time.Second})

// UploadInput writes a file on a host: a generated docker-compose file, a
// script. With Template set, Content is a Go text/template rendered on the
// worker with Vars and a `secret "name"` function, so the workflow input
// holds the template and the secret names, never the values.
type UploadInput struct {
	Host     SSHTarget         `json:"host"`
	Path     string            `json:"path"`
	Content  string            `json:"content"`
	Template bool              `json:"template,omitempty"`
	Vars     map[string]string `json:"vars,omitempty"`
	// Mode is the file mode; zero means 0600.
	Mode uint32 `json:"mode,omitempty"`
}

// UploadResult names what was written and its checksum.
type UploadResult struct {
	contract.Outcome
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
}

// Upload writes the file atomically (temp file, then rename) and checks
// the host's SHA-256 of the result against what was sent.
func (h *Host) Upload(ctx context.Context, in UploadInput) (UploadResult, error) {
	if !path.IsAbs(in.Path) {
		return UploadResult{}, invalid("upload path %q must be absolute", in.Path)
	}
	data := []byte(in.Content)
	if in.Template {
		rendered, err := h.render(in)
		if err != nil {
			return UploadResult{}, err
		}
		data = rendered
	}
	mode := in.Mode
	if mode == 0 {
		mode = 0o600
	}
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	tmp := in.Path + ".upgrader-tmp"
	cmd := fmt.Sprintf("umask 077 && mkdir -p %s && cat > %s && chmod %s %s && mv -f %s %s && sha256sum %s",
		shellescape.Quote(path.Dir(in.Path)), shellescape.Quote(tmp), strconv.FormatUint(uint64(mode), 8),
		shellescape.Quote(tmp), shellescape.Quote(tmp), shellescape.Quote(in.Path), shellescape.Quote(in.Path))
	var out []byte
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		client, err := h.Dial(ctx, in.Host)
		if err != nil {
			return err
		}
		defer client.Close()
		stop := context.AfterFunc(ctx, func() { client.Close() })
		defer stop()
		sess, err := client.NewSession()
		if err != nil {
			return fmt.Errorf("unable to open a session on %s: %w", in.Host, err)
		}
		defer sess.Close()
		sess.Stdin = bytes.NewReader(data)
		out, err = sess.CombinedOutput(cmd)
		if ctx.Err() != nil {
			return fmt.Errorf("stopped writing %s on %s: %w", in.Path, in.Host, ctx.Err())
		}
		if err != nil {
			return fmt.Errorf("unable to write %s on %s: %v: %s", in.Path, in.Host, err, h.scrub(strings.TrimSpace(string(out))))
		}
		return nil
	})
	if err != nil {
		return UploadResult{}, err
	}
	got := strings.Fields(string(out))
	if len(got) == 0 || got[0] != want {
		return UploadResult{}, temporal.NewApplicationError(fmt.Sprintf("%s on %s has sha256 %v after upload, expected %s", in.Path, in.Host, got, want), ErrChecksumMismatch)
	}
	return UploadResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("wrote %s on %s (%d bytes, sha256 %s…)", in.Path, in.Host, len(data), want[:12])},
		SHA256: want, Bytes: len(data)}, nil
}

func (h *Host) render(in UploadInput) ([]byte, error) {
	return renderWithSecrets(in.Path, in.Content, in.Vars, h.Secrets, config.SecretUse{Kind: config.UseFile})
}
