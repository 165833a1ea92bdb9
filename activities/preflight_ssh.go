package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/alessio/shellescape"
	"golang.org/x/crypto/ssh"

	"upgrader/internal/contract"
)

// HostsCheckInput lists the hosts a run reaches over SSH and the tools it
// calls there.
type HostsCheckInput struct {
	Hosts []SSHTarget `json:"hosts"`
	// Tools are commands the guide runs on every host (mysqldump, tar, sha256sum).
	Tools []string `json:"tools,omitempty"`
	// Sudo: the guide runs commands with sudo; it must work without a password.
	Sudo bool `json:"sudo,omitempty"`
}

// Each host's dial is bounded (15 s connect, 15 s handshake): heartbeat.
var _ = contract.Declare((*Preflight).CheckHosts, contract.Options{Heartbeat: 20 * time.Second})

// CheckHosts connects to every host with its host key verified against
// known_hosts (or the pinned key), never trusting a new one, and checks the
// tools the guide calls are there. It runs only `command -v` and `sudo -n
// true`.
func (p *Preflight) CheckHosts(ctx context.Context, in HostsCheckInput) (contract.Outcome, error) {
	var checks []contract.Check
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		h := &Host{Secrets: p.Secrets, Scrub: p.Scrub, KnownHostsFiles: p.KnownHostsFiles}
		for _, t := range in.Hosts {
			checks = append(checks, p.checkHost(ctx, h, t, in)...)
		}
		return nil
	})
	if err != nil {
		return contract.Outcome{}, err
	}
	return outcome("hosts", checks)
}

func (p *Preflight) checkHost(ctx context.Context, h *Host, t SSHTarget, in HostsCheckInput) []contract.Check {
	target := t.String()
	var key ssh.PublicKey
	c, err := h.dialSeeing(ctx, t, &key)
	switch {
	case isAppErr(err, ErrHostKeyUnknown):
		return []contract.Check{fail("ssh", target, "the host key is unknown: "+h.scrub(err.Error()),
			"verify the host's fingerprint with its owner, then add it to known_hosts (ssh-keyscan) or pin hostKey in the inventory")}
	case isAppErr(err, ErrHostKeyChanged):
		return []contract.Check{fail("ssh", target, "the host key does not match: "+h.scrub(err.Error()),
			"stop: check with the host's owner whether it was reinstalled before changing known_hosts")}
	case isAppErr(err, ErrHostAuthFailed):
		return []contract.Check{fail("ssh", target, h.scrub(err.Error()),
			fmt.Sprintf("add the public key of secret %s to %s's authorized_keys", t.KeyRef, t.User))}
	case err != nil:
		return []contract.Check{fail("ssh", target, "does not answer: "+h.scrub(err.Error()),
			"check the inventory address, that sshd runs there, and the firewall between the worker and the host")}
	}
	defer c.Close()
	found := "answers; host key verified"
	if key != nil {
		found += " (" + key.Type() + " " + ssh.FingerprintSHA256(key) + ")"
	}
	checks := []contract.Check{pass("ssh", target, found)}
	var script strings.Builder
	for _, tool := range in.Tools {
		fmt.Fprintf(&script, "printf 'UPGRADER-TOOL %%s %%s\\n' %s \"$(command -v %s || true)\"\n", shellescape.Quote(tool), shellescape.Quote(tool))
	}
	if in.Sudo {
		script.WriteString("if sudo -n true 2>/dev/null; then echo UPGRADER-SUDO yes; else echo UPGRADER-SUDO no; fi\n")
	}
	if script.Len() == 0 {
		return checks
	}
	s, err := c.NewSession()
	if err != nil {
		return append(checks, fail("ssh", target, "no session: "+err.Error(), "check sshd's MaxSessions and log"))
	}
	defer s.Close()
	outb, err := s.CombinedOutput(script.String())
	if err != nil {
		return append(checks, fail("tools", target, h.scrub(fmt.Sprintf("the tool check did not run: %v: %s", err, outb)), "check the account's shell"))
	}
	for _, line := range strings.Split(string(outb), "\n") {
		if rest, ok := strings.CutPrefix(line, "UPGRADER-TOOL "); ok {
			tool, path, _ := strings.Cut(rest, " ")
			if path == "" {
				checks = append(checks, fail("tool", target+": "+tool, "not on the PATH of "+t.User,
					fmt.Sprintf("install %s on the host (or add its folder to %s's PATH)", tool, t.User)))
			} else {
				checks = append(checks, pass("tool", target+": "+tool, path))
			}
		}
		if rest, ok := strings.CutPrefix(line, "UPGRADER-SUDO "); ok {
			if rest == "yes" {
				checks = append(checks, pass("sudo", target, "sudo works without a password"))
			} else {
				checks = append(checks, fail("sudo", target, t.User+" may not sudo without a password",
					fmt.Sprintf("allow %s passwordless sudo for the guide's commands (sudoers), or use an account that has it", t.User)))
			}
		}
	}
	return checks
}
