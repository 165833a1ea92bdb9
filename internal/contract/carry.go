package contract

import (
	"context"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"
)

// A lost worker's try is followed by a new try (workflows/runbook), and a
// new try is a new activity: Temporal gives it no heartbeat details. What a
// not-repeatable activity recorded before it acted ("about to send" of an
// HTTP call, the SQL statement in flight, a long wait's progress) would be
// lost with them. So the runbook hands the last heartbeat details of the
// lost try to the new one in a header of the activity, and an activity reads
// them where it reads its own heartbeat details (activities.priorProgress).

// CarryHeader is the activity header that holds the carried details.
const CarryHeader = "upgrader-prior-progress"

type carryKey struct{}

// WithCarried returns a workflow context whose activities carry details, the
// JSON of a lost try's last heartbeat details.
func WithCarried(ctx workflow.Context, details []byte) workflow.Context {
	return workflow.WithValue(ctx, carryKey{}, details)
}

// Carried returns the details an activity's runbook carried over from a
// lost try of the same step, if any.
func Carried(ctx context.Context) ([]byte, bool) {
	b, ok := ctx.Value(carryKey{}).([]byte)
	return b, ok && len(b) > 0
}

// CarryPropagator moves carried details from the workflow to the activity.
// dc encodes the header (the client's converter, so a payload codec
// encrypts it like any other payload); nil means the default converter.
func CarryPropagator(dc converter.DataConverter) workflow.ContextPropagator {
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	return carryPropagator{dc: dc}
}

type carryPropagator struct{ dc converter.DataConverter }

func (carryPropagator) Inject(context.Context, workflow.HeaderWriter) error { return nil }

func (p carryPropagator) Extract(ctx context.Context, r workflow.HeaderReader) (context.Context, error) {
	pl, ok := r.Get(CarryHeader)
	if !ok {
		return ctx, nil
	}
	var b []byte
	if err := p.dc.FromPayload(pl, &b); err != nil {
		return ctx, nil // the activity runs as a try without them would
	}
	return context.WithValue(ctx, carryKey{}, b), nil
}

func (p carryPropagator) InjectFromWorkflow(ctx workflow.Context, w workflow.HeaderWriter) error {
	b, ok := ctx.Value(carryKey{}).([]byte)
	if !ok || len(b) == 0 {
		return nil
	}
	pl, err := p.dc.ToPayload(b)
	if err != nil {
		return err
	}
	w.Set(CarryHeader, pl)
	return nil
}

func (carryPropagator) ExtractToWorkflow(ctx workflow.Context, _ workflow.HeaderReader) (workflow.Context, error) {
	return ctx, nil
}
