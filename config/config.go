// Package config loads what the worker and the starter need: how to reach
// Temporal, where to keep artifacts, and where secrets live. Files are YAML,
// read with viper; every key can be overridden by an UPGRADER_* environment
// variable (temporal.address → UPGRADER_TEMPORAL_ADDRESS). A loaded config is
// validated as a whole, and every problem is reported by field at once.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every environment override.
const EnvPrefix = "UPGRADER"

// Worker is the worker's (and the starter's) configuration.
type Worker struct {
	Temporal Temporal `mapstructure:"temporal"`
	// ArtifactDir holds each run's backups and logs, one folder per run.
	ArtifactDir string `mapstructure:"artifactDir"`
	// Secrets maps the names workflow inputs use to where the value lives.
	Secrets map[string]Secret `mapstructure:"secrets"`
	// Log sets the worker's log level: debug, info, warn or error.
	LogLevel string `mapstructure:"logLevel"`
	SSH      SSH    `mapstructure:"ssh"`
	// Clusters maps the names steps use to kubeconfig files and contexts.
	Clusters map[string]Cluster `mapstructure:"clusters"`
	// ChartDirs hold charts as <name>-<version>.tgz or <name>/ folders:
	// the site's chart mirror (most sites are offline).
	ChartDirs []string `mapstructure:"chartDirs"`
	// ChartRepos maps repository names (c7n, skoala) to URLs, for sites
	// that reach them; charts are downloaded once into ChartCache.
	ChartRepos map[string]string `mapstructure:"chartRepos"`
	ChartCache string            `mapstructure:"chartCache"`
	// TrustedHosts are host names (or IPs) besides a site's own domains
	// that a run may send secrets to: an API gateway reached by IP, a lab.
	TrustedHosts []string `mapstructure:"trustedHosts"`
	// Demo registers the demo guide (its workflow and its activities, which
	// write files under a lab folder the run names): `starter demo` and
	// labs only, never a site's worker.
	Demo bool `mapstructure:"demo"`
	// Site names the site (network zone) this worker serves, as upgrade
	// configs name it under sites: (their taskQueue is this worker's
	// temporal.taskQueue): shown in its Temporal identity and its logs.
	Site string `mapstructure:"site"`
	// ActivitiesOnly makes the worker poll its task queue for activities
	// only: a site's worker, while the runs' workflows run on a central
	// worker polling the runs' own queue.
	ActivitiesOnly bool `mapstructure:"activitiesOnly"`
	// Metrics is where the worker serves /metrics for Prometheus.
	Metrics Metrics `mapstructure:"metrics"`
	// Notify lists webhooks the worker posts to when a gate waits, a step
	// pauses for a decision, or a run ends.
	Notify []Webhook `mapstructure:"notify"`
}

// Webhook is one chat or endpoint to notify.
type Webhook struct {
	Name string `mapstructure:"name"`
	// Format is json, dingtalk, wecom, feishu or slack.
	Format string `mapstructure:"format"`
	// URLRef names the secret holding the webhook URL (its token is the
	// credential); URL is for an endpoint without one.
	URLRef string `mapstructure:"urlRef"`
	URL    string `mapstructure:"url"`
	// SignRef names the signing secret of a DingTalk or Feishu robot.
	SignRef string `mapstructure:"signRef"`
	// Events: gate-waiting, decision-needed, run-ended; empty: all.
	Events []string `mapstructure:"events"`
}

// Metrics configures the worker's Prometheus endpoint.
type Metrics struct {
	// Address is host:port of /metrics (the Temporal SDK's metrics and the
	// runs' steps, tries, durations and gate waits); empty: not served.
	Address string `mapstructure:"address"`
}

// Cluster is how the worker reaches one Kubernetes cluster.
type Cluster struct {
	Kubeconfig string `mapstructure:"kubeconfig"`
	Context    string `mapstructure:"context"`
	// InCluster reaches the cluster the worker runs in with its pod's
	// ServiceAccount (the Helm chart deploy/helm/upgrader-worker), instead
	// of a kubeconfig file.
	InCluster bool `mapstructure:"inCluster"`
}

