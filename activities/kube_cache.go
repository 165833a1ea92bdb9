package activities

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	cachedopenapi "k8s.io/client-go/openapi/cached"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/validation"

	"helm.sh/helm/v3/pkg/kube"
)

// DefaultKubeCacheTTL is how long the worker trusts what it learned of a
// cluster's API (discovery, which kinds' PATCH takes fieldValidation)
// before it asks again. Short, because a long-running worker serves many
// runs and the cluster may change under it (someone installs an operator's
// CRDs between two runs); long enough to cover one cluster's lane of a run
// (backup, upgrade, CRDs) and the many times one helm action asks. Our own
// CRD applies invalidate at once (KubeCache.Invalidate), and a "no matches
// for kind" invalidates and retries, so the TTL only bounds staleness from
// changes made by others.
const DefaultKubeCacheTTL = 2 * time.Minute

// KubeCache keeps, per cluster, what helm and client-go would otherwise
// re-learn for every action: the discovery documents (client-go's memory
// cache: k8s.io/client-go/discovery/cached/memory) and the answer to
// helm's strict-validation question "does PATCH of this kind take
// fieldValidation?" (kubectl's Factory.Validator reads and parses
// /openapi/v3/apis/<group>/<version> for it on every Build). Without it,
// genericclioptions.ConfigFlags (usePersistentConfig false) re-reads the
// kubeconfig for every client and a fresh disk discovery cache for every
// RESTMapper, and every helm upgrade fetches and parses the OpenAPI v3
// document of each group its chart uses: ~30% of helm's CPU per upgrade
// in the skoala fan-out's profile (issue 13), plus the API server's side.
//
// Entries are keyed by the cluster's name and its identity (server and
// credentials, hashed), so two clusters, or one cluster reached with new
// credentials, never share one. Helm and Kube share one KubeCache (the
// worker injects it; nil uses a process-wide one), so a CRD that
// Kube.Apply or Helm.ApplyChartCRDs applies invalidates what helm sees.
type KubeCache struct {
	// TTL bounds an entry's age (DefaultKubeCacheTTL when zero).
	TTL time.Duration

	mu      sync.Mutex
	entries map[string]*kubeCacheEntry // by identity key
}

// NewKubeCache returns an empty cache whose entries live for ttl.
func NewKubeCache(ttl time.Duration) *KubeCache { return &KubeCache{TTL: ttl} }

// sharedKubeCache serves Helm and Kube values built without a cache.
var sharedKubeCache = NewKubeCache(DefaultKubeCacheTTL)

// kubeCacheEntry is one cluster identity's cached API knowledge.
type kubeCacheEntry struct {
	cluster string
	created time.Time
	// disc is the memory-cached discovery client; helm invalidates it
	// itself before each render (action.Configuration.getCapabilities),
	// which refetches the two aggregated discovery documents, not the rest.
	disc discovery.CachedDiscoveryInterface

	mu sync.Mutex
	// fieldValidation holds the kinds whose PATCH the server said takes
	// the fieldValidation parameter. Only yes answers are kept: a kind
	// that gains a CRD later must not stay "unsupported" from before.
	fieldValidation map[schema.GroupVersionKind]bool
}

func (e *kubeCacheEntry) invalidate() {
	e.disc.Invalidate()
	e.mu.Lock()
	e.fieldValidation = nil
	e.mu.Unlock()
}

// Invalidate forgets everything cached for the cluster, under any
// identity: the next action on it re-reads discovery and OpenAPI. Actions
// already holding an entry see the invalidation too.
func (c *KubeCache) Invalidate(cluster string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.cluster == cluster {
			e.invalidate()
			delete(c.entries, k)
		}
	}
}

func (c *KubeCache) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return DefaultKubeCacheTTL
}

// entry returns the cluster's entry for this REST config's identity,
// creating it (and dropping expired ones) as needed.
func (c *KubeCache) entry(cluster string, rc *rest.Config) (*kubeCacheEntry, error) {
	key := kubeIdentity(cluster, rc)
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if now.Sub(e.created) > c.ttl() {
			delete(c.entries, k) // its holders finish with it; nobody new gets it
		}
	}
	if e, ok := c.entries[key]; ok {
		return e, nil
	}
	dc := rest.CopyConfig(rc)
	// What genericclioptions.ConfigFlags gives discovery: many groups are
	// read at once when a cluster serves no aggregated discovery.
	dc.QPS, dc.Burst = 50, 300
	d, err := discovery.NewDiscoveryClientForConfig(dc)
	if err != nil {
		return nil, err
	}
	e := &kubeCacheEntry{cluster: cluster, created: now, disc: memory.NewMemCacheClient(d)}
	if c.entries == nil {
		c.entries = map[string]*kubeCacheEntry{}
	}
	c.entries[key] = e
	return e, nil
}

