package runbook

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// Outputs pass values between steps at run time: a step's activity returns
// them in its Outcome, the runbook keeps them in the step's status (where
// `starter status` shows them), and a later step's Inputs names them. They
// are references — a version read from a host, a secret's name, an artifact
// path — never a secret's value.

// checkInputPath says whether path names a string field of input's JSON form,
// so a plan that fills a field that does not exist fails before any step.
func checkInputPath(input any, path string) error {
	if input == nil {
		return fmt.Errorf("the step has no Input to fill")
	}
	t := reflect.TypeOf(input)
	segs := strings.Split(path, ".")
	for i, seg := range segs {
		if seg == "" {
			return fmt.Errorf("path %q has an empty part", path)
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := jsonField(t, seg)
			if !ok {
				return fmt.Errorf("%s has no field %q (JSON names: %s)", t, seg, strings.Join(jsonFields(t), ", "))
			}
			t = f
		case reflect.Map:
			if t.Key().Kind() != reflect.String {
				return fmt.Errorf("%s is a map without string keys", strings.Join(segs[:i], "."))
			}
			t = t.Elem()
		default:
			return fmt.Errorf("%s is a %s, not a struct or map", strings.Join(segs[:i], "."), t)
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.String && t.Kind() != reflect.Interface {
		return fmt.Errorf("is a %s; an output is a string", t)
	}
	return nil
}

// jsonField finds a struct field (or a field of an embedded struct) by the
// name encoding/json gives it.
func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	for _, f := range jsonFieldList(t) {
		if f.name == name {
			return f.typ, true
		}
	}
	return nil, false
}

// jsonFields lists a struct's JSON field names, embedded structs' promoted.
func jsonFields(t reflect.Type) []string {
	var out []string
	for _, f := range jsonFieldList(t) {
		out = append(out, f.name)
	}
	return out
}

type namedField struct {
	name string
	typ  reflect.Type
}

// jsonFieldList is every JSON field of a struct in order, the fields of an
// untagged embedded struct in its place.
func jsonFieldList(t reflect.Type) []namedField {
	var out []namedField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		n, skip := jsonName(f)
		if skip {
			continue
		}
		if f.Anonymous && n == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFieldList(ft)...)
			}
			continue
		}
		out = append(out, namedField{n, f.Type})
	}
	return out
}

// jsonName is a field's JSON name; "" for an embedded struct without a tag
// name (its fields are promoted).
func jsonName(f reflect.StructField) (name string, skip bool) {
	if !f.IsExported() && !f.Anonymous {
		return "", true
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", true
	}
	name, _, _ = strings.Cut(tag, ",")
	if name == "" && !f.Anonymous {
		name = f.Name
	}
	return name, false
}

// fillInput returns input with the fields named by paths set to values, as
// the JSON object the activity decodes into its input type.
func fillInput(input any, values map[string]string) (any, error) {
	// encoding/json is deterministic here (it sorts map keys); workflowcheck
	// sees only the reflection inside it.
	//workflowcheck:ignore
	b, err := json.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("unable to encode the step's input: %w", err)
	}
	var m map[string]any
	//workflowcheck:ignore
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, fmt.Errorf("the step's input is not a JSON object; only fields of a struct can be filled")
	}
	for _, path := range sortedKeys(values) {
		segs := strings.Split(path, ".")
		cur := m
		for _, seg := range segs[:len(segs)-1] {
			next, ok := cur[seg].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[seg] = next
			}
			cur = next
		}
		cur[segs[len(segs)-1]] = values[path]
	}
	return m, nil
}

// resolveInputs collects the values a step takes from earlier steps. It
// returns a problem the operator can act on when a producer did not run or
// did not publish the output.
func (r *runner) resolveInputs(s Step) (map[string]string, string) {
	if len(s.Inputs) == 0 {
		return nil, ""
	}
	values := map[string]string{}
	var missing []string
	for _, path := range sortedKeys(s.Inputs) {
		f := s.Inputs[path]
		i, ok := r.index[f.Step]
		if !ok {
			missing = append(missing, fmt.Sprintf("%s (%s: no such step)", path, f))
			continue
		}
		p := r.status.Steps[i]
		if p.State != StepDone {
			missing = append(missing, fmt.Sprintf("%s (%s, which is %s)", path, f, p.State))
			continue
		}
		v, ok := p.Outputs[f.Output]
		if !ok {
			missing = append(missing, fmt.Sprintf("%s (%s: %s published %s)", path, f, f.Step, outputNames(p.Outputs)))
			continue
		}
		values[path] = v
	}
	if len(missing) > 0 {
		return nil, "will not run: it takes values from earlier steps that have none: " + strings.Join(missing, "; ") +
			"; retry once the producer is done (decide it retry), skip this step too, or abort"
	}
	return values, ""
}

func outputNames(m map[string]string) string {
	if len(m) == 0 {
		return "no outputs"
	}
	return "only " + strings.Join(sortedKeys(m), ", ")
}

// awaitInputs holds a step until every value it takes is there, asking the
// operator when one is missing. It returns the filled input.
func (r *runner) awaitInputs(ctx workflow.Context, i int, paused bool) (any, error) {
	s := r.steps[i]
	for {
		if !paused {
			values, problem := r.resolveInputs(s)
			if problem == "" {
				if values == nil {
					return s.Input, nil
				}
				in, err := fillInput(s.Input, values)
				if err == nil {
					return in, nil
				}
				problem = err.Error()
			}
			r.status.Steps[i].LastError = problem
			r.phase[s.Name] = phaseInputs
		}
		paused = false
		retry, err := r.decide(ctx, i)
		if err != nil || !retry {
			return nil, err
		}
		s = r.steps[i] // a corrected config may have rebuilt it
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	// The keys are sorted below.
	//workflowcheck:ignore
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