// SSH configures how the worker verifies hosts.
type SSH struct {
	// KnownHostsFiles are OpenSSH known_hosts files every host key is
	// checked against (unless the inventory pins the key).
	KnownHostsFiles []string `mapstructure:"knownHostsFiles"`
}

// Temporal says how to reach the Temporal server.
type Temporal struct {
	Address   string `mapstructure:"address"`
	Namespace string `mapstructure:"namespace"`
	TaskQueue string `mapstructure:"taskQueue"`
	// UIAddress is printed in links to runs; empty prints none.
	UIAddress string `mapstructure:"uiAddress"`
	TLS       TLS    `mapstructure:"tls"`
	// Codec encrypts every payload this client writes; the worker, the
	// starter and the codec server must share its keys.
	Codec Codec `mapstructure:"codec"`
}

// Codec says where the payload codec's key ring lives: a file, or an
// environment variable holding the same text. One key a line,
// "<id> <64 hex digits>", the first one encrypts, the others (retired keys)
// still decrypt. Both empty: payloads are stored in clear. A key is never
// written inline in a config file.
type Codec struct {
	KeyFile string `mapstructure:"keyFile"`
	KeyEnv  string `mapstructure:"keyEnv"`
}

// Enabled says whether payloads are encrypted.
func (c Codec) Enabled() bool { return c.KeyFile != "" || c.KeyEnv != "" }

// TLS configures a TLS (optionally mutual) connection to Temporal.
type TLS struct {
	Enabled    bool   `mapstructure:"enabled"`
	CAFile     string `mapstructure:"caFile"`
	CertFile   string `mapstructure:"certFile"`
	KeyFile    string `mapstructure:"keyFile"`
	ServerName string `mapstructure:"serverName"`
}

// Secret says where one secret's value lives on the worker. Exactly one
// field is set. Values never leave the worker: workflows carry only names.
type Secret struct {
	Env   string `mapstructure:"env"`   // an environment variable
	File  string `mapstructure:"file"`  // a file (trailing newline trimmed)
	Value string `mapstructure:"value"` // inline, for labs and tests only
	// Uses binds the secret to where it may go (config.Uses: mysql,
	// ssh-env, helm-values, http, ...); a step that would send it
	// elsewhere fails before doing anything. Empty: any use.
	Uses []string `mapstructure:"uses"`
	// Hosts binds an http use to these hosts (and names under them); plain
	// http:// is allowed only to these or the worker's trustedHosts.
	Hosts []string `mapstructure:"hosts"`
}

// siteName is a site's name, as upgrade configs' sites: keys are checked.
var siteName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Defaults are what an empty config file means: a local dev server.
func Defaults() Worker {
	home, _ := os.UserHomeDir()
	return Worker{
		Temporal: Temporal{
			Address:   "127.0.0.1:7233",
			Namespace: "default",
			TaskQueue: "upgrader",
			UIAddress: "http://127.0.0.1:8233",
		},
		ArtifactDir: filepath.Join(home, ".local", "state", "upgrader", "artifacts"),
		LogLevel:    "info",
		SSH:         SSH{KnownHostsFiles: []string{filepath.Join(home, ".ssh", "known_hosts")}},
		ChartCache:  filepath.Join(home, ".cache", "upgrader", "charts"),
	}
}

// LoadWorker reads path (empty: defaults and environment only), applies
// UPGRADER_* overrides and validates the result. Unknown keys are errors, so
// a typo does not silently fall back to a default.
func LoadWorker(path string) (Worker, error) {
	v := viper.New()
	def := Defaults()
	setDefaults(v, "", reflect.ValueOf(def))
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if path != "" {
		if err := checkCaseUnique(path); err != nil {
			return Worker{}, err
		}
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return Worker{}, fmt.Errorf("unable to read config %s: %w", path, err)
		}
	}
	var cfg Worker
	if err := v.UnmarshalExact(&cfg, func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = true }); err != nil {
		return Worker{}, fmt.Errorf("config %s: %w", displayPath(path), err)
	}
	if err := cfg.Validate(); err != nil {
		return Worker{}, fmt.Errorf("config %s: %w", displayPath(path), err)
	}
	return cfg, nil
}

