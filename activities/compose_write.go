package activities

import (
	"context"
	"time"

	"upgrader/internal/contract"
)

// WriteCompose heartbeats while the file travels (Upload's ticker).
var _ = contract.Declare((*Compose).WriteCompose, contract.Options{Heartbeat: 20 * time.Second})

// WriteCompose fills the file in on the worker, checks it as
// ValidateCompose does, and writes it to the host atomically, readable by
// its owner only (it holds passwords), checking the host's SHA-256 of what
// arrived. Writing the same file again is harmless.
func (c *Compose) WriteCompose(ctx context.Context, in ComposeFileInput) (UploadResult, error) {
	r, err := c.render(in)
	if err != nil {
		return UploadResult{}, err
	}
	chk, err := c.check(ctx, in, r)
	if err != nil {
		return UploadResult{}, err
	}
	res, err := c.Host.Upload(ctx, UploadInput{Host: in.Host, Path: in.Path, Content: string(r.data), Mode: 0o600})
	if err != nil {
		return UploadResult{}, err
	}
	res.Summary += "; " + chk.Summary
	return res, nil
}
