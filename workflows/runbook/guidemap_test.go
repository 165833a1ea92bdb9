package runbook_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/workflows/runbook"
)

func mapStep(name, section string, kind runbook.Kind) runbook.Step {
	s := runbook.Step{Name: name, Section: section, Kind: kind}
	if kind == runbook.KindGate {
		s.Gate = &runbook.Gate{Prompt: "ok?"}
	} else {
		s.Activity = func() error { return nil }
	}
	return s
}

// TestCheckMapFindsEveryDisagreement plants each way a map and a plan can
// disagree and expects CheckMap to name it.
func TestCheckMapFindsEveryDisagreement(t *testing.T) {
	g := runbook.Guide{Name: "g", Map: []runbook.Section{
		{ID: "pre", Title: "checks"},
		{ID: "1", Title: "part one", Heading: "一"},
		{ID: "1.1", Title: "a"},
		{ID: "1.2", Title: "b", NotAutomated: "release notes, read by a person"},
		{ID: "2", Title: "c", Manual: "done in a UI the worker cannot reach"},
		{ID: "3", Title: "d"},
		{ID: "4", Title: "note up front", NotAutomated: "a note", Anywhere: "applies to the last step"},
	}}
	good := []runbook.Step{
		mapStep("preflight/site", "pre", runbook.KindCheck),
		mapStep("upgrade/a", "1.1", runbook.KindHelm),
		mapStep("approve/c", "2", runbook.KindGate),
		mapStep("review/note", "4", runbook.KindGate),
		{Name: "each", Expand: &runbook.Expand{From: "upgrade/a", Build: func(item string) runbook.Step {
			return mapStep("each/"+item, "3", runbook.KindHelm)
		}}},
	}
	require.Empty(t, runbook.CheckMap(g, good))
	cov := runbook.MapCoverage(g, good)
	require.Equal(t, []int{3, 2, 1, 1, 0}, []int{cov.Automated, cov.Gates, cov.Explained, cov.Parts, cov.Missing})
	noGate := runbook.MapCoverage(g, []runbook.Step{good[0], good[1], good[4]})
	require.Equal(t, runbook.SectionManual, noGate.Sections[4].State, "a Manual section is a person's even when this plan has no gate for it")
	require.InDelta(t, 100, cov.Percent(), 0.001)

	for _, c := range []struct {
		name  string
		steps []runbook.Step
		says  string
	}{
		{"step without section", append(clone(good), mapStep("verify/x", "", runbook.KindCheck)), "verify/x names no section"},
		{"unknown section", append(clone(good), mapStep("verify/x", "9", runbook.KindCheck)), `names section "9", which the map does not have`},
		{"section not carried out", good[:4], "section 3 (d) is carried out by no step"},
		{"out of order", []runbook.Step{good[0], good[2], good[1], good[4]}, "step upgrade/a (section 1.1) comes after approve/c (section 2)"},
		{"preflight late", append(clone(good), mapStep("preflight/late", "pre", runbook.KindCheck)), "preflight/late is a preflight check after upgrade/a"},
		{"preflight that changes", []runbook.Step{mapStep("preflight/site", "pre", runbook.KindHelm), good[1], good[2], good[4]}, "of kind helm"},
		{"expanded step without section", append(clone(good[:4]), runbook.Step{Name: "each", Expand: &runbook.Expand{From: "upgrade/a",
			Build: func(item string) runbook.Step { return mapStep("each/"+item, "", runbook.KindHelm) }}}), "each/<item> names no section"},
	} {
		t.Run(c.name, func(t *testing.T) {
			problems := runbook.CheckMap(g, c.steps)
			require.Contains(t, strings.Join(problems, "\n"), c.says)
		})
	}
	require.Contains(t, runbook.CheckMap(runbook.Guide{Name: "x"}, good)[0], "has no map")
	part := runbook.MapCoverage(g, good[:4])
	require.Equal(t, 1, part.Missing)
}

func clone(s []runbook.Step) []runbook.Step { return append([]runbook.Step(nil), s...) }
