package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/workflows/runbook"
)

// DemoGuide is the built-in demo: it upgrades a small lab of fake releases
// the way the Choerodon guides upgrade real ones (back up values, delete the
// old framework's releases after a person approves, upgrade the new ones side
// by side, wait until each answers UP, verify), so every part of the runbook
// can be seen in the Web UI without a cluster.
var DemoGuide = runbook.Guide{Name: "demo", Title: "Demo upgrade of a lab of releases",
	// The demo has no vendor document: its sections are the Choerodon
	// guides' shape, numbered here.
	Map: []runbook.Section{
		{ID: "pre", Title: "the lab folder and the secrets checked before any change"},
		{ID: "1", Title: "every release's values backed up"},
		{ID: "2", Title: "the old releases deleted, once a person approves"},
		{ID: "3", Title: "the releases upgraded side by side"},
		{ID: "4", Title: "each release answers UP (when healthURL is set)",
			NotAutomated: "only with healthURL in the config: the demo's lab releases serve no health page by themselves"},
		{ID: "5", Title: "end state checked"},
	}}

// demoSpec describes the guide to the worker and the starter (guides.go lists it).
var demoSpec = Spec{
	Guide:        DemoGuide,
	WorkflowType: "DemoUpgrade",
	Workflow:     DemoUpgrade,
	NewInput:     func() Input { d := NewDemoInput(); return &d },
	Example:      "config/examples/demo.yaml",
}

// DemoInput configures the demo guide.
type DemoInput struct {
	runbook.Target `mapstructure:",squash" json:",inline"`
	// LabDir is the demo lab's folder on the worker (releases/*.json).
	LabDir string `mapstructure:"labDir" json:"labDir"`
	// OldReleases are deleted, after their values are backed up and a
	// person approves.
	OldReleases []string `mapstructure:"oldReleases" json:"oldReleases"`
	// Releases are upgraded (or installed) to To, side by side.
	Releases []string `mapstructure:"releases" json:"releases"`
	// PasswordRef names the worker-side secret written into each release's
	// values. Only the name travels through Temporal.
	PasswordRef string `mapstructure:"passwordRef" json:"passwordRef"`
	// HealthURL, when set, is probed after each upgrade until its JSON says
	// status UP; "{release}" is replaced by the release name.
	HealthURL string `mapstructure:"healthURL" json:"healthURL,omitempty"`
	// Work is how many ticks each upgrade takes (it heartbeats every tick).
	Work int `mapstructure:"work" json:"work"`
	// GateRemindAfter makes the approval gate log a reminder this often.
	GateRemindAfter contract.Duration `mapstructure:"gateRemindAfter" json:"gateRemindAfter,omitempty"`
}

// NewDemoInput returns the demo's defaults.
func NewDemoInput() DemoInput {
	return DemoInput{
		Target:          runbook.Target{Environment: "lab", From: "0.21", To: "0.22"},
		OldReleases:     []string{"base-service", "api-gateway"},
		Releases:        []string{"hzero-iam", "hzero-gateway"},
		PasswordRef:     "demo-db-password",
		Work:            5,
		GateRemindAfter: contract.Duration(30 * time.Minute),
	}
}

// GetTarget implements Input.
func (in *DemoInput) GetTarget() *runbook.Target { return &in.Target }

// Validate implements Input.
func (in *DemoInput) Validate() error {
	var p config.Problems
	validateTarget(&p, in.Target, "", "")
	if in.LabDir == "" {
		p.Add("labDir", "is empty; name the demo lab folder on the worker")
	}
	if len(in.Releases) == 0 {
		p.Add("releases", "is empty; name at least one release to upgrade")
	}
	seen := map[string]string{}
	for _, list := range []struct {
		field string
		names []string
	}{{"oldReleases", in.OldReleases}, {"releases", in.Releases}} {
		for i, n := range list.names {
			f := fmt.Sprintf("%s[%d]", list.field, i)
			if !releaseName.MatchString(n) {
				p.Add(f, "%q is not a release name (lower-case letters, digits, -)", n)
			}
			if other, dup := seen[n]; dup {
				p.Add(f, "%q is also %s", n, other)
			}
			seen[n] = f
		}
	}
	if in.PasswordRef == "" {
		p.Add("passwordRef", "is empty; name the secret (configured on the worker) that holds the DB password")
	}
	validateRemindAfter(&p, "gateRemindAfter", in.GateRemindAfter.D())
	if in.HealthURL != "" && !strings.HasPrefix(in.HealthURL, "http://") && !strings.HasPrefix(in.HealthURL, "https://") {
		p.Add("healthURL", "%q is not an http(s) URL", in.HealthURL)
	}
	if in.Work < 0 {
		p.Add("work", "must not be negative")
	}
	return finish(&p, in)
}

