package runbook

import (
	"fmt"
	"slices"
	"strings"
)

// Who answers a run, and who may. The starter names the person: the
// subject of its mTLS client certificate when the worker config sets one
// (the Temporal server checked that certificate in the TLS handshake), else
// the OS user, marked unverified. The workflow cannot see the connection, so
// an identity is what the client says it is; only a server-side authorizer
// makes it binding (SECURITY.md, "Approvals and identity"). What the run
// enforces is the config's rule of who may answer which gate, and that the
// person who started a run does not approve its destructive gates.

// identityOf is the identity an answer carries: Who, else its bare name.
func identityOf(by string, who *Identity) Identity {
	if who != nil {
		id := *who
		if id.Source != IdentityMTLS {
			id.Verified = false
		}
		return id
	}
	return Identity{Name: strings.TrimSpace(by), Source: IdentityClaimed}
}

// samePerson says whether two identities name the same person. Names are
// compared alone, whatever their source: an OS user "alice" and a
// certificate for alice are taken to be one person.
func samePerson(a, b Identity) bool {
	return strings.EqualFold(strings.TrimSpace(a.Name), strings.TrimSpace(b.Name))
}

// approversOf is who may answer step s, and the config key that says so; nil:
// anyone.
func approversOf(a *Approvers, s Step, parent string) ([]string, string) {
	if a == nil {
		return nil, ""
	}
	for _, name := range []string{s.Name, parent} {
		if l, ok := a.Gates[name]; ok && name != "" && len(l) > 0 {
			return l, "approvers.gates." + name
		}
	}
	if s.Gate != nil && s.Gate.Destructive && len(a.Destructive) > 0 {
		return a.Destructive, "approvers.destructive"
	}
	if len(a.Default) > 0 {
		return a.Default, "approvers.default"
	}
	return nil, ""
}

// CheckApprovers checks a config's approvers against its plan: every gate
// named in approvers.gates is a gate of the plan (or an expansion whose
// steps are gates). Names themselves are checked with the rest of the
// config (workflows' Validate).
func CheckApprovers(t Target, steps []Step) error {
	if t.Approvers == nil || len(t.Approvers.Gates) == 0 {
		return nil
	}
	gates := map[string]bool{}
	var names []string
	for _, s := range steps {
		g := s.Gate != nil
		if s.Expand != nil && s.Expand.Build != nil {
			g = s.Expand.Build(ItemPlaceholder).Gate != nil
		}
		if g {
			gates[s.Name] = true
			names = append(names, s.Name)
		}
	}
	var problems []string
	for _, name := range sortedKeys(t.Approvers.Gates) {
		if !gates[name] {
			problems = append(problems, fmt.Sprintf("approvers.gates.%s: the plan has no gate %s; its gates: %s",
				name, name, strings.Join(names, ", ")))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid config:\n  - %s", strings.Join(problems, "\n  - "))
	}
	return nil
}

// checkApprover refuses an answer to step i's gate from someone the config
// does not list, and the approval of a destructive gate by the person who
// started the run (unless the config allows it).
func (r *runner) checkApprover(i int, who Identity, reject bool) error {
	s := r.steps[i]
	ap := r.target.Approvers
	if l, key := approversOf(ap, s, r.status.Steps[i].Parent); l != nil &&
		!slices.ContainsFunc(l, func(n string) bool { return samePerson(Identity{Name: n}, who) }) {
		return fmt.Errorf("%s may not answer step %s: the run's config says who may (%s: %s)",
			who, s.Name, key, strings.Join(l, ", "))
	}
	if !reject && s.Gate != nil && s.Gate.Destructive && r.target.StartedBy != nil &&
		samePerson(*r.target.StartedBy, who) && (ap == nil || !ap.AllowSelfApproval) {
		return fmt.Errorf("%s started this run and may not approve its destructive step %s: another person must "+
			"(or the run's config says approvers.allowSelfApproval: true)", who, s.Name)
	}
	return nil
}
