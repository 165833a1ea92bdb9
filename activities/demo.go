package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"upgrader/config"
	"upgrader/internal/contract"
)

// Demo is the built-in demo guide's activities. Its "cluster" is a folder of
// release files (<lab>/releases/<name>.json), so the demo runs anywhere
// while exercising everything a real guide does: backups with checksums,
// a destructive step behind its backup and a gate, long resumable steps that
// heartbeat, health checks over HTTP, and a secret that never leaves the
// worker.
type Demo struct {
	Artifacts *Artifacts
	Secrets   Secrets
	// Tick is how long one unit of demo work takes.
	Tick time.Duration
}

// DemoRelease is one release file of the demo lab.
type DemoRelease struct {
	Name    string            `json:"name"`
	Version string            `json:"version"`
	Values  map[string]string `json:"values"`
}

// DemoPreflightInput lists what the demo needs before it changes anything.
type DemoPreflightInput struct {
	LabDir     string   `json:"labDir"`
	SecretRefs []string `json:"secretRefs"`
}

// DemoReleaseInput names one release of the demo lab.
type DemoReleaseInput struct {
	LabDir  string `json:"labDir"`
	Release string `json:"release"`
}

// DemoInstallInput installs or upgrades one demo release.
type DemoInstallInput struct {
	LabDir  string `json:"labDir"`
	Release string `json:"release"`
	Version string `json:"version"`
	// PasswordRef names the secret written into the release's values, as a
	// real chart's values hold the database password.
	PasswordRef string `json:"passwordRef"`
	// Work is how many ticks the install takes; it heartbeats each one and
	// resumes from the last after a worker restart.
	Work int `json:"work"`
}

// DemoVerifyInput checks the end state.
type DemoVerifyInput struct {
	LabDir   string   `json:"labDir"`
	Releases []string `json:"releases"`
	Version  string   `json:"version"`
	Absent   []string `json:"absent"`
}

// DemoResult is every demo activity's result.
type DemoResult struct {
	contract.Outcome
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

func releasePath(lab, name string) string {
	return filepath.Join(lab, "releases", name+".json")
}

func readRelease(lab, name string) (*DemoRelease, error) {
	b, err := os.ReadFile(releasePath(lab, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r DemoRelease
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("release file %s is damaged: %w", releasePath(lab, name), err)
	}
	return &r, nil
}

// The demo's steps: Install heartbeats after every tick of work; the others
// touch a few local files and return at once, so a try lost with its worker
// is given up after demoQuick, not the kind's minutes.
const demoQuick = 15 * time.Second

var (
	_ = contract.Declare((*Demo).Preflight, contract.Options{Heartbeat: demoQuick, Timeout: demoQuick})
	_ = contract.Declare((*Demo).BackupValues, contract.Options{Heartbeat: demoQuick, Timeout: demoQuick})
	_ = contract.Declare((*Demo).DeleteRelease, contract.Options{Heartbeat: demoQuick, Timeout: demoQuick})
	_ = contract.Declare((*Demo).Install, contract.Options{Heartbeat: 20 * time.Second})
	_ = contract.Declare((*Demo).Verify, contract.Options{Heartbeat: demoQuick, Timeout: demoQuick})
)

// Preflight checks the lab folder exists and every secret resolves, before
// any step changes anything.
func (d *Demo) Preflight(ctx context.Context, in DemoPreflightInput) (DemoResult, error) {
	if st, err := os.Stat(filepath.Join(in.LabDir, "releases")); err != nil || !st.IsDir() {
		return DemoResult{}, invalid("demo lab %s has no releases/ folder; create it with `starter demo` or point labDir at one", in.LabDir)
	}
	var missing []string
	for _, ref := range in.SecretRefs {
		if _, err := d.Secrets.Resolve(ref); err != nil {
			missing = append(missing, err.Error())
		}
	}
	if len(missing) > 0 {
		return DemoResult{}, invalid("secrets missing on the worker:\n  %s", strings.Join(missing, "\n  "))
	}
	entries, _ := os.ReadDir(filepath.Join(in.LabDir, "releases"))
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(names)
	_ = d.Artifacts.Journal(ctx, "done", "releases: "+strings.Join(names, ","))
	return DemoResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("lab has %d releases; %d secrets resolve", len(names), len(in.SecretRefs))}}, nil
}

