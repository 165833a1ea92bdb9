package runbook

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
)

// On-prem platforms sit in networks of their own. One central Temporal can
// drive upgrades in many of them: a worker in each site (network zone) polls
// that site's task queue, and every step's activity is sent to the queue of
// the site its cluster, host or database lives in. The workflow itself runs
// on the run's own task queue, on any worker that registers workflows; the
// runbook's own activities (report, notifications) run there too. A config
// without sites runs everything on the run's queue, as before.

// StepTargets are what a step acts on, read from its activity input: a
// "cluster" name, a "host" or "hosts" (inventory targets with a name and an
// address), a "db" (with a name and an address).
type StepTargets struct {
	Clusters, Hosts, Databases []string
}

// TargetsOf reads the targets of step s from its input's JSON form.
func TargetsOf(s Step) StepTargets {
	var t StepTargets
	if s.Input == nil {
		return t
	}
	// Plain activity input structs; the same input gives the same bytes.
	//workflowcheck:ignore
	b, err := json.Marshal(s.Input)
	if err != nil {
		return t
	}
	var m map[string]json.RawMessage
	if !decode(b, &m) {
		return t
	}
	var cluster string
	if decode(m["cluster"], &cluster) && cluster != "" {
		t.Clusters = append(t.Clusters, cluster)
	}
	type named struct{ Name, Address string }
	ids := func(n named) []string {
		var out []string
		for _, v := range []string{n.Name, n.Address} {
			if v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	var host named
	if decode(m["host"], &host) {
		t.Hosts = append(t.Hosts, ids(host)...)
	}
	var hosts []named
	if decode(m["hosts"], &hosts) {
		for _, h := range hosts {
			t.Hosts = append(t.Hosts, ids(h)...)
		}
	}
	var db named
	if decode(m["db"], &db) {
		t.Databases = append(t.Databases, ids(db)...)
	}
	return t
}

// decode reads JSON into v; false when it is missing or of another shape.
func decode(b []byte, v any) bool {
	// Plain JSON into plain structs: deterministic.
	//workflowcheck:ignore
	return len(b) > 0 && json.Unmarshal(b, v) == nil
}

// siteMatch is why a step goes to a site.
type siteMatch struct {
	site, why string
}

// matches lists every site that claims step s, with why, in site order.
func matches(sites map[string]Site, s Step) []siteMatch {
	var out []siteMatch
	var byStep []siteMatch
	t := TargetsOf(s)
	for _, name := range sortedKeys(sites) {
		site := sites[name]
		for _, p := range site.Steps {
			if ok, _ := path.Match(p, s.Name); ok {
				byStep = append(byStep, siteMatch{name, "steps " + p})
				break
			}
		}
		for _, kind := range []struct {
			what       string
			have, want []string
		}{{"cluster", t.Clusters, site.Clusters}, {"host", t.Hosts, site.Hosts}, {"database", t.Databases, site.Databases}} {
			for _, h := range kind.have {
				if contains(kind.want, h) {
					out = append(out, siteMatch{name, kind.what + " " + h})
				}
			}
		}
	}
	if len(byStep) > 0 {
		return byStep // named by step: that wins over what it acts on
	}
	return out
}

// SiteOf is the site step s of plan runs in: its own Site when the plan
// set it, else the site naming it in steps:, else the site of what it acts
// on, else the site of the steps whose outputs it takes (Inputs: a step
// that re-hashes a dump runs where the dump was written); "" is the run's
// own task queue. Where sites disagree (CheckSites refuses such a config),
// the first by name wins, so a run is always decided.
func SiteOf(sites map[string]Site, plan []Step, s Step) string {
	return siteOf(sites, plan, s, 0)
}

func siteOf(sites map[string]Site, plan []Step, s Step, depth int) string {
	if s.Site != "" || len(sites) == 0 || s.Activity == nil {
		return s.Site
	}
	if m := matches(sites, s); len(m) > 0 {
		return m[0].site
	}
	if depth > 8 {
		return ""
	}
	for _, k := range sortedKeys(s.Inputs) {
		for _, p := range plan {
			if p.Name == s.Inputs[k].Step {
				if site := siteOf(sites, plan, p, depth+1); site != "" {
					return site
				}
			}
		}
	}
	return ""
}

// QueueOf is the task queue of step s's activity: its site's, or "" (the
// run's own queue).
func QueueOf(sites map[string]Site, plan []Step, s Step) (site, queue string) {
	site = SiteOf(sites, plan, s)
	if site == "" {
		return "", ""
	}
	return site, sites[site].TaskQueue
}

// sites are the run's sites: the corrected config's when one was taken.
func (r *runner) sites() map[string]Site {
	if r.input != nil {
		return r.input.GetTarget().Sites
	}
	return r.target.Sites
}

// CheckSites checks a config's sites against its plan, every problem by
// key: a step set to an unknown site, a step two sites claim (one step runs
// on one site's worker), and a site's cluster, host, database or step
// pattern that no step of the plan acts on (a typo would send nothing
// there, silently). The sites' own shape is checked with the rest of the
// config (workflows' Validate).
func CheckSites(t Target, steps []Step) error {
	sites := t.Sites
	var problems []string
	used := map[string]bool{} // "sites.<name>.<list>[i]" keys that matched
	var all []Step
	for _, s := range steps {
		if s.Expand != nil && s.Expand.Build != nil {
			all = append(all, s.Expand.Build(ItemPlaceholder))
			continue
		}
		all = append(all, s)
	}
	seen := map[string][]string{"clusters": nil, "hosts": nil, "databases": nil}
	for _, s := range all {
		if s.Activity == nil {
			continue
		}
		if s.Site != "" {
			if _, ok := sites[s.Site]; !ok {
				problems = append(problems, fmt.Sprintf("sites: step %s runs in site %q, which sites: does not have; add it with its taskQueue",
					s.Name, s.Site))
			}
			continue
		}
		if len(sites) == 0 {
			continue
		}
		t := TargetsOf(s)
		seen["clusters"] = append(seen["clusters"], t.Clusters...)
		seen["hosts"] = append(seen["hosts"], t.Hosts...)
		seen["databases"] = append(seen["databases"], t.Databases...)
		m := matches(sites, s)
		names := map[string]bool{}
		var whys []string
		for _, x := range m {
			if !names[x.site] {
				whys = append(whys, fmt.Sprintf("%s (%s)", x.site, x.why))
			}
			names[x.site] = true
		}
		if len(names) > 1 {
			problems = append(problems, fmt.Sprintf("sites: step %s is claimed by sites %s; one step runs on one site's worker: "+
				"name it in one site's steps:, or keep what it acts on in one site", s.Name, strings.Join(whys, ", ")))
		}
		for _, name := range sortedKeys(sites) {
			for i, p := range sites[name].Steps {
				if ok, _ := path.Match(p, s.Name); ok {
					used[fmt.Sprintf("sites.%s.steps[%d]", name, i)] = true
				}
			}
		}
	}
	for _, name := range sortedKeys(sites) {
		site := sites[name]
		for _, list := range []struct {
			key     string
			members []string
		}{{"clusters", site.Clusters}, {"hosts", site.Hosts}, {"databases", site.Databases}} {
			for i, m := range list.members {
				if !contains(seen[list.key], m) {
					problems = append(problems, fmt.Sprintf("sites.%s.%s[%d]: no step acts on %q; the plan's %s: %s",
						name, list.key, i, m, list.key, orNoneList(unique(seen[list.key]))))
				}
			}
		}
		for i, p := range site.Steps {
			if k := fmt.Sprintf("sites.%s.steps[%d]", name, i); !used[k] {
				problems = append(problems, fmt.Sprintf("%s: %q names no step of the plan (`starter plan` lists them)", k, p))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid config:\n  - %s", strings.Join(problems, "\n  - "))
	}
	return nil
}

// CheckConfig runs the checks of a config against its plan: approvers and
// sites. `starter plan`, `starter start` and the run's first task call it.
func CheckConfig(t Target, steps []Step) error {
	var msgs []string
	for _, err := range []error{CheckApprovers(t, steps), CheckSites(t, steps)} {
		if err != nil {
			msgs = append(msgs, strings.TrimPrefix(err.Error(), "invalid config:\n  - "))
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("invalid config:\n  - %s", strings.Join(msgs, "\n  - "))
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func unique(list []string) []string {
	set := map[string]bool{}
	var out []string
	for _, v := range list {
		if !set[v] {
			set[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func orNoneList(list []string) string {
	if len(list) == 0 {
		return "(none)"
	}
	return strings.Join(list, ", ")
}
