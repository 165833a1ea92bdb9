package runbook

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// Lane puts a step of a Parallel group in a lane: a run of steps that go one
// after another (back up, upgrade, apply CRDs on one cluster) while the
// group's other lanes go side by side. A step that fails pauses its own lane
// only, waiting for `decide … retry|skip|abort` by its name; the other lanes
// go on. An abort cancels every lane, as in any group.
//
// Steps of a group without a Lane are each a lane of their own (the
// group's old meaning), so a plan that sets no Lane runs as before.
type Lane struct {
	// Name is the lane's name within its group (a cluster's name).
	Name string
	// Width is how many lanes of the group run at once; the first step of
	// the group that sets it decides. Zero: all of them.
	Width int
}

// hasLanes says whether any step of [start, end) is in a lane.
func (r *runner) hasLanes(start, end int) bool {
	for i := start; i < end; i++ {
		if r.steps[i].Lane != nil {
			return true
		}
	}
	return false
}

// runLanes runs steps [start, end) lane by lane: each lane's steps in plan
// order, at most Width lanes at a time, lanes started in the order their
// first step appears. The first abort or rejection cancels the others.
func (r *runner) runLanes(ctx workflow.Context, start, end int) error {
	var order []string
	lanes := map[string][]int{}
	width := 0
	for i := start; i < end; i++ {
		name := "step:" + r.steps[i].Name
		if l := r.steps[i].Lane; l != nil {
			name = "lane:" + l.Name
			if width == 0 {
				width = l.Width
			}
		}
		if _, ok := lanes[name]; !ok {
			order = append(order, name)
		}
		lanes[name] = append(lanes[name], i)
	}
	if width <= 0 || width > len(order) {
		width = len(order)
	}
	gctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	var first error
	running, started := 0, 0
	for _, name := range order {
		if err := workflow.Await(ctx, func() bool { return running < width || first != nil }); err != nil {
			return err
		}
		if first != nil {
			break
		}
		steps := lanes[name]
		running++
		started++
		workflow.Go(gctx, func(c workflow.Context) {
			defer func() { running-- }()
			for _, i := range steps {
				if err := r.runStep(c, i); err != nil {
					if first == nil {
						first = err
						cancel()
					}
					return
				}
			}
		})
	}
	if err := workflow.Await(ctx, func() bool { return running == 0 }); err != nil {
		return err
	}
	return first
}

// lanes checks the plan's lanes: only within a Parallel group, named, and
// one lane's steps next to each other's group.
func (v *planCheck) lanes(steps []Step) {
	for i, s := range steps {
		if s.Lane == nil {
			continue
		}
		where := fmt.Sprintf("step %d (%s)", i+1, s.Name)
		switch {
		case s.Parallel == "":
			v.add(where + ": has a lane but no Parallel group; lanes run side by side within a group")
		case s.Lane.Name == "":
			v.add(where + ": lane without a name")
		case s.Lane.Width < 0:
			v.add(where + ": lane width must not be negative")
		}
	}
}
