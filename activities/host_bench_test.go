package activities_test

import (
	"testing"

	"upgrader/activities"
)

// BenchmarkHostRun measures what one short command costs end to end on the
// lab sshd (dial, handshake, session, command): run once under a marker on
// the host (the default) against the plain session of a repeatable one.
func BenchmarkHostRun(b *testing.B) {
	for _, c := range []struct {
		name       string
		repeatable bool
	}{{"run-once", false}, {"repeatable", true}} {
		b.Run(c.name, func(b *testing.B) {
			f := newHostFixture(b)
			for i := 0; i < b.N; i++ {
				if _, err := f.env.ExecuteActivity(f.host.Run, activities.HostCommandInput{Host: f.target, Command: "true", Repeatable: c.repeatable}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
