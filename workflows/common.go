package workflows

import (
	"regexp"
	"time"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/workflows/runbook"
)

var (
	releaseName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?$`)
)

// validateTarget checks the fields every guide shares. from and to, when
// given, are the versions the guide is written for: a config for another
// upgrade is refused, not run with the wrong label.
func validateTarget(p *config.Problems, t runbook.Target, from, to string) {
	if t.Environment == "" {
		p.Add("environment", "is empty; name the site being upgraded (or pass --env)")
	} else if !dns1123Label.MatchString(t.Environment) {
		p.Add("environment", "%q must be lower-case letters, digits and -", t.Environment)
	}
	switch {
	case t.From == "":
		p.Add("from", "is empty; give the version installed now")
	case from != "" && t.From != from:
		p.Add("from", "%q: this guide upgrades from %s; quote versions (from: \"%s\") so YAML does not read them as numbers", t.From, from, from)
	}
	switch {
	case t.To == "":
		p.Add("to", "is empty; give the version to upgrade to")
	case to != "" && t.To != to:
		p.Add("to", "%q: this guide upgrades to %s", t.To, to)
	}
}

// MinRemindAfter is the shortest reminder period a gate may have (the
// runbook's): each reminder is an event in the run's history.
const MinRemindAfter = runbook.MinRemindAfter

// validateRemindAfter checks a gate reminder period: zero (no reminders) or
// at least MinRemindAfter.
func validateRemindAfter(p *config.Problems, key string, d time.Duration) {
	if d != 0 && d < MinRemindAfter {
		p.Add(key, "%s is too short: reminders must be at least %s apart (or 0 for none)", d, MinRemindAfter)
	}
}

// validateInterval checks a probe interval: positive, shorter than the
// wait's whole timeout, and below the wait activities' heartbeat timeout, so
// a slow probe loop is never taken for a dead worker.
func validateInterval(p *config.Problems, key string, interval, timeout time.Duration) {
	switch {
	case interval < 0:
		p.Add(key, "%s must not be negative", interval)
	case interval >= activities.WaitHeartbeat:
		p.Add(key, "%s must be shorter than the waits' heartbeat timeout (%s); probes that far apart look like a dead worker", interval, activities.WaitHeartbeat)
	case timeout > 0 && interval >= timeout:
		p.Add(key, "%s must be shorter than the wait's timeout (%s)", interval, timeout)
	}
}
