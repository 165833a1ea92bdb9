package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
	"upgrader/internal/text"
)

// Error types of WeCube API steps.
const (
	ErrWeCubeLogin = "WeCubeLoginRefused" // auth-server refused the account
	ErrWeCubeAPI   = "WeCubeAPIError"     // platform-core answered status ERROR (with HTTP 200)
)

// WeCube calls the WeCube v4 platform's API through its portal, as the Web
// UI does: log in at auth-server (/auth/v1/api/login), then call
// platform-core (/platform/v1/…) with the access token. The token lives in
// the activity only; the password is a secret name. The verbs live in their
// own files: wecube_login.go, wecube_sysvar.go, wecube_plugins.go.
type WeCube struct {
	Client  *http.Client
	Secrets Secrets
	Scrub   Scrubber
}

// WeCubeAccount is where the platform answers and who logs in.
type WeCubeAccount struct {
	// URL is the portal, http://HOSTIP:8080 (its nginx passes /auth and
	// /platform to the gateway).
	URL         string `json:"url"`
	Username    string `json:"username"`
	PasswordRef string `json:"passwordRef"`
}

func (w *WeCube) scrub(s string) string { return scrubText(w.Scrub, s) }

func (w *WeCube) client() *http.Client {
	if w.Client != nil {
		return w.Client
	}
	return &http.Client{Timeout: 15 * time.Second}
}

// weCubeEnvelope is how both services answer, success and failure alike
// with HTTP 200: platform-core {"code":0,"status":"OK","message":"","data":…}
// or {"code":N,"status":"ERROR","message":"…"} (platform-core/models/response.go,
// api/middleware/response.go at v4.0.0); auth-server {"status":"OK",
// "message":"success","data":…} (platform-auth-server/model/dto.go,
// api/support/response.go).
type weCubeEnvelope struct {
	Code    int             `json:"code"`
	Status  string          `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// weCubeToken is one entry of the login answer's data
// (platform-auth-server/model/model.go Jwt).
type weCubeToken struct {
	Expiration string `json:"expiration"`
	Token      string `json:"token"`
	TokenType  string `json:"tokenType"`
}

// login posts the credentials as the portal's login page does
// (platform-auth-server/model/dto.go CredentialDto; the password is
// checked with bcrypt against auth_sys_user, service/auth_service.go) and
// returns the access token.
func (w *WeCube) login(ctx context.Context, acc WeCubeAccount) (string, error) {
	pw, err := resolveSecretFor(w.Secrets, acc.PasswordRef, httpUse(acc.URL))
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(map[string]string{"username": acc.Username, "password": pw, "clientType": "USER", "nonce": ""})
	var tokens []weCubeToken
	if err := w.do(ctx, http.MethodPost, acc.URL+"/auth/v1/api/login", "", body, &tokens); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == ErrWeCubeAPI {
			return "", temporal.NewNonRetryableApplicationError(w.scrub(fmt.Sprintf("login as %s at %s refused: %s; check the account and its password secret %q (an account of the old WeCube: both share auth_server)",
				acc.Username, acc.URL, app.Message(), acc.PasswordRef)), ErrWeCubeLogin, nil)
		}
		return "", err
	}
	for _, t := range tokens {
		if t.TokenType == "accessToken" && t.Token != "" {
			return t.Token, nil
		}
	}
	return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("login as %s at %s answered OK without an accessToken", acc.Username, acc.URL), ErrWeCubeLogin, nil)
}

// do sends one request and decodes the envelope's data into out. HTTP
// errors and 5xx are retryable; an answer with status ERROR is not.
func (w *WeCube) do(ctx context.Context, method, url, token string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return invalid("%s %s: %v", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := w.client().Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	excerpt := w.scrub(text.Truncate(strings.TrimSpace(string(raw)), 300))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s %s: HTTP %d %s; platform-core refused the token: auth-server and platform-core must share JWT_SIGNING_KEY",
			method, url, resp.StatusCode, excerpt), ErrWeCubeAPI, nil)
	case resp.StatusCode >= 500:
		return fmt.Errorf("%s %s: HTTP %d %s", method, url, resp.StatusCode, excerpt)
	case resp.StatusCode != http.StatusOK:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s %s: HTTP %d %s", method, url, resp.StatusCode, excerpt), ErrWeCubeAPI, nil)
	}
	var env weCubeEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s %s: not a WeCube answer (%v): %s", method, url, err, excerpt)
	}
	if env.Status != "OK" {
		return temporal.NewNonRetryableApplicationError(w.scrub(fmt.Sprintf("%s %s: status %s code %d: %s", method, url, env.Status, env.Code, env.Message)), ErrWeCubeAPI, nil)
	}
	if out != nil && len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("%s %s: unexpected data (%v): %s", method, url, err, excerpt)
		}
	}
	return nil
}

// WeCubeLoginResult says who logged in.
type WeCubeLoginResult struct {
	contract.Outcome
}