func displayPath(p string) string {
	if p == "" {
		return "(defaults and environment)"
	}
	return p
}

// setDefaults registers every leaf key with viper so that AutomaticEnv
// overrides reach Unmarshal (viper only consults the environment for keys it
// knows about).
func setDefaults(v *viper.Viper, prefix string, val reflect.Value) {
	t := val.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("mapstructure")
		if key == "" {
			continue
		}
		if prefix != "" {
			key = prefix + "." + key
		}
		fv := val.Field(i)
		switch fv.Kind() {
		case reflect.Struct:
			setDefaults(v, key, fv)
		case reflect.Map:
			// Secrets have no defaults; they come from the file.
		default:
			v.SetDefault(key, fv.Interface())
		}
	}
}

// Problems collects every problem of a config, by field.
type Problems []string

// Add records a problem with one field.
func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

// Err returns nil when there were no problems, else one error listing them.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New("invalid configuration:\n  - " + strings.Join(p, "\n  - "))
}

// Validate reports every problem of the config at once.
func (c Worker) Validate() error {
	var p Problems
	CheckHostPort(&p, "temporal.address", c.Temporal.Address, "127.0.0.1:7233")
	if c.Temporal.Namespace == "" {
		p.Add("temporal.namespace", "is empty")
	}
	if c.Temporal.TaskQueue == "" {
		p.Add("temporal.taskQueue", "is empty")
	}
	t := c.Temporal.TLS
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "") {
		p.Add("temporal.tls.enabled", "is false but TLS files are set; set enabled: true or remove them")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.Add("temporal.tls", "certFile and keyFile go together; set both or neither")
	}
	for _, f := range []struct{ name, path string }{
		{"temporal.tls.caFile", t.CAFile}, {"temporal.tls.certFile", t.CertFile}, {"temporal.tls.keyFile", t.KeyFile},
	} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				p.Add(f.name, "cannot read %s: %v", f.path, errors.Unwrap(err))
			}
		}
	}
	checkCodec(&p, c.Temporal.Codec)
	if c.ArtifactDir == "" {
		p.Add("artifactDir", "is empty; backups and logs need a folder")
	} else {
		checkAbsPath(&p, "artifactDir", c.ArtifactDir)
	}
	if c.ChartCache != "" {
		checkAbsPath(&p, "chartCache", c.ChartCache)
	}
	for i, h := range c.TrustedHosts {
		if h == "" || strings.ContainsAny(h, ":/@ ") {
			p.Add(fmt.Sprintf("trustedHosts[%d]", i), "%q: give a bare host name or IP, no scheme, port or path", h)
		}
	}
	checkWebhooks(&p, c)
	if c.Site != "" && !siteName.MatchString(c.Site) {
		p.Add("site", "%q is not a site name: lower-case letters, digits and -, at most 63 (as the upgrade config's sites: names it)", c.Site)
	}
	if c.Metrics.Address != "" {
		CheckHostPort(&p, "metrics.address", c.Metrics.Address, "0.0.0.0:9464")
	}
	for _, n := range sortedKeys(c.ChartRepos) {
		checkRepoURL(&p, "chartRepos."+n, c.ChartRepos[n])
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.Add("logLevel", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	for _, n := range sortedKeys(c.Clusters) {
		if c.Clusters[n].InCluster {
			if c.Clusters[n].Kubeconfig != "" || c.Clusters[n].Context != "" {
				p.Add("clusters."+n+".inCluster", "is true but kubeconfig or context is set too; use one or the other")
			} else if os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
				p.Add("clusters."+n+".inCluster", "is true but the worker does not run in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set)")
			}
		} else if c.Clusters[n].Kubeconfig == "" {
			p.Add("clusters."+n+".kubeconfig", "is empty (or set inCluster: true in a pod)")
		} else if _, err := os.Stat(c.Clusters[n].Kubeconfig); err != nil {
			p.Add("clusters."+n+".kubeconfig", "cannot read %s: %v", c.Clusters[n].Kubeconfig, errors.Unwrap(err))
		}
	}
	for i, d := range c.ChartDirs {
		key := fmt.Sprintf("chartDirs[%d]", i)
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			p.Add(key, "%s is not a readable folder", d)
		} else {
			checkAbsPath(&p, key, d)
			checkOnlyOwnerWrites(&p, key, d, st)
		}
	}
	names := make([]string, 0, len(c.Secrets))
	for n := range c.Secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := c.Secrets[n]
		set := 0
		for _, v := range []string{s.Env, s.File, s.Value} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			p.Add("secrets."+n, "set exactly one of env, file, value")
		}
		for i, u := range s.Uses {
			if !slices.Contains(Uses, u) {
				p.Add(fmt.Sprintf("secrets.%s.uses[%d]", n, i), "%q is not one of %s", u, strings.Join(Uses, ", "))
			}
		}
		if len(s.Hosts) > 0 && len(s.Uses) > 0 && !slices.Contains(s.Uses, UseHTTP) {
			p.Add("secrets."+n+".hosts", "is set but uses: does not list http; hosts bind an http use")
		}
		for i, h := range s.Hosts {
			if h == "" || strings.ContainsAny(h, ":/@ ") {
				p.Add(fmt.Sprintf("secrets.%s.hosts[%d]", n, i), "%q: give a bare host name or IP, no scheme, port or path", h)
			}
		}
		if s.Value != "" && len(s.Value) < MinSecretLen {
			p.Add("secrets."+n+".value", "is shorter than %d characters: too short to scrub from logs and history safely", MinSecretLen)
		}
		if s.File != "" {
			if st, err := os.Stat(s.File); err != nil {
				p.Add("secrets."+n+".file", "cannot read %s: %v", s.File, errors.Unwrap(err))
			} else if !st.Mode().IsRegular() {
				p.Add("secrets."+n+".file", "%s is not a file", s.File)
			} else {
				checkOnlyOwnerWrites(&p, "secrets."+n+".file", s.File, st)
			}
		}
	}
	return p.Err()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var (
	webhookFormats = []string{"json", "dingtalk", "wecom", "feishu", "slack"}
	webhookEvents  = []string{"gate-waiting", "decision-needed", "run-ended"}
)

