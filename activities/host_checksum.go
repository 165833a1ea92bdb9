package activities

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// Checksum heartbeats while the digest of a large package is computed.
var _ = contract.Declare((*Host).Checksum, contract.Options{Heartbeat: 20 * time.Second})

// ChecksumInput checks a file's digest, on a host or (Host nil) on the worker.
type ChecksumInput struct {
	Host      *SSHTarget `json:"host,omitempty"`
	Path      string     `json:"path"`
	Algorithm string     `json:"algorithm"` // md5 or sha256
	Expect    string     `json:"expect"`
}

// ChecksumResult is the digest found.
type ChecksumResult struct {
	contract.Outcome
	Digest string `json:"digest"`
}

// Checksum computes the digest and compares it with Expect (case-insensitive):
// the guide's "MD5: 4213478c…" check of a downloaded package.
func (h *Host) Checksum(ctx context.Context, in ChecksumInput) (ChecksumResult, error) {
	var newHash func() hash.Hash
	var tool string
	switch strings.ToLower(in.Algorithm) {
	case "md5":
		newHash, tool = md5.New, "md5sum"
	case "sha256", "":
		newHash, tool = sha256.New, "sha256sum"
	default:
		return ChecksumResult{}, invalid("checksum algorithm %q: use md5 or sha256", in.Algorithm)
	}
	var digest, where string
	if in.Host == nil {
		f, err := os.Open(in.Path)
		if err != nil {
			return ChecksumResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("cannot read %s on the worker: %v", in.Path, err), contract.ErrPrecondition, nil)
		}
		defer f.Close()
		hs := newHash()
		err = whileHeartbeating(ctx, nil, func(context.Context) error { _, err := io.Copy(hs, f); return err })
		if err != nil {
			return ChecksumResult{}, fmt.Errorf("unable to read %s: %w", in.Path, err)
		}
		digest, where = hex.EncodeToString(hs.Sum(nil)), "the worker"
	} else {
		res, err := h.Run(ctx, HostCommandInput{Host: *in.Host, Command: tool + " --", Args: []string{in.Path}, Repeatable: true})
		if err != nil {
			return ChecksumResult{}, err
		}
		if len(res.Tail) == 0 {
			return ChecksumResult{}, fmt.Errorf("%s printed nothing for %s on %s", tool, in.Path, in.Host)
		}
		digest, where = strings.Fields(res.Tail[len(res.Tail)-1])[0], in.Host.String()
	}
	if in.Expect != "" && !strings.EqualFold(digest, in.Expect) {
		return ChecksumResult{Digest: digest}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s of %s on %s is %s, the guide says %s: the file is damaged or not the right release; fetch it again",
			strings.ToUpper(in.Algorithm), in.Path, where, digest, in.Expect), ErrChecksumMismatch, nil)
	}
	return ChecksumResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("%s %s of %s on %s", in.Algorithm, digest, in.Path, where)}, Digest: digest}, nil
}
