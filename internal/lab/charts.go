package lab

import (
	"fmt"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"
)

// PackageChart loads the chart folder src, renames it name at version,
// sets its default values' key "lab" (see podsim.go), and saves it as
// dir/<name>-<version>.tgz with helm's Go API: a chart mirror for the lab.
func PackageChart(dir, src, name, version string, labValues map[string]any) error {
	ch, err := loader.Load(src)
	if err != nil {
		return err
	}
	ch.Metadata.Name, ch.Metadata.Version, ch.Metadata.AppVersion = name, version, version
	ch.Values["lab"] = labValues
	// Save writes the raw values.yaml, not ch.Values: write it anew.
	raw, err := yaml.Marshal(ch.Values)
	if err != nil {
		return err
	}
	for _, f := range ch.Raw {
		if f.Name == chartutil.ValuesfileName {
			f.Data = raw
		}
	}
	if _, err := chartutil.Save(ch, dir); err != nil {
		return fmt.Errorf("package %s-%s: %w", name, version, err)
	}
	return nil
}
