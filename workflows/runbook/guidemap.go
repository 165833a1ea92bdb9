package runbook

import (
	"fmt"
	"strings"
)

// A guide's map (Guide.Map) lists the vendor guide's sections in the
// guide's order, and every step names the section it carries out
// (Step.Section). CheckMap holds the two together, so a section of the
// guide can never be dropped silently and a step never floats free of the
// guide; MapCoverage counts how each section is accounted for.
//
// Section IDs are dotted ("1", "1.3", "2.1"): a section whose ID prefixes
// others' ("1" of "1.3") is a part, accounted for by its sections when no
// step names it itself.
//
// Steps follow the map's order, with one exception: the read-only site
// checks gathered at the start of a plan (PreflightPrefix) may carry out
// any section (preflight/charts does the guide's "add the chart
// repository"), wherever the guide has it.

// PreflightPrefix starts the names of the read-only checks a plan runs
// before anything changes; `starter preflight` runs exactly those.
const PreflightPrefix = "preflight/"

// IsPreflight says whether s is one of the read-only checks at the start of
// a plan.
func IsPreflight(s Step) bool { return strings.HasPrefix(s.Name, PreflightPrefix) }

// SectionState is how one section of a guide is accounted for.
type SectionState string

// How a section is accounted for.
const (
	SectionAutomated SectionState = "automated"     // a step with an activity carries it out
	SectionManual    SectionState = "gate"          // only gates name it, or Manual says why a person does it
	SectionExplained SectionState = "not-automated" // no step; NotAutomated says why
	SectionPart      SectionState = "part"          // accounted for by its own sections
	SectionMissing   SectionState = "missing"       // nothing: CheckMap reports it
)

// SectionCoverage is one section and how the plan accounts for it.
type SectionCoverage struct {
	Section
	State SectionState
	// Steps are the steps naming the section, in plan order.
	Steps []string
}

// Coverage sums up a guide's map for one plan.
type Coverage struct {
	Sections  []SectionCoverage
	Automated int // sections a step with an activity carries out
	Gates     int // sections only gates carry out (a person, asked by the run)
	Explained int // sections no step carries out, each with the reason
	Parts     int // sections accounted for by their own sections
	Missing   int // sections nothing accounts for
}

// Percent is the share of sections accounted for.
func (c Coverage) Percent() float64 {
	if len(c.Sections) == 0 {
		return 0
	}
	return 100 * float64(len(c.Sections)-c.Missing) / float64(len(c.Sections))
}

// planSteps lists a plan's steps as they run, each expansion's template
// (built for ItemPlaceholder) in its placeholder's place.
func planSteps(steps []Step) []Step {
	var out []Step
	for _, s := range steps {
		if s.Expand != nil {
			if s.Expand.Build != nil {
				out = append(out, s.Expand.Build(ItemPlaceholder))
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// isPart says whether section id has sections of its own in the map.
func isPart(m []Section, id string) bool {
	for _, s := range m {
		if strings.HasPrefix(s.ID, id+".") {
			return true
		}
	}
	return false
}

// MapCoverage says, for each section of g's map, how the plan accounts for
// it.
func MapCoverage(g Guide, steps []Step) Coverage {
	by := map[string][]Step{}
	for _, s := range planSteps(steps) {
		by[s.Section] = append(by[s.Section], s)
	}
	var c Coverage
	state := map[string]SectionState{}
	// Parts last: they are accounted for by their sections.
	for pass := 0; pass < 2; pass++ {
		for i := len(g.Map) - 1; i >= 0; i-- {
			sec := g.Map[i]
			part := isPart(g.Map, sec.ID) && len(by[sec.ID]) == 0
			if part != (pass == 1) {
				continue
			}
			st := SectionMissing
			switch {
			case part:
				st = SectionPart
				for _, o := range g.Map {
					if strings.HasPrefix(o.ID, sec.ID+".") && state[o.ID] == SectionMissing {
						st = SectionMissing
					}
				}
			case len(by[sec.ID]) > 0:
				st = SectionManual
				for _, s := range by[sec.ID] {
					if s.Activity != nil {
						st = SectionAutomated
					}
				}
			case sec.Manual != "":
				st = SectionManual
			case sec.NotAutomated != "":
				st = SectionExplained
			}
			state[sec.ID] = st
		}
	}
	for _, sec := range g.Map {
		sc := SectionCoverage{Section: sec, State: state[sec.ID]}
		for _, s := range by[sec.ID] {
			sc.Steps = append(sc.Steps, s.Name)
		}
		c.Sections = append(c.Sections, sc)
		switch sc.State {
		case SectionAutomated:
			c.Automated++
		case SectionManual:
			c.Gates++
		case SectionExplained:
			c.Explained++
		case SectionPart:
			c.Parts++
		default:
			c.Missing++
		}
	}
	return c
}

// CheckMap reports every way g's map and the plan's steps disagree: a step
// naming no section or one the map lacks, a section nothing accounts for,
// steps out of the map's order (except a section's that runs Anywhere),
// preflight checks that are not read-only checks at the start. A Manual
// section with no gate in this plan counts as a person's: which gates a
// plan has may depend on its config.
func CheckMap(g Guide, steps []Step) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(g.Map) == 0 {
		return []string{"the guide has no map (Guide.Map): list its sections in the guide's order"}
	}
	pos := map[string]int{}
	for i, sec := range g.Map {
		switch {
		case strings.TrimSpace(sec.ID) == "":
			add("section %d (%q) has no ID", i+1, sec.Title)
			continue
		case strings.TrimSpace(sec.Title) == "":
			add("section %s has no title", sec.ID)
		}
		if _, dup := pos[sec.ID]; dup {
			add("section %s is listed twice", sec.ID)
		}
		pos[sec.ID] = i
	}
	all := planSteps(steps)
	last, lastStep, changed := -1, "", ""
	for _, s := range all {
		i, ok := pos[s.Section]
		switch {
		case s.Section == "":
			add("step %s names no section of the guide (Step.Section)", s.Name)
			continue
		case !ok:
			add("step %s names section %q, which the map does not have", s.Name, s.Section)
			continue
		}
		if g.Map[i].Anywhere != "" {
			continue
		}
		if IsPreflight(s) {
			if s.Kind != KindCheck {
				add("step %s is a preflight check but of kind %s; preflight/ steps are read-only checks (kind check)", s.Name, s.Kind)
			}
			if changed != "" {
				add("step %s is a preflight check after %s; preflight checks come before every other step", s.Name, changed)
			}
			continue
		}
		if changed == "" {
			changed = s.Name
		}
		if i < last {
			add("step %s (section %s) comes after %s (section %s), but the map has %s first; "+
				"steps follow the guide's order", s.Name, s.Section, lastStep, g.Map[last].ID, s.Section)
		}
		last, lastStep = i, s.Name
	}
	cov := MapCoverage(g, steps)
	for _, sc := range cov.Sections {
		if sc.ID == "" {
			continue
		}
		switch {
		case sc.State == SectionMissing && !isPart(g.Map, sc.ID):
			add("section %s (%s) is carried out by no step and says nowhere why (Manual with a gate, or NotAutomated)",
				sc.ID, sc.Title)
		case sc.State == SectionMissing:
			add("section %s (%s) has sections nothing accounts for", sc.ID, sc.Title)
		}
	}
	return problems
}
