package activities

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"go.temporal.io/sdk/temporal"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"upgrader/internal/contract"
)

// Preflight holds the read-only checks a guide runs before it changes
// anything (steps named preflight/*; `starter preflight` runs exactly
// those). It is a separate set on purpose: it holds no client that could
// change a site. Its Kubernetes client refuses every request but reads and
// access reviews (readOnlyTransport), its MySQL sessions are READ ONLY, its
// SSH sessions run fixed inspection commands, and it writes no file. One
// check per file: preflight_releases.go, preflight_mysql.go,
// preflight_kube.go, preflight_ssh.go, preflight_secrets.go.
type Preflight struct {
	Secrets Secrets
	Scrub   Scrubber
	// Clusters by name, as Helm and Kube have them.
	Clusters map[string]Cluster
	// ArtifactDir is where the worker writes backups (free disk is measured there).
	ArtifactDir string
	// KnownHostsFiles verify SSH host keys (as Host's).
	KnownHostsFiles []string
	// FreeBytes reports the free space of the file system holding path;
	// nil: statfs(2).
	FreeBytes func(path string) (uint64, error)
}

func (p *Preflight) scrub(s string) string { return scrubText(p.Scrub, s) }

// freeBytes measures the free space where path is (or would be) written:
// the nearest existing parent's file system.
func (p *Preflight) freeBytes(path string) (uint64, string, error) {
	dir := filepath.Clean(path)
	for {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if p.FreeBytes != nil {
		n, err := p.FreeBytes(dir)
		return n, dir, err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, dir, err
	}
	return st.Bavail * uint64(st.Bsize), dir, nil
}

// ErrReadOnly: a preflight check tried to change something. It is a bug in
// the check, refused before it reaches the site.
const ErrReadOnly = "ReadOnlyViolation"

// readOnlyTransport lets through what a preflight may send to an API
// server: reads (GET, HEAD) and the access reviews that ask "may I?"
// without changing anything (POST to selfsubjectaccessreviews or
// selfsubjectrulesreviews). Everything else is refused on the worker.
type readOnlyTransport struct{ next http.RoundTripper }

func (t readOnlyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
	case r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/selfsubjectaccessreviews") ||
		strings.HasSuffix(r.URL.Path, "/selfsubjectrulesreviews")):
	default:
		return nil, fmt.Errorf("%s: preflight is read-only and refused %s %s", ErrReadOnly, r.Method, r.URL.Path)
	}
	return t.next.RoundTrip(r)
}

// kubeClient is a read-only clientset for a cluster.
func (p *Preflight) kubeClient(cluster string) (kubernetes.Interface, error) {
	c, ok := p.Clusters[cluster]
	if !ok {
		return nil, invalid("cluster %q is not configured on the worker (clusters: in worker.yaml)", cluster)
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: c.Context}).ClientConfig()
	if err != nil {
		return nil, invalid("cluster %s: kubeconfig %s: %v", cluster, c.Kubeconfig, err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return readOnlyTransport{next: rt} })
	return kubernetes.NewForConfig(cfg)
}

// outcome is a check's result: the rows, a summary, and, when a row
// failed, a failure that carries the rows as details (so the upgrade
// pauses before any change, and `starter preflight` still shows them all).
func outcome(what string, checks []contract.Check) (contract.Outcome, error) {
	out := contract.Outcome{Checks: checks}
	failed := contract.Failed(checks)
	warn := 0
	for _, c := range checks {
		if c.Result == contract.Warn {
			warn++
		}
	}
	if len(failed) == 0 {
		out.Summary = fmt.Sprintf("%s: %d checked, all pass", what, len(checks))
		if warn > 0 {
			out.Summary = fmt.Sprintf("%s: %d checked, %d warnings", what, len(checks), warn)
		}
		return out, nil
	}
	var lines []string
	for _, c := range failed {
		lines = append(lines, fmt.Sprintf("%s %s: %s; %s", c.Check, c.Target, c.Found, c.Fix))
	}
	out.Summary = fmt.Sprintf("%s: %d of %d failed", what, len(failed), len(checks))
	return out, preconditionFailed(fmt.Sprintf("%s: nothing was changed; fix these, then retry this step: %s",
		out.Summary, strings.Join(lines, " | ")), out)
}

func pass(check, target, found string) contract.Check {
	return contract.Check{Check: check, Target: target, Result: contract.Pass, Found: found}
}

func fail(check, target, found, fix string) contract.Check {
	return contract.Check{Check: check, Target: target, Result: contract.Fail, Found: found, Fix: fix}
}

func warn(check, target, found, fix string) contract.Check {
	return contract.Check{Check: check, Target: target, Result: contract.Warn, Found: found, Fix: fix}
}

// preconditionFailed is a failure no retry fixes, carrying the rows.
func preconditionFailed(msg string, out contract.Outcome) error {
	return temporal.NewNonRetryableApplicationError(msg, contract.ErrPrecondition, nil, out)
}
