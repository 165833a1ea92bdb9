package workflows_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"upgrader/activities"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

// TestChoerodonHelm2SitesConvertFirstAndCleanUpLast: with helm2.convert,
// both guides read Tiller's records before any change, convert the
// releases they touch after the values backup and before any delete or
// upgrade (each of which requires the conversion), and remove Tiller's
// records only after verify/releases; without it the plan is the guide's
// own.
func TestChoerodonHelm2SitesConvertFirstAndCleanUpLast(t *testing.T) {
	in021 := c7n021Input()
	in021.Helm2 = workflows.ChoerodonHelm2{Convert: true, TillerNamespace: "tiller"}
	in08 := c7n08Input()
	in08.Helm2 = workflows.ChoerodonHelm2{Convert: true, TillerNamespace: "tiller"}
	guides := []runbook.Guide{workflows.Choerodon021Guide, workflows.Choerodon08Guide}
	for gi, in := range []workflows.Input{&in021, &in08} {
		steps, err := in.Plan()
		require.NoError(t, err)
		require.Empty(t, runbook.CheckMap(guides[gi], steps), "every step names a section of the guide's map, in its order")
		require.NoError(t, runbook.ValidatePlan(steps))
		names := make([]string, len(steps))
		for i, s := range steps {
			names[i] = s.Name
		}
		pre, conv, clean := slices.Index(names, "preflight/helm2-releases"), slices.Index(names, "convert/helm2-releases"), slices.Index(names, "cleanup/tiller-records")
		require.True(t, pre >= 0 && conv > pre && clean == len(names)-1, "%v", names)
		require.Less(t, slices.Index(names, "backup-values/all"), conv)
		require.Less(t, slices.Index(names, "verify/releases"), clean)
		convIn := steps[conv].Input.(activities.ConvertHelm2Input)
		require.NotEmpty(t, convIn.Releases)
		require.Equal(t, convIn.Releases, steps[pre].Input.(activities.Helm2CheckInput).Releases)
		require.Equal(t, convIn.Releases, steps[clean].Input.(activities.RemoveTillerRecordsInput).Releases)
		require.Equal(t, []string{"preflight/helm2-releases"}, steps[conv].Gate.Show, "the gate shows the list")
		require.False(t, steps[conv].Gate.SkipOnReject, "a rejection stops the run")
		for i, s := range steps {
			switch v := s.Input.(type) {
			case activities.HelmUninstallInput:
				require.Greater(t, i, conv)
				require.Contains(t, s.Requires, "convert/helm2-releases", s.Name)
				require.Contains(t, convIn.Releases, v.Release)
			case activities.HelmUpgradeInput:
				require.Greater(t, i, conv, s.Name)
				if v.MustExist {
					require.Contains(t, s.Requires, "convert/helm2-releases", s.Name)
					require.Contains(t, convIn.Releases, v.Release)
				}
			case activities.HelmBackupInput:
				require.NotEmpty(t, v.TillerNamespace, "the values backup reads Tiller's records")
			case activities.KubeAccessInput:
				require.Contains(t, v.Access, activities.KubeAccess{Verbs: []string{"get", "list", "delete"}, Resource: "configmaps",
					Namespace: "tiller", Why: "Tiller keeps its release records there"}, "preflight asks whether the worker may read and delete Tiller's records")
			}
		}
	}
	require.Equal(t, "tiller", in021.Helm2.TillerNamespace)
	plain := c7n021Input()
	require.NotContains(t, planNames(t, &plain), "convert/helm2-releases")

	bad := c7n021Input()
	bad.Helm2.TillerNamespace = "Kube_System"
	require.ErrorContains(t, bad.Validate(), "helm2.tillerNamespace")
}

// TestChoerodonHelm2ConversionRejectedStopsBeforeAnyChange: a person who
// rejects the conversion ends the run before any delete or upgrade.
func TestChoerodonHelm2ConversionRejectedStopsBeforeAnyChange(t *testing.T) {
	h := newC7nHarness(t)
	in := c7n021Input()
	in.Helm2.Convert = true
	h.reject["convert/helm2-releases"] = "not this week"
	_, err := h.run("ChoerodonUpgrade_0_21_to_0_22", in)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, runbook.ErrRejected, app.Type())
	require.Contains(t, h.calls, "CheckHelm2Releases")
	require.Contains(t, h.calls, "BackupReleaseValues")
	for _, c := range h.calls {
		require.NotRegexp(t, `^(ConvertHelm2|Uninstall|UpgradeInstall|EnsureDatabases)`, c)
	}
}

// TestChoerodonHelm2RunConvertsThenCleansUp: approved, the conversion runs
// once before the first delete and the cleanup is the last call.
func TestChoerodonHelm2RunConvertsThenCleansUp(t *testing.T) {
	h := newC7nHarness(t)
	in := c7n021Input()
	in.Helm2.Convert = true
	st, err := h.run("ChoerodonUpgrade_0_21_to_0_22", in)
	require.NoError(t, err)
	require.Equal(t, runbook.RunCompleted, st.State)
	require.Less(t, h.index("ConvertHelm2"), h.index("Uninstall base-service"))
	require.Equal(t, 1, h.count["ConvertHelm2"])
	require.Equal(t, "RemoveTillerRecords", h.calls[len(h.calls)-1])
	require.Equal(t, []string{"convert/helm2-releases", "approve/delete-old-releases", "approve/knowledgebase-db-backup", "cleanup/tiller-records"}, h.asked)
}
