package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// EnsureSystemVariable makes a few short requests, each bounded by the
// client's timeout, heartbeating from the shared ticker (as WeCubeLogin).
var _ = contract.Declare((*WeCube).EnsureSystemVariable, contract.Options{Heartbeat: callHeartbeat, Timeout: time.Minute})

// systemVariable is a row of platform-core's system_variables as its API
// shows it (platform-core/models/system-variable.go at v4.0.0).
type systemVariable struct {
	ID           string `json:"id"`
	PackageName  string `json:"packageName"`
	Name         string `json:"name"`
	Value        string `json:"value"`
	DefaultValue string `json:"defaultValue"`
	Scope        string `json:"scope"`
	Source       string `json:"source"`
	Status       string `json:"status"`
}

// SystemVariableInput is one system variable to hold a value (系统-系统参数
// in the UI).
type SystemVariableInput struct {
	Account WeCubeAccount `json:"account"`
	Name    string        `json:"name"`
	Value   string        `json:"value"`
	// Scope and Source as the UI's key shows them (system__global__NAME:
	// source system, scope global).
	Scope  string `json:"scope"`
	Source string `json:"source"`
}

// SystemVariableResult says what was done.
type SystemVariableResult struct {
	contract.Outcome
	ID string `json:"id"`
	// Action is created, updated or unchanged.
	Action string `json:"action"`
}

// EnsureSystemVariable makes the variable active with the value, reading
// first: platform-core's create always inserts a new row
// (platform-core/services/database/variable.go CreateSystemVariables, no
// duplicate check), so a retry after a lost answer must find the row the
// first try made instead of adding a second. An active row with another
// value is updated in place. The result is read back.
func (w *WeCube) EnsureSystemVariable(ctx context.Context, in SystemVariableInput) (SystemVariableResult, error) {
	return heartbeating(ctx, in, w.ensureSystemVariable)
}

func (w *WeCube) ensureSystemVariable(ctx context.Context, in SystemVariableInput) (SystemVariableResult, error) {
	if in.Name == "" || in.Value == "" {
		return SystemVariableResult{}, invalid("system variable: a name and a value are needed")
	}
	token, err := w.login(ctx, in.Account)
	if err != nil {
		return SystemVariableResult{}, err
	}
	rows, err := w.variables(ctx, in, token)
	if err != nil {
		return SystemVariableResult{}, err
	}
	var res SystemVariableResult
	var active []systemVariable
	for _, r := range rows {
		if r.Status == "active" {
			active = append(active, r)
		}
	}
	switch {
	case len(active) > 1:
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%d active system variables are named %s; keep one in 系统-系统参数 and retry",
			len(active), in.Name), contract.ErrPrecondition, nil)
	case len(active) == 1 && active[0].Value == in.Value:
		res.ID, res.Action = active[0].ID, "unchanged"
	case len(active) == 1:
		row := active[0]
		row.Value = in.Value
		body, _ := json.Marshal([]systemVariable{row})
		if err := w.do(ctx, http.MethodPost, in.Account.URL+"/platform/v1/system-variables/update", token, body, nil); err != nil {
			return res, err
		}
		res.ID, res.Action = row.ID, "updated"
	default:
		body, _ := json.Marshal([]systemVariable{{Name: in.Name, Value: in.Value, Scope: in.Scope, Source: in.Source, Status: "active"}})
		var created []systemVariable
		if err := w.do(ctx, http.MethodPost, in.Account.URL+"/platform/v1/system-variables/create", token, body, &created); err != nil {
			return res, err
		}
		res.Action = "created"
		if len(created) == 1 {
			res.ID = created[0].ID
		}
	}
	rows, err = w.variables(ctx, in, token)
	if err != nil {
		return res, err
	}
	for _, r := range rows {
		if r.Status == "active" && r.Value == in.Value {
			res.ID = r.ID
			res.Summary = fmt.Sprintf("system variable %s = %s (%s, id %s), read back", in.Name, in.Value, res.Action, r.ID)
			return res, nil
		}
	}
	return res, fmt.Errorf("system variable %s was %s but reads back without the value %s", in.Name, res.Action, in.Value)
}

func (w *WeCube) variables(ctx context.Context, in SystemVariableInput, token string) ([]systemVariable, error) {
	q, _ := json.Marshal(map[string]any{
		"filters": []map[string]any{{"name": "name", "operator": "eq", "value": in.Name}},
		"paging":  false,
	})
	var page struct {
		Contents []systemVariable `json:"contents"`
	}
	if err := w.do(ctx, http.MethodPost, in.Account.URL+"/platform/v1/system-variables/retrieve", token, q, &page); err != nil {
		return nil, err
	}
	return page.Contents, nil
}
