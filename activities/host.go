package activities

import (
	"fmt"
	"time"

	"upgrader/config"
)

// Error types of host steps, for the operator and for workflows to branch on.
const (
	ErrHostKeyUnknown   = "HostKeyUnknown"   // the host's key is in no known_hosts: verify it, then add it
	ErrHostKeyChanged   = "HostKeyChanged"   // the host's key differs from known_hosts: possible attack
	ErrHostAuthFailed   = "HostAuthFailed"   // the key was refused
	ErrCommandFailed    = "CommandFailed"    // unexpected exit code
	ErrFailurePattern   = "FailurePattern"   // output matched a failure pattern
	ErrSuccessMissing   = "SuccessMissing"   // output lacked a success pattern
	ErrChecksumMismatch = "ChecksumMismatch" // a file is not the one the guide names
)

// SSHTarget is one host of the inventory, as a step's input carries it:
// the address and user, and only the name of the secret holding the key.
type SSHTarget struct {
	Name    string `json:"name"`    // inventory name, for messages
	Address string `json:"address"` // host:port
	User    string `json:"user"`
	KeyRef  string `json:"keyRef"` // secret holding the private key (PEM)
	// HostKey pins the host's public key ("ssh-ed25519 AAAA…"); empty uses
	// the worker's known_hosts files.
	HostKey string `json:"hostKey,omitempty"`
}

// TargetFor builds a step's SSH target from an inventory host.
func TargetFor(inv config.Inventory, name string) (SSHTarget, error) {
	h, ok := inv[name]
	if !ok {
		return SSHTarget{}, fmt.Errorf("no host %q in the inventory", name)
	}
	return SSHTarget{Name: name, Address: h.Address, User: h.User, KeyRef: h.KeyRef, HostKey: h.HostKey}, nil
}

// String names the host for messages: name (user@address).
func (t SSHTarget) String() string {
	if t.Name != "" && t.Name != t.Address {
		return t.Name + " (" + t.User + "@" + t.Address + ")"
	}
	return t.User + "@" + t.Address
}

// Host runs commands on hosts over SSH. Host keys are always verified: an
// unknown key is an error that says how to check and add it, never a
// silent trust-on-first-use. The verbs live in their own files: host_ssh.go
// (dial, host keys), host_run.go and host_runonce.go (commands),
// host_upload.go, host_checksum.go.
type Host struct {
	Secrets   Secrets
	Scrub     Scrubber
	Artifacts *Artifacts
	// KnownHostsFiles are OpenSSH known_hosts files.
	KnownHostsFiles []string
	// DialTimeout bounds the TCP connect and, separately, the SSH handshake
	// with authentication; zero means 15 s. A host that accepts TCP and never
	// speaks SSH fails within it instead of hanging the step.
	DialTimeout time.Duration
	// MarkerDir is the folder on each host under which commands that must
	// not run twice keep their marker, lock, exit code and output (one
	// folder per run, step try and command). Relative paths are taken from
	// the SSH user's home; empty means ".upgrader/commands".
	MarkerDir string
}

func (h *Host) scrub(s string) string { return scrubText(h.Scrub, s) }
