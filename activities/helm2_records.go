package activities

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt" // Helm 2's generated types are golang/protobuf (v1) messages
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	helmtime "helm.sh/helm/v3/pkg/time"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	v2chart "k8s.io/helm/pkg/proto/hapi/chart"
	v2rls "k8s.io/helm/pkg/proto/hapi/release"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// DefaultTillerNamespace is where Tiller keeps its records unless it was
// installed with --tiller-namespace.
const DefaultTillerNamespace = "kube-system"

// tillerRecord is one revision of a Helm 2 release as Tiller stores it: a
// ConfigMap (Tiller's default storage) or a Secret (--storage=secret) named
// <release>.v<revision> in Tiller's namespace, labelled OWNER=TILLER, NAME,
// STATUS and VERSION, whose data "release" is base64(gzip(protobuf
// hapi.release.Release)) (helm/helm v2.17.0 pkg/storage/driver/cfgmaps.go
// and secrets.go, newConfigMapsObject / newSecretsObject; util.go,
// encodeRelease).
type tillerRecord struct {
	Kind      string // ConfigMap or Secret
	Namespace string // Tiller's namespace
	Name      string // agile-service.v3
	Release   *v2rls.Release
}

func (r tillerRecord) String() string {
	return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
}

// chartVersion is the record's chart version ("0.21.0"), empty without one.
func (r tillerRecord) chartVersion() string {
	if r.Release.GetChart().GetMetadata() == nil {
		return ""
	}
	return r.Release.Chart.Metadata.Version
}

// chart is the record's chart as name-version ("agile-service-0.21.0").
func (r tillerRecord) chart() string {
	m := r.Release.GetChart().GetMetadata()
	if m == nil {
		return "(none)"
	}
	return m.Name + "-" + m.Version
}

// status is the record's status as Helm 2 names it (DEPLOYED, SUPERSEDED…).
func (r tillerRecord) status() string {
	return v2rls.Status_Code_name[int32(r.Release.GetInfo().GetStatus().GetCode())]
}

// tillerRecords reads and decodes Tiller's records of release name (every
// release when name is empty) in namespace ns (every namespace when
// empty), ConfigMaps and Secrets, sorted by release and revision — what
// helm-2to3's pkg/v2/release.go getReleases reads, in both storages at
// once rather than guessing Tiller's --storage. A record that does not
// decode is an error naming it: a half-read history would convert wrong.
func tillerRecords(ctx context.Context, cs kubernetes.Interface, ns, name string) ([]tillerRecord, error) {
	sel := "OWNER=TILLER"
	if name != "" {
		sel += ",NAME=" + name
	}
	opts := metav1.ListOptions{LabelSelector: sel}
	var out []tillerRecord
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("unable to list Tiller's ConfigMaps (%s) in %s: %w", sel, nsName(ns), err)
	}
	for _, c := range cms.Items {
		r, err := decodeTillerRelease(c.Data["release"])
		if err != nil {
			return nil, fmt.Errorf("ConfigMap %s/%s: unable to read the Helm 2 release record: %w", c.Namespace, c.Name, err)
		}
		out = append(out, tillerRecord{Kind: "ConfigMap", Namespace: c.Namespace, Name: c.Name, Release: r})
	}
	ss, err := cs.CoreV1().Secrets(ns).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("unable to list Tiller's Secrets (%s) in %s: %w", sel, nsName(ns), err)
	}
	for _, s := range ss.Items {
		r, err := decodeTillerRelease(string(s.Data["release"]))
		if err != nil {
			return nil, fmt.Errorf("unable to read the Helm 2 release record in Secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		out = append(out, tillerRecord{Kind: "Secret", Namespace: s.Namespace, Name: s.Name, Release: r})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Release, out[j].Release
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Version < b.Version
	})
	return out, nil
}

func nsName(ns string) string {
	if ns == "" {
		return "every namespace"
	}
	return "namespace " + ns
}

// newestTiller is each release's newest record.
func newestTiller(recs []tillerRecord) map[string]tillerRecord {
	out := map[string]tillerRecord{}
	for _, r := range recs {
		if cur, ok := out[r.Release.Name]; !ok || r.Release.Version > cur.Release.Version {
			out[r.Release.Name] = r
		}
	}
	return out
}

var gzipMagic = []byte{0x1f, 0x8b, 0x08}

// decodeTillerRelease is Helm 2's decodeRelease (helm/helm v2.17.0
// pkg/storage/driver/util.go): base64, then gunzip when the gzip magic is
// there (records from before Helm 2 compressed them are not), then the
// protobuf hapi.release.Release.
func decodeTillerRelease(data string) (*v2rls.Release, error) {
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	if len(b) >= 3 && bytes.Equal(b[:3], gzipMagic) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		if b, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("not gzip: %w", err)
		}
	}
	var r v2rls.Release
	if err := proto.Unmarshal(b, protoadapt.MessageV2Of(&r)); err != nil {
		return nil, fmt.Errorf("not a hapi.release.Release: %w", err)
	}
	return &r, nil
}