func checkWebhooks(p *Problems, c Worker) {
	seen := map[string]bool{}
	for i, w := range c.Notify {
		key := fmt.Sprintf("notify[%d]", i)
		if w.Name == "" {
			p.Add(key+".name", "is empty; name the webhook (it is how failures are logged)")
		} else if seen[strings.ToLower(w.Name)] {
			p.Add(key+".name", "%q is used twice", w.Name)
		}
		seen[strings.ToLower(w.Name)] = true
		if !slices.Contains(webhookFormats, w.Format) {
			p.Add(key+".format", "%q is not one of %s", w.Format, strings.Join(webhookFormats, ", "))
		}
		switch {
		case (w.URL == "") == (w.URLRef == ""):
			p.Add(key, "set urlRef (a secret holding the URL with its token) or url (an endpoint without a token), one of them")
		case w.URL != "":
			if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
				p.Add(key+".url", "give a plain http(s) URL; a URL with a token goes into a secret named by urlRef")
			} else if u.RawQuery != "" {
				p.Add(key+".url", "has a query (a token?); put the whole URL into a secret and name it with urlRef")
			}
		}
		for _, ref := range []struct{ k, v string }{{"urlRef", w.URLRef}, {"signRef", w.SignRef}} {
			if _, ok := c.Secrets[ref.v]; ref.v != "" && !ok {
				p.Add(key+"."+ref.k, "%q is not among secrets", ref.v)
			}
		}
		if w.SignRef != "" && w.Format != "dingtalk" && w.Format != "feishu" {
			p.Add(key+".signRef", "only DingTalk and Feishu robots sign messages")
		}
		for j, e := range w.Events {
			if !slices.Contains(webhookEvents, e) {
				p.Add(fmt.Sprintf("%s.events[%d]", key, j), "%q is not one of %s", e, strings.Join(webhookEvents, ", "))
			}
		}
	}
}
