package lab

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt" // Helm 2's generated types are golang/protobuf (v1) messages
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	v2chart "k8s.io/helm/pkg/proto/hapi/chart"
	v2rls "k8s.io/helm/pkg/proto/hapi/release"
	"sigs.k8s.io/yaml"
)

// ToHelm2 makes releases installed in ns a Helm 2 site's: every revision is
// written the way Tiller writes it — a ConfigMap <release>.v<revision> in
// tillerNS labelled NAME, OWNER=TILLER, STATUS, VERSION and CREATED_AT,
// whose data "release" is base64(gzip(protobuf hapi.release.Release))
// (helm/helm v2.17.0 pkg/storage/driver/cfgmaps.go newConfigMapsObject and
// Create; util.go encodeRelease) — and Helm 3's records of it are
// removed. The workloads keep running: what Helm 3 sees afterwards is a
// cluster where Tiller installed them. The release is built as Tiller
// built it (pkg/tiller/release_install.go prepareRelease): the chart with
// its templates, values.yaml and files, the user values as YAML in Config,
// the rendered manifest, the hooks.
func (s *C7NSite) ToHelm2(ns, tillerNS string, releases []string) error {
	cfg, err := s.Helm(ns)
	if err != nil {
		return err
	}
	cs, err := cfg.KubernetesClientSet()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Get(ctx, tillerNS, metav1.GetOptions{}); err != nil {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tillerNS}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for _, name := range releases {
		hist, err := action.NewHistory(cfg).Run(name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, r := range hist {
			v2, err := helm2Release(r)
			if err != nil {
				return fmt.Errorf("%s revision %d: %w", name, r.Version, err)
			}
			data, err := encodeHelm2(v2)
			if err != nil {
				return err
			}
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.v%d", name, r.Version), Namespace: tillerNS,
				Labels: map[string]string{"NAME": name, "OWNER": "TILLER", "STATUS": v2rls.Status_Code_name[int32(v2.Info.Status.Code)],
					"VERSION": strconv.Itoa(r.Version), "CREATED_AT": strconv.FormatInt(r.Info.LastDeployed.Unix(), 10)}},
				Data: map[string]string{"release": data}}
			if _, err := cs.CoreV1().ConfigMaps(tillerNS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				return err
			}
			// Helm 3's secrets driver: sh.helm.release.v1.<name>.v<revision>.
			if err := cs.CoreV1().Secrets(ns).Delete(ctx, fmt.Sprintf("sh.helm.release.v1.%s.v%d", name, r.Version), metav1.DeleteOptions{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// encodeHelm2 is Helm 2's encodeRelease: protobuf, gzip at best
// compression, base64.
func encodeHelm2(r *v2rls.Release) (string, error) {
	b, err := proto.Marshal(protoadapt.MessageV2Of(r))
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(b); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// helm2Release is a Helm 3 release as Helm 2 would have recorded it.
func helm2Release(r *release.Release) (*v2rls.Release, error) {
	cfg, err := yaml.Marshal(r.Config)
	if err != nil {
		return nil, err
	}
	vals, err := yaml.Marshal(r.Chart.Values)
	if err != nil {
		return nil, err
	}
	m := r.Chart.Metadata
	ch := &v2chart.Chart{
		// A chart Helm 2 installed is apiVersion v1.
		Metadata: &v2chart.Metadata{Name: m.Name, Version: m.Version, AppVersion: m.AppVersion, Description: m.Description,
			ApiVersion: "v1", Home: m.Home, Keywords: m.Keywords, Sources: m.Sources, Icon: m.Icon},
		Values: &v2chart.Config{Raw: string(vals)},
	}
	for _, t := range r.Chart.Templates {
		ch.Templates = append(ch.Templates, &v2chart.Template{Name: t.Name, Data: t.Data})
	}
	for _, f := range r.Chart.Files {
		ch.Files = append(ch.Files, &anypb.Any{TypeUrl: f.Name, Value: f.Data})
	}
	code := map[release.Status]v2rls.Status_Code{release.StatusDeployed: v2rls.Status_DEPLOYED, release.StatusSuperseded: v2rls.Status_SUPERSEDED,
		release.StatusFailed: v2rls.Status_FAILED, release.StatusUninstalled: v2rls.Status_DELETED}[r.Info.Status]
	v2 := &v2rls.Release{Name: r.Name, Namespace: r.Namespace, Version: int32(r.Version), Manifest: r.Manifest, Chart: ch,
		Config: &v2chart.Config{Raw: string(cfg)},
		Info: &v2rls.Info{Status: &v2rls.Status{Code: code, Notes: r.Info.Notes}, Description: r.Info.Description,
			FirstDeployed: timestamppb.New(r.Info.FirstDeployed.Time), LastDeployed: timestamppb.New(r.Info.LastDeployed.Time)}}
	for _, h := range r.Hooks {
		hook := &v2rls.Hook{Name: h.Name, Kind: h.Kind, Path: h.Path, Manifest: h.Manifest, Weight: int32(h.Weight)}
		for _, e := range h.Events {
			if ev, ok := map[release.HookEvent]v2rls.Hook_Event{release.HookPreInstall: v2rls.Hook_PRE_INSTALL,
				release.HookPostInstall: v2rls.Hook_POST_INSTALL, release.HookPreUpgrade: v2rls.Hook_PRE_UPGRADE,
				release.HookPostUpgrade: v2rls.Hook_POST_UPGRADE, release.HookPreDelete: v2rls.Hook_PRE_DELETE,
				release.HookPostDelete: v2rls.Hook_POST_DELETE}[e]; ok {
				hook.Events = append(hook.Events, ev)
			}
		}
		for _, d := range h.DeletePolicies {
			if p, ok := map[release.HookDeletePolicy]v2rls.Hook_DeletePolicy{release.HookSucceeded: v2rls.Hook_SUCCEEDED,
				release.HookFailed: v2rls.Hook_FAILED, release.HookBeforeHookCreation: v2rls.Hook_BEFORE_HOOK_CREATION}[d]; ok {
				hook.DeletePolicies = append(hook.DeletePolicies, p)
			}
		}
		v2.Hooks = append(v2.Hooks, hook)
	}
	return v2, nil
}