// helm3Release is a Helm 2 release revision as Helm 3 keeps it, mapped
// field by field the way the 2to3 plugin does (helm/helm-2to3
// pkg/v3/release.go, CreateRelease and its map* helpers): the same name,
// namespace, revision, chart (metadata, templates, values, files,
// dependencies), user values, manifest, hooks and status (DELETED →
// uninstalled, the rest lower-cased with - for _).
func helm3Release(v2 *v2rls.Release) (*release.Release, error) {
	if v2.Chart == nil || v2.Info == nil {
		return nil, fmt.Errorf("%s revision %d has no chart or info (2to3: No v2 chart or info metadata)", v2.Name, v2.Version)
	}
	ch, err := helm3Chart(v2.Chart)
	if err != nil {
		return nil, err
	}
	cfg, err := helm3Values(v2.Config)
	if err != nil {
		return nil, fmt.Errorf("%s revision %d: its values: %w", v2.Name, v2.Version, err)
	}
	code, ok := v2rls.Status_Code_name[int32(v2.Info.GetStatus().GetCode())]
	if !ok {
		return nil, fmt.Errorf("%s revision %d: unknown Helm 2 status %d", v2.Name, v2.Version, v2.Info.GetStatus().GetCode())
	}
	status := strings.ReplaceAll(strings.ToLower(code), "_", "-")
	switch status {
	case "deleted":
		status = "uninstalled"
	case "deleting":
		status = "uninstalling"
	}
	hooks, err := helm3Hooks(v2.Hooks)
	if err != nil {
		return nil, fmt.Errorf("%s revision %d: %w", v2.Name, v2.Version, err)
	}
	return &release.Release{
		Name: v2.Name, Namespace: v2.Namespace, Chart: ch, Config: cfg,
		Info: &release.Info{
			FirstDeployed: helmTime(v2.Info.FirstDeployed),
			LastDeployed:  helmTime(v2.Info.LastDeployed),
			Deleted:       helmTime(v2.Info.Deleted),
			Description:   v2.Info.Description,
			Status:        release.Status(status),
			Notes:         v2.Info.GetStatus().GetNotes(),
		},
		Manifest: v2.Manifest, Hooks: hooks, Version: int(v2.Version),
	}, nil
}

// helmTime is a Helm 2 timestamp as Helm 3 keeps it; none is the zero
// time (2to3's mapTimestampToTime).
func helmTime(ts *timestamppb.Timestamp) helmtime.Time {
	if ts == nil {
		return helmtime.Time{}
	}
	return helmtime.Time{Time: ts.AsTime()}
}

func helm3Chart(v2 *v2chart.Chart) (*chart.Chart, error) {
	ch := &chart.Chart{}
	if m := v2.Metadata; m != nil {
		md := &chart.Metadata{Name: m.Name, Home: m.Home, Sources: m.Sources, Version: m.Version, Description: m.Description,
			Keywords: m.Keywords, Icon: m.Icon, APIVersion: m.ApiVersion, Condition: m.Condition, Tags: m.Tags,
			AppVersion: m.AppVersion, Deprecated: m.Deprecated, Annotations: m.Annotations, KubeVersion: m.KubeVersion,
			// 2to3: v2 keeps no requirements metadata; every v2 chart is an application.
			Type: "application"}
		for _, mt := range m.Maintainers {
			md.Maintainers = append(md.Maintainers, &chart.Maintainer{Name: mt.Name, Email: mt.Email, URL: mt.Url})
		}
		ch.Metadata = md
	}
	for _, t := range v2.Templates {
		ch.Templates = append(ch.Templates, &chart.File{Name: t.Name, Data: t.Data})
	}
	for _, d := range v2.Dependencies {
		dep, err := helm3Chart(d)
		if err != nil {
			return nil, err
		}
		ch.AddDependency(dep)
	}
	vals, err := helm3Values(v2.Values)
	if err != nil {
		return nil, fmt.Errorf("chart %s: its values.yaml: %w", v2.GetMetadata().GetName(), err)
	}
	ch.Values = vals
	// 2to3's mapFiles: a v2 chart file is an Any whose type URL is the file's name.
	for _, f := range v2.Files {
		ch.Files = append(ch.Files, &chart.File{Name: f.TypeUrl, Data: f.Value})
	}
	return ch, nil
}

// helm3Values parses a Helm 2 Config's raw YAML (2to3's mapConfig, with
// Helm 3's chartutil.ReadValues for Helm 2's).
func helm3Values(c *v2chart.Config) (map[string]any, error) {
	if c == nil {
		return nil, nil
	}
	v, err := chartutil.ReadValues([]byte(c.Raw))
	if err != nil {
		return nil, err
	}
	return v, nil
}

// helm3Hooks maps hooks as 2to3's mapHooks, mapHookEvents and
// mapHookDeletePolicies do (the last test-suite run is not carried over:
// Helm 2's test results are not part of what the guides read).
func helm3Hooks(v2 []*v2rls.Hook) ([]*release.Hook, error) {
	var out []*release.Hook
	for _, h := range v2 {
		hook := &release.Hook{Name: h.Name, Kind: h.Kind, Path: h.Path, Manifest: h.Manifest, Weight: int(h.Weight)}
		for _, e := range h.Events {
			name, ok := v2rls.Hook_Event_name[int32(e)]
			if !ok {
				return nil, fmt.Errorf("hook %s: unknown Helm 2 hook event %d", h.Name, e)
			}
			ev := strings.ReplaceAll(strings.ToLower(name), "_", "-")
			if strings.Contains(ev, "release-test") {
				ev = "test"
			}
			hook.Events = append(hook.Events, release.HookEvent(ev))
		}
		for _, d := range h.DeletePolicies {
			name, ok := v2rls.Hook_DeletePolicy_name[int32(d)]
			if !ok {
				return nil, fmt.Errorf("hook %s: unknown Helm 2 delete policy %d", h.Name, d)
			}
			pol := strings.ReplaceAll(strings.ToLower(name), "_", "-")
			if !strings.Contains(pol, "before-hook-creation") {
				pol = "hook-" + pol
			}
			hook.DeletePolicies = append(hook.DeletePolicies, release.HookDeletePolicy(pol))
		}
		out = append(out, hook)
	}
	return out, nil
}