// BackupValues copies a release's values into the run's artifact folder,
// as `helm get values NAME > NAME.yaml` does. A missing release is backed
// up as absent, not a failure: there is nothing to lose.
func (d *Demo) BackupValues(ctx context.Context, in DemoReleaseInput) (DemoResult, error) {
	_ = d.Artifacts.Journal(ctx, "started", in.Release)
	rel, err := readRelease(in.LabDir, in.Release)
	if err != nil {
		return DemoResult{}, fmt.Errorf("unable to read release %s: %w", in.Release, err)
	}
	if rel == nil {
		_ = d.Artifacts.Journal(ctx, "done", "absent")
		return DemoResult{Outcome: contract.Outcome{Summary: in.Release + " is not installed; nothing to back up"}}, nil
	}
	data, _ := json.MarshalIndent(rel.Values, "", "  ")
	path, sum, err := d.Artifacts.WriteFile(ctx, "values/"+in.Release+".json", data)
	if err != nil {
		return DemoResult{}, err
	}
	_ = d.Artifacts.Journal(ctx, "done", path)
	return DemoResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("values of %s@%s saved (sha256 %s…)", in.Release, rel.Version, sum[:12]),
		Outputs: map[string]string{"path": path, "sha256": sum, "bytes": strconv.Itoa(len(data))}}, Path: path, SHA256: sum}, nil
}

// DeleteRelease removes a release; one that is already gone is success.
func (d *Demo) DeleteRelease(ctx context.Context, in DemoReleaseInput) (DemoResult, error) {
	_ = d.Artifacts.Journal(ctx, "started", in.Release)
	err := os.Remove(releasePath(in.LabDir, in.Release))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return DemoResult{}, fmt.Errorf("unable to delete release %s: %w", in.Release, err)
	}
	_ = d.Artifacts.Journal(ctx, "done", in.Release)
	if err != nil {
		return DemoResult{Outcome: contract.Outcome{Summary: in.Release + " was already gone"}}, nil
	}
	return DemoResult{Outcome: contract.Outcome{Summary: in.Release + " deleted"}}, nil
}

// Install upgrades or installs a release. It works for Work ticks,
// heartbeating after each, and a new try resumes after the last tick
// heartbeated: the shape of every long step.
func (d *Demo) Install(ctx context.Context, in DemoInstallInput) (DemoResult, error) {
	password, err := resolveSecretFor(d.Secrets, in.PasswordRef, config.SecretUse{Kind: config.UseDemo})
	if err != nil {
		return DemoResult{}, err
	}
	done := 0
	if priorProgress(ctx, &done) {
		_ = d.Artifacts.Journal(ctx, "resumed", fmt.Sprintf("%s at tick %d of %d", in.Release, done, in.Work))
	} else {
		_ = d.Artifacts.Journal(ctx, "started", in.Release)
	}
	tick := d.Tick
	if tick <= 0 {
		tick = time.Second
	}
	for done < in.Work {
		select {
		case <-ctx.Done():
			return DemoResult{}, ctx.Err()
		case <-time.After(tick):
		}
		done++
		activity.RecordHeartbeat(ctx, done)
	}
	prev, err := readRelease(in.LabDir, in.Release)
	if err != nil {
		return DemoResult{}, fmt.Errorf("unable to read release %s: %w", in.Release, err)
	}
	rel := DemoRelease{Name: in.Release, Version: in.Version, Values: map[string]string{}}
	if prev != nil {
		for k, v := range prev.Values {
			rel.Values[k] = v // reuse values, as `-f <(helm get values X)` does
		}
	}
	rel.Values["datasource.password"] = password
	data, _ := json.MarshalIndent(rel, "", "  ")
	path := releasePath(in.LabDir, in.Release)
	if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
		return DemoResult{}, fmt.Errorf("unable to write release %s: %w", in.Release, err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return DemoResult{}, fmt.Errorf("unable to write release %s: %w", in.Release, err)
	}
	_ = d.Artifacts.Journal(ctx, "done", in.Release+"@"+in.Version)
	from := "installed"
	if prev != nil {
		from = "upgraded from " + prev.Version
	}
	return DemoResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("%s %s to %s", in.Release, from, in.Version)}}, nil
}

// Verify checks the end state: every release at the version, the old ones gone.
func (d *Demo) Verify(ctx context.Context, in DemoVerifyInput) (DemoResult, error) {
	var problems []string
	for _, name := range in.Releases {
		rel, err := readRelease(in.LabDir, name)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case rel == nil:
			problems = append(problems, name+" is not installed")
		case rel.Version != in.Version:
			problems = append(problems, fmt.Sprintf("%s is at %s, not %s", name, rel.Version, in.Version))
		}
	}
	for _, name := range in.Absent {
		if rel, _ := readRelease(in.LabDir, name); rel != nil {
			problems = append(problems, name+" should have been deleted")
		}
	}
	if len(problems) > 0 {
		return DemoResult{}, fmt.Errorf("end state is wrong: %s", strings.Join(problems, "; "))
	}
	_ = d.Artifacts.Journal(ctx, "done", "")
	return DemoResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("%d releases at %s; %d old releases gone", len(in.Releases), in.Version, len(in.Absent))}}, nil
}
