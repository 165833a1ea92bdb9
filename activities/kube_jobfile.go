package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"upgrader/internal/contract"
)

// JobFileInput checks a Job manifest file on the worker before it is
// applied: skoala's job.yaml, which DaoCloud hands out with a release and
// the guide asks to edit (「在 job.yaml 文件中按照如下说明修改配置」).
type JobFileInput struct {
	// Path of the file on the worker.
	Path string `json:"path"`
	// Job is the name of the Job the file must hold.
	Job string `json:"job"`
	// Block is the key of the settings block the file must hold somewhere
	// (at any depth, also inside a ConfigMap's data string): "sweet".
	Block string `json:"block"`
	// Want are the values that block must have (type: UPGRADE …).
	Want map[string]string `json:"want"`
}

// PreflightJobFile reads one local file and returns; it declares a heartbeat
// all the same, so a worker that dies holding the task (the server hands a
// worker its next activity eagerly) is noticed in seconds, not at the try's
// limit.
var _ = contract.Declare((*Kube).PreflightJobFile, contract.Options{Heartbeat: callHeartbeat, Timeout: time.Minute})

// PreflightJobFile reports, before anything changes, a job file that is
// missing, is not YAML, holds no Job of that name, or whose settings block
// lacks a value the guide fixes (「固定值，无需修改」), all at once.
func (k *Kube) PreflightJobFile(ctx context.Context, in JobFileInput) (contract.Outcome, error) {
	b, err := os.ReadFile(in.Path)
	if err != nil {
		return contract.Outcome{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the DB upgrade job file %s cannot be read on the worker: %v; put DaoCloud's job.yaml there (dbUpgrade.jobFile), then retry",
			in.Path, err), contract.ErrPrecondition, nil)
	}
	var problems []string
	var found bool
	var block map[string]any
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for doc := 1; ; doc++ {
		obj := map[string]any{}
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return contract.Outcome{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"%s: document %d is not valid YAML: %v", in.Path, doc, err), contract.ErrPrecondition, nil)
		}
		if obj["kind"] == "Job" {
			if md, _ := obj["metadata"].(map[string]any); md != nil && md["name"] == in.Job {
				found = true
			}
		}
		if block == nil {
			block = findBlock(obj, in.Block, 0)
		}
	}
	if !found {
		problems = append(problems, fmt.Sprintf("holds no Job named %s (dbUpgrade.jobName)", in.Job))
	}
	if block == nil {
		problems = append(problems, fmt.Sprintf("holds no %s: block", in.Block))
	} else {
		keys := make([]string, 0, len(in.Want))
		for key := range in.Want {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			if got := fmt.Sprint(block[key]); got != in.Want[key] {
				problems = append(problems, fmt.Sprintf("%s.%s is %q; the guide fixes it at %q", in.Block, key, got, in.Want[key]))
			}
		}
	}
	if len(problems) > 0 {
		return contract.Outcome{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the DB upgrade job file %s %s; fix the file, then retry", in.Path, strings.Join(problems, "; ")), contract.ErrPrecondition, nil)
	}
	return contract.Outcome{Summary: fmt.Sprintf("%s holds Job %s with %s: %v", in.Path, in.Job, in.Block, in.Want)}, nil
}

// findBlock looks for key at any depth of v, also inside strings that are
// YAML documents themselves (a ConfigMap's config.yaml).
func findBlock(v any, key string, depth int) map[string]any {
	if depth > 8 {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		if m, ok := x[key].(map[string]any); ok {
			return m
		}
		for _, e := range x {
			if m := findBlock(e, key, depth+1); m != nil {
				return m
			}
		}
	case []any:
		for _, e := range x {
			if m := findBlock(e, key, depth+1); m != nil {
				return m
			}
		}
	case string:
		if strings.Contains(x, key+":") {
			var inner any
			if yaml.Unmarshal([]byte(x), &inner) == nil {
				return findBlock(inner, key, depth+1)
			}
		}
	}
	return nil
}
