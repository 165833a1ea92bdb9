package workflows

import (
	"fmt"
	"strings"
	"time"

	"upgrader/activities"
	"upgrader/workflows/runbook"
)

// Backups that are proven (issue 19 §3): every SQL dump a guide makes is
// followed by its restore drill, verify-restore/<what>, and the gate before
// the first destructive step shows what the drills found.

// drillName is the restore drill's step for the dump step backup
// (backup-db/mysql → verify-restore/mysql).
func drillName(backup string) string {
	return "verify-restore/" + backup[strings.LastIndex(backup, "/")+1:]
}

// DrillTimeout bounds one try of a restore drill: it loads the whole dump
// into a scratch database, as long as a dump takes (it heartbeats).
const DrillTimeout = 30 * time.Minute

// restoreDrill is the step after the dump step backup that proves the
// dump restores: hashed again, loaded into scratch databases on db's server
// (upgrader_verify_<run>_<n>, dropped before, after, and by a retry), every
// table and its rows compared with the dump's and the source's
// (activities/backup_drill.go). A truncated or damaged dump fails it
// (BackupUnusable) and the run pauses before anything is destroyed.
//
// via is the host the dump was written on (nil: the worker); the drill
// copies it to the worker and checks the copy's SHA-256 first.
func restoreDrill(backup string, db activities.DBTarget, section string, via *activities.SSHTarget) runbook.Step {
	copied := ""
	if via != nil {
		copied = "copy the dump of " + backup + " from " + via.Name + " to the worker, "
	}
	return runbook.Step{Name: drillName(backup), Kind: runbook.KindCheck, Section: section, Timeout: DrillTimeout,
		Summary: fmt.Sprintf("%srestore the dump of %s into a scratch database on %s (upgrader_verify_<run>, dropped after) "+
			"and compare its tables and rows with the dump's and the source's", copied, backup, db.Address),
		Activity: mysqlA.VerifyBackup,
		Input:    activities.VerifyBackupInput{Drill: &db, Via: via},
		Inputs:   map[string]runbook.From{"path": {Step: backup, Output: "path"}, "sha256": {Step: backup, Output: "sha256"}},
		Requires: []string{backup}}
}

// mongoRestoreDrill is restoreDrill for a mongodump folder on a host
// (activities' DrillMongo): copied to the worker, its manifest SHA-256
// checked, every document read and inserted into scratch databases on db
// (dropped after), and counted against the dump's and the source's.
func mongoRestoreDrill(backup string, db activities.MongoTarget, section string, via activities.SSHTarget) runbook.Step {
	return runbook.Step{Name: drillName(backup), Kind: runbook.KindCheck, Section: section, Timeout: DrillTimeout,
		Summary: fmt.Sprintf("copy the dump of %s from %s to the worker, read every document and restore them into scratch databases on %s "+
			"(upgrader_verify_<run>, dropped after); compare the counts with the dump's and the source's", backup, via.Name, db.Address),
		Activity: mongoA.DrillMongo,
		Input:    activities.MongoDrillInput{DB: db, Via: via},
		Inputs:   map[string]runbook.From{"path": {Step: backup, Output: "path"}, "sha256": {Step: backup, Output: "sha256"}},
		Requires: []string{backup}}
}

// drillsBefore names the restore drills among steps: what a destructive
// gate after them shows.
func drillsBefore(steps []runbook.Step) []string {
	var out []string
	for _, s := range steps {
		if strings.HasPrefix(s.Name, "verify-restore/") {
			out = append(out, s.Name)
		}
	}
	return out
}