// kubeIdentity hashes what makes two REST configs reach a cluster as the
// same user: the cluster's name, server, trust and credentials.
func kubeIdentity(cluster string, rc *rest.Config) string {
	h := sha256.New()
	t := rc.TLSClientConfig
	fmt.Fprintf(h, "%q %q %q %q %x %q %x %q %x %q %v|", cluster, rc.Host, rc.APIPath, t.ServerName, t.CAData, t.CAFile,
		t.CertData, t.CertFile, t.KeyData, t.KeyFile, t.Insecure)
	fmt.Fprintf(h, "%q %q %q %q %q %v %v", rc.BearerToken, rc.BearerTokenFile, rc.Username, rc.Password, rc.Impersonate.UserName,
		rc.Impersonate.Groups, rc.ExecProvider != nil)
	if rc.ExecProvider != nil {
		fmt.Fprintf(h, " %q %q %v", rc.ExecProvider.Command, rc.ExecProvider.Args, rc.ExecProvider.Env)
	}
	if rc.AuthProvider != nil {
		fmt.Fprintf(h, " %q %v", rc.AuthProvider.Name, rc.AuthProvider.Config)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// clusterGetter is helm's and kubectl's RESTClientGetter for one action
// on one cluster: the kubeconfig read once per action (ConfigFlags reads
// it for every client) and the cluster's cached discovery.
type clusterGetter struct {
	entry  *kubeCacheEntry
	rc     *rest.Config
	loader clientcmd.ClientConfig
}

// getter loads the cluster's kubeconfig (namespace as the default
// namespace, as helm's --namespace does) and finds its cache entry.
func (c *KubeCache) getter(cluster string, cl Cluster, namespace string) (*clusterGetter, error) {
	// The loading rules and overrides genericclioptions.ConfigFlags builds
	// for --kubeconfig, --context and --namespace.
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.DefaultClientConfig = &clientcmd.DefaultClientConfig
	rules.ExplicitPath = cl.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{ClusterDefaults: clientcmd.ClusterDefaults, CurrentContext: cl.Context}
	overrides.Context.Namespace = namespace
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	rc, err := loader.ClientConfig()
	if err != nil {
		return nil, err
	}
	ns, overridden, err := loader.Namespace()
	if err != nil {
		return nil, err
	}
	e, err := c.entry(cluster, rc)
	if err != nil {
		return nil, err
	}
	return &clusterGetter{entry: e, rc: rc, loader: loadedConfig{raw: loader, rc: rc, ns: ns, overridden: overridden}}, nil
}

func (g *clusterGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.rc), nil }

func (g *clusterGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.entry.disc, nil
}

// ToRESTMapper returns a new mapper over the cached discovery each time,
// as ConfigFlags does: a mapper built after an Invalidate (helm's before
// each render, ours after a CRD apply) maps what the refreshed discovery
// serves, and never holds an older view.
func (g *clusterGetter) ToRESTMapper() (meta.RESTMapper, error) {
	m := restmapper.NewDeferredDiscoveryRESTMapper(g.entry.disc)
	return restmapper.NewShortcutExpander(m, g.entry.disc, func(string) {}), nil
}

func (g *clusterGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return g.loader }

// loadedConfig answers from the kubeconfig read once; helm asks for the
// namespace on every Build.
type loadedConfig struct {
	raw        clientcmd.ClientConfig
	rc         *rest.Config
	ns         string
	overridden bool
}

func (l loadedConfig) ClientConfig() (*rest.Config, error)     { return rest.CopyConfig(l.rc), nil }
func (l loadedConfig) Namespace() (string, bool, error)        { return l.ns, l.overridden, nil }
func (l loadedConfig) RawConfig() (clientcmdapi.Config, error) { return l.raw.RawConfig() }
func (l loadedConfig) ConfigAccess() clientcmd.ConfigAccess    { return l.raw.ConfigAccess() }

// validatingFactory is helm's kube.Factory with kubectl's strict-validation
// schema (cmd/util/factory_client_access.go, Validator) built over the
// cluster's cache: kubectl memoizes the fieldValidation answers only for
// one Build, so each Build re-reads and re-parses the OpenAPI v3 document.
type validatingFactory struct {
	kube.Factory
	full   cmdutil.Factory
	getter *clusterGetter
}

// withCachedValidation makes the helm kube client validate through the
// cluster's cache (its Factory is cmdutil.NewFactory's, see kube.New).
func withCachedValidation(kc kube.Interface, g *clusterGetter) {
	c, ok := kc.(*kube.Client)
	if !ok {
		return
	}
	full, ok := c.Factory.(cmdutil.Factory)
	if !ok {
		return
	}
	c.Factory = &validatingFactory{Factory: c.Factory, full: full, getter: g}
}

func (f *validatingFactory) Validator(directive string) (validation.Schema, error) {
	if directive == metav1.FieldValidationIgnore {
		return validation.NullSchema{}, nil
	}
	dyn, err := f.DynamicClient()
	if err != nil {
		return nil, err
	}
	disc := f.getter.entry.disc
	param := resource.QueryParamFieldValidation
	primary := &fieldValidationMemo{entry: f.getter.entry,
		next: resource.NewQueryParamVerifierV3(dyn, cachedopenapi.NewClient(disc.OpenAPIV3()), param)}
	secondary := resource.NewQueryParamVerifier(dyn, disc, param)
	schema := validation.ConjunctiveSchema{validation.NewSchemaValidation(f.full), validation.NoDoubleKeySchema{}}
	return validation.NewParamVerifyingSchema(schema, resource.NewFallbackQueryParamVerifier(primary, secondary), directive), nil
}

// fieldValidationMemo asks next only for kinds the cluster has not yet
// said yes for.
type fieldValidationMemo struct {
	entry *kubeCacheEntry
	next  resource.Verifier
}

func (m *fieldValidationMemo) HasSupport(gvk schema.GroupVersionKind) error {
	m.entry.mu.Lock()
	yes := m.entry.fieldValidation[gvk]
	m.entry.mu.Unlock()
	if yes {
		return nil
	}
	err := m.next.HasSupport(gvk)
	if err == nil {
		m.entry.mu.Lock()
		if m.entry.fieldValidation == nil {
			m.entry.fieldValidation = map[schema.GroupVersionKind]bool{}
		}
		m.entry.fieldValidation[gvk] = true
		m.entry.mu.Unlock()
	}
	return err
}
