package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/user"

	"upgrader/config"
	"upgrader/workflows/runbook"
)

// identity is who runs this starter, as runs record it: the subject of the
// client certificate in the worker config's temporal.tls (the Temporal
// server checks it in the TLS handshake, when it requires client
// certificates), else the OS user, unverified. There is no flag to name
// someone else: a name typed on the command line would be anyone's.
func identity(cfg config.Worker) (runbook.Identity, error) {
	t := cfg.Temporal.TLS
	if t.Enabled && t.CertFile != "" {
		b, err := os.ReadFile(t.CertFile)
		if err != nil {
			return runbook.Identity{}, fmt.Errorf("unable to read temporal.tls.certFile for your identity: %w", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return runbook.Identity{}, fmt.Errorf("temporal.tls.certFile %s holds no PEM certificate", t.CertFile)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return runbook.Identity{}, fmt.Errorf("temporal.tls.certFile %s: %w", t.CertFile, err)
		}
		name := cert.Subject.CommonName
		if name == "" {
			return runbook.Identity{}, fmt.Errorf("the client certificate %s has no common name (CN): runs record "+
				"who answers by it; use a certificate issued to a person", t.CertFile)
		}
		return runbook.Identity{Name: name, Subject: cert.Subject.String(), Source: runbook.IdentityMTLS, Verified: true}, nil
	}
	name := os.Getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		return runbook.Identity{}, fmt.Errorf("unable to tell who you are: no client certificate in temporal.tls and no OS user ($USER)")
	}
	return runbook.Identity{Name: name, Source: runbook.IdentityOSUser}, nil
}
