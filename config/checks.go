package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"sigs.k8s.io/yaml"

	"upgrader/internal/codec"
)

// CheckHostPort reports an address that is not host:port with a real port:
// a scheme or a bad port would otherwise surface as a dial failure that
// names no key. example is a good address for the message.
func CheckHostPort(p *Problems, key, addr, example string) {
	if addr == "" {
		p.Add(key, "is empty; set host:port, e.g. %s", example)
		return
	}
	if strings.Contains(addr, "://") {
		p.Add(key, "%q: give host:port without a scheme, e.g. %s", addr, example)
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.Add(key, "%q has no port; use host:port, e.g. %s", addr, example)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		p.Add(key, "%q: %s is not a port (1-65535)", addr, port)
	}
	if host == "" {
		p.Add(key, "%q has no host", addr)
	}
}

// checkAbsPath reports a path that is not absolute and clean: a relative
// folder depends on where the worker was started, .. can leave it.
func checkAbsPath(p *Problems, key, path string) {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		p.Add(key, "%q must be an absolute, clean path (no .., no trailing /), e.g. %s", path, filepath.Clean("/"+path))
	}
}

// checkRepoURL reports a chart repository that is not http(s) without user
// info: a file:// repository is a folder anyone who can write there controls
// (use chartDirs, which are checked), and user@ sends credentials elsewhere.
func checkRepoURL(p *Problems, key, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		p.Add(key, "%q is not a URL: %v", raw, err)
	case u.Scheme == "file":
		p.Add(key, "%q: file:// repositories are refused; list the folder under chartDirs instead", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		p.Add(key, "%q: only http:// and https:// chart repositories", raw)
	case u.User != nil:
		p.Add(key, "%q holds user info before @; the request would go to %s", raw, u.Host)
	case u.Hostname() == "":
		p.Add(key, "%q has no host", raw)
	}
}

// checkOnlyOwnerWrites reports a file or folder that someone other than the
// worker's user (or root) may write: a chart planted there is installed, a
// secret changed there is sent.
func checkOnlyOwnerWrites(p *Problems, key, path string, st fs.FileInfo) {
	if st.Mode().Perm()&0o022 != 0 {
		p.Add(key, "%s is writable by group or others (%s); run: chmod go-w %s", path, st.Mode().Perm(), path)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		if uid := uint32(os.Getuid()); sys.Uid != uid && sys.Uid != 0 {
			p.Add(key, "%s belongs to uid %d, not the worker's user (uid %d) or root; run: chown %d %s", path, sys.Uid, uid, uid, path)
		}
	}
}

// checkCaseUnique reads the worker config file as written and reports map
// keys that differ only in case: viper lower-cases keys, so one of two such
// secrets (or clusters, or repositories) would silently win.
func checkCaseUnique(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil // reported by the loader
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil
	}
	var p Problems
	for _, section := range []string{"secrets", "clusters", "chartRepos"} {
		m, _ := doc[section].(map[string]any)
		seen := map[string]string{}
		for _, k := range sortedKeys(m) {
			low := strings.ToLower(k)
			if other, dup := seen[low]; dup {
				p.Add(section+"."+k, "differs from %s.%s only in case; names are case-insensitive, rename one", section, other)
			}
			seen[low] = k
		}
		for _, k := range sortedKeys(m) {
			if k != strings.ToLower(k) {
				p.Add(section+"."+k, "has upper-case letters; names are read in lower case (%s), write them so", strings.ToLower(k))
			}
		}
	}
	if err := p.Err(); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// checkCodec reports a codec key ring that cannot be used: both sources
// set, a file anyone but the worker's user may read or write, or a ring
// that does not parse (the message names the line, never a key).
func checkCodec(p *Problems, c Codec) {
	if c.KeyFile != "" && c.KeyEnv != "" {
		p.Add("temporal.codec", "set keyFile or keyEnv, not both")
		return
	}
	if c.KeyFile != "" {
		checkAbsPath(p, "temporal.codec.keyFile", c.KeyFile)
		st, err := os.Stat(c.KeyFile)
		if err != nil {
			p.Add("temporal.codec.keyFile", "cannot read %s: %v; make a key ring with `starter codec-key ID > FILE`", c.KeyFile, errors.Unwrap(err))
			return
		}
		if st.Mode().Perm()&0o077 != 0 {
			p.Add("temporal.codec.keyFile", "%s may be read or written by group or others (%s); run: chmod 600 %s", c.KeyFile, st.Mode().Perm(), c.KeyFile)
		}
		checkOnlyOwnerWrites(p, "temporal.codec.keyFile", c.KeyFile, st)
	}
	if c.Enabled() {
		if _, err := codec.LoadRing(c.KeyFile, c.KeyEnv); err != nil {
			key := "temporal.codec.keyFile"
			if c.KeyEnv != "" {
				key = "temporal.codec.keyEnv"
			}
			p.Add(key, "%v", err)
		}
	}
}
