package workflows_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
	"upgrader/workflows"
)

// TestEveryDumpIsProvenBeforeAnythingDependsOnIt holds every guide to issue
// 19's proven backups: each SQL dump and mongodump step is followed by its
// restore drill, verify-restore/<what>, which loads that dump (its path and
// SHA-256 come from the dump step); every step that requires the dump,
// other than its checks, requires the drill too; and a destructive gate
// after a drill shows it.
func TestEveryDumpIsProvenBeforeAnythingDependsOnIt(t *testing.T) {
	dumps := 0
	for _, g := range workflows.Guides() {
		t.Run(g.Name, func(t *testing.T) {
			steps := planExample(t, g)
			order := map[string]int{}
			for i, s := range steps {
				order[s.Name] = i
			}
			var drills []string
			for i, s := range steps {
				switch s.Input.(type) {
				case activities.DumpInput, activities.MongoDumpInput:
				default:
					if s.Gate != nil && s.Gate.Destructive {
						for _, d := range drills {
							require.Contains(t, s.Gate.Show, d, "%s: the destructive gate %s shows what %s proved", g.Name, s.Name, d)
						}
					}
					continue
				}
				dumps++
				drill := "verify-restore/" + s.Name[strings.LastIndex(s.Name, "/")+1:]
				j, ok := order[drill]
				require.True(t, ok, "%s: the dump %s has no restore drill %s", g.Name, s.Name, drill)
				require.Greater(t, j, i, "%s: %s runs after %s", g.Name, drill, s.Name)
				d := steps[j]
				require.Equal(t, s.Name, d.Inputs["path"].Step, "%s: %s restores the dump %s made", g.Name, drill, s.Name)
				require.Equal(t, s.Name, d.Inputs["sha256"].Step)
				switch in := d.Input.(type) {
				case activities.VerifyBackupInput:
					require.NotNil(t, in.Drill, "%s: %s loads the dump", g.Name, drill)
				case activities.MongoDrillInput:
					require.NotEmpty(t, in.DB.Address)
				default:
					t.Fatalf("%s: %s is not a restore drill (%T)", g.Name, drill, d.Input)
				}
				drills = append(drills, drill)
				for _, later := range steps[i+1:] {
					if slices.Contains(later.Requires, s.Name) && later.Name != drill && !strings.HasPrefix(later.Name, "verify-") {
						require.Contains(t, later.Requires, drill, "%s: %s requires the dump %s, so its restore drill too", g.Name, later.Name, s.Name)
					}
				}
			}
		})
	}
	// Choerodon 0.21, WeCube two, BlueKing MySQL and MongoDB; 0.8's example has
	// no db.admin.backup (its dump is a gate; TestChoerodon08Upgrades… plans both).
	require.Equal(t, 5, dumps)
}