// Activities are referenced through nil pointers: the worker registers the
// real structs, the workflow only needs the method names.
var (
	demo *activities.Demo
	web  *activities.HTTP
)

// Plan implements Input: the demo's steps, in order.
func (in *DemoInput) Plan() ([]runbook.Step, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var steps []runbook.Step
	add := func(s runbook.Step) { steps = append(steps, s) }

	add(runbook.Step{
		Name: "preflight/lab", Kind: runbook.KindCheck, Section: "pre",
		Summary:  "check the lab folder exists and every secret resolves on the worker",
		Activity: demo.Preflight,
		Input:    activities.DemoPreflightInput{LabDir: in.LabDir, SecretRefs: []string{in.PasswordRef}},
	})

	// Back up every release's values first, as the guide's
	// `for name in $(helm list …); do helm get values $name > $name.yaml; done`.
	for _, r := range append(append([]string{}, in.OldReleases...), in.Releases...) {
		add(runbook.Step{
			Name: "backup-values/" + r, Kind: runbook.KindBackup, Section: "1",
			Summary:  "save the values of " + r + " to the run's artifact folder",
			Activity: demo.BackupValues,
			Input:    activities.DemoReleaseInput{LabDir: in.LabDir, Release: r},
		})
	}

	if len(in.OldReleases) > 0 {
		add(runbook.Step{
			Name: "approve/delete-old-releases", Kind: runbook.KindGate, Section: "2",
			Summary: "a person confirms the old releases may be deleted",
			Gate: &runbook.Gate{
				Prompt: fmt.Sprintf("Delete %s? Their values are backed up in the run's artifact folder; "+
					"confirm the databases are backed up too. This cannot be undone.", strings.Join(in.OldReleases, ", ")),
				RemindAfter: in.GateRemindAfter.D(),
				Destructive: true,
			},
		})
		for _, r := range in.OldReleases {
			add(runbook.Step{
				Name: "delete-release/" + r, Kind: runbook.KindHelm, Section: "2",
				Summary:  "delete the old release " + r,
				Activity: demo.DeleteRelease,
				Input:    activities.DemoReleaseInput{LabDir: in.LabDir, Release: r},
				Requires: []string{"backup-values/" + r, "approve/delete-old-releases"},
			})
		}
	}

	for _, r := range in.Releases {
		add(runbook.Step{
			Name: "upgrade/" + r, Kind: runbook.KindHelm, Parallel: "upgrade", Section: "3",
			Summary:  fmt.Sprintf("upgrade --install %s to %s, reusing its values", r, in.To),
			Activity: demo.Install,
			Input: activities.DemoInstallInput{LabDir: in.LabDir, Release: r, Version: in.To,
				PasswordRef: in.PasswordRef, Work: in.Work},
			Heartbeat: 5 * time.Second,
		})
	}

	if in.HealthURL != "" {
		for _, r := range in.Releases {
			add(runbook.Step{
				Name: "wait-up/" + r, Kind: runbook.KindWait, Parallel: "wait-up", Section: "4",
				Summary:  "wait until " + r + " answers status UP",
				Activity: web.WaitUntil,
				Input: activities.WaitHTTPInput{URL: strings.ReplaceAll(in.HealthURL, "{release}", r),
					JSONField: "status", Equals: "UP", Interval: contract.Duration(time.Second)},
				Timeout:   2 * time.Minute,
				Heartbeat: 10 * time.Second,
			})
		}
	}

	add(runbook.Step{
		Name: "verify/end-state", Kind: runbook.KindCheck, Section: "5",
		Summary:  fmt.Sprintf("check every release is at %s and the old ones are gone", in.To),
		Activity: demo.Verify,
		Input: activities.DemoVerifyInput{LabDir: in.LabDir, Releases: in.Releases, Version: in.To,
			Absent: in.OldReleases},
	})
	return steps, nil
}

// DemoUpgrade is the demo guide's workflow.
func DemoUpgrade(ctx workflow.Context, in DemoInput) (runbook.RunStatus, error) {
	return runGuide(ctx, DemoGuide, &in)
}
