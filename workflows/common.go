package workflows

import (
	"regexp"

	"upgrader/config"
	"upgrader/workflows/runbook"
)

var (
	releaseName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?$`)
	envName     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// validateTarget checks the fields every guide shares.
func validateTarget(p *config.Problems, t runbook.Target) {
	if t.Environment == "" {
		p.Add("environment", "is empty; name the site being upgraded (or pass --env)")
	} else if !envName.MatchString(t.Environment) {
		p.Add("environment", "%q must be lower-case letters, digits and -", t.Environment)
	}
	if t.From == "" {
		p.Add("from", "is empty; give the version installed now")
	}
	if t.To == "" {
		p.Add("to", "is empty; give the version to upgrade to")
	}
}
