package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/config"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

// planExample plans a guide for its example config.
func planExample(t *testing.T, g workflows.Spec) []runbook.Step {
	t.Helper()
	in := g.NewInput()
	require.NoError(t, config.LoadUpgrade(filepath.Join("..", g.Example), g.Name, in))
	steps, err := in.Plan()
	require.NoError(t, err)
	return steps
}

// TestEveryGuideHasAWholeMap holds every guide this build knows (a guide
// added later is checked by being listed) to its map: every step, expanded
// ones too, names a section of the map; every section is carried out by a
// step or says why not; steps follow the map's order (preflight checks
// aside, gathered at the start).
func TestEveryGuideHasAWholeMap(t *testing.T) {
	for _, g := range workflows.Guides() {
		t.Run(g.Name, func(t *testing.T) {
			steps := planExample(t, g)
			problems := runbook.CheckMap(g.Guide, steps)
			require.Empty(t, problems, "guide %s: its map (Guide.Map) and its steps (Step.Section) disagree:\n  - %s",
				g.Name, strings.Join(problems, "\n  - "))
			cov := runbook.MapCoverage(g.Guide, steps)
			require.Zero(t, cov.Missing)
			require.InDelta(t, 100, cov.Percent(), 0.001)
			t.Logf("%s: %d sections: %d automated, %d gates, %d explained, %d parts", g.Name, len(cov.Sections),
				cov.Automated, cov.Gates, cov.Explained, cov.Parts)
		})
	}
}

// seedDir is where the vendors' guides are kept beside the repository
// (../shared/seeds); absent on a clean clone.
var seedDir = filepath.Join("..", "..", "shared", "seeds")

// TestEveryGuideHeadingIsInItsMap reads each guide's document, when the
// seeds are at hand, and finds every markdown heading (outside code
// fences) among the map's Headings, and every Heading of the map in the
// document: a section of the guide cannot be dropped, nor one invented
// under the guide's name. A document without markdown headings (a web
// page saved as text) is checked the second way only.
func TestEveryGuideHeadingIsInItsMap(t *testing.T) {
	if _, err := os.Stat(seedDir); err != nil {
		t.Skipf("no guides at %s (a clean clone): %v", seedDir, err)
	}
	for _, g := range workflows.Guides() {
		t.Run(g.Name, func(t *testing.T) {
			if g.Seed == "" {
				for _, s := range g.Map {
					require.Empty(t, s.Heading, "guide %s quotes headings (section %s) but names no document (Spec.Seed)", g.Name, s.ID)
				}
				require.Equal(t, "demo", g.Name, "guide %s names no document: set Spec.Seed to its file in ../shared/seeds", g.Name)
				t.Skip("the demo has no vendor document")
			}
			raw, err := os.ReadFile(filepath.Join(seedDir, g.Seed))
			require.NoError(t, err, "Spec.Seed of %s", g.Name)
			doc := string(raw)
			inMap := map[string]string{}
			for _, s := range g.Map {
				if s.Heading != "" {
					inMap[workflows.NormalizeHeading(s.Heading)] = s.ID
				}
			}
			var missing []string
			headings := workflows.SeedHeadings(doc)
			for _, h := range headings {
				if _, ok := inMap[h.Text]; !ok {
					missing = append(missing, h.Text)
				}
			}
			require.Empty(t, missing, "headings of %s that no section of the map quotes (Section.Heading, verbatim)", g.Seed)
			flat := workflows.NormalizeHeading(doc)
			for _, s := range g.Map {
				if s.Heading != "" {
					require.Contains(t, flat, workflows.NormalizeHeading(s.Heading),
						"section %s quotes a heading %s does not have", s.ID, g.Seed)
				}
			}
			if len(headings) == 0 {
				t.Logf("%s has no markdown headings; only the map's Headings were found in its text", g.Seed)
			}
		})
	}
}

func TestSeedHeadingsSkipCodeAndTitle(t *testing.T) {
	doc := "# Title\n\n## 1. 适用范围\n\n    ```yaml\n    # not a heading\n    ```\n### 升级 hzero admin ##\n~~~\n## nope\n~~~\n#not-a-heading\n"
	var got []string
	for _, h := range workflows.SeedHeadings(doc) {
		got = append(got, h.Text)
	}
	require.Equal(t, []string{"1. 适用范围", "升级 hzero admin"}, got)
}

// TestChoerodonMarksRequiredStepsAndDestructiveGates: the steps the guide
// warns about cannot be skipped without acknowledging the warning, and the
// gates before deletes and data rewrites are destructive.
func TestChoerodonMarksRequiredStepsAndDestructiveGates(t *testing.T) {
	g, err := workflows.Lookup("choerodon-0.21-0.22")
	require.NoError(t, err)
	required, destructive := map[string]string{}, []string{}
	for _, s := range planExample(t, g) {
		if s.Required != nil {
			required[s.Name] = s.Required.ID
		}
		if s.Gate != nil && s.Gate.Destructive {
			destructive = append(destructive, s.Name)
		}
	}
	require.Equal(t, map[string]string{"backup-values/all": "backup-before-delete", "backup-db/mysql": "db-backup",
		"verify-backup/mysql": "backup-verified", "follow-log/data-migration": "data-migration-exception"}, required)
	require.Equal(t, []string{"approve/delete-old-releases", "approve/knowledgebase-db-backup"}, destructive)
}
