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

// Where an identity came from.
const (
	IdentityMTLS    = "mtls"    // the subject of the client certificate the starter connects with
	IdentityOSUser  = "os-user" // the starter's OS user: unverified
	IdentityClaimed = "claimed" // only a name in the answer (By), from a caller that is not the starter
)

// Identity is a person as the run records them.
type Identity struct {
	// Name is what approver lists match: the certificate's common name,
	// or the OS user name.
	Name string `json:"name"`
	// Subject is the certificate's whole subject (mTLS only).
	Subject string `json:"subject,omitempty"`
	// Source says where the name came from (IdentityMTLS, …).
	Source string `json:"source"`
	// Verified: the name comes from a client certificate the Temporal
	// server accepted; false for an OS user or a bare name.
	Verified bool `json:"verified"`
}

// String is the identity as status and the memo show it:
// "alice (mTLS CN=alice,O=ops)", "root (OS user, unverified)".
func (i Identity) String() string {
	switch {
	case i.Source == IdentityMTLS && i.Verified:
		return fmt.Sprintf("%s (mTLS %s)", i.Name, i.Subject)
	case i.Source == IdentityOSUser:
		return i.Name + " (OS user, unverified)"
	default:
		return i.Name + " (" + i.Source + ", unverified)"
	}
}

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

// Approvers says who may answer a run's gates (approve or reject). A gate's
// own list (Gates, by step name — or by the placeholder's name for the
// steps an expansion builds) comes first; then Destructive for a
// destructive gate; then Default. A list that is empty or absent lets
// anyone answer. Decisions on failed steps (retry, skip, abort) are open to
// anyone who may reach the run; they are recorded like every answer.
type Approvers struct {
	// Default lists who may answer any gate without a list of its own.
	Default []string `json:"default,omitempty" yaml:"default" mapstructure:"default"`
	// Destructive lists who may answer a destructive gate (one before a
	// step that deletes or changes something for good).
	Destructive []string `json:"destructive,omitempty" yaml:"destructive" mapstructure:"destructive"`
	// Gates lists, by gate step name, who may answer that gate.
	Gates map[string][]string `json:"gates,omitempty" yaml:"gates" mapstructure:"gates"`
	// AllowSelfApproval lets the person who started the run approve its
	// destructive gates (a one-person lab). Off: another person must.
	AllowSelfApproval bool `json:"allowSelfApproval,omitempty" yaml:"allowSelfApproval" mapstructure:"allowSelfApproval"`
}

// list is who may answer step s, and the config key that says so; nil:
// anyone.
func (a *Approvers) list(s Step, parent string) ([]string, string) {
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
	if l, key := ap.list(s, r.status.Steps[i].Parent); l != nil &&
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
