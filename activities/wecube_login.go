package activities

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"upgrader/internal/contract"
)

// WeCubeLogin makes three short requests, each bounded by the client's
// timeout, and heartbeats meanwhile (see heartbeating).
var _ = contract.Declare((*WeCube).WeCubeLogin, contract.Options{Heartbeat: callHeartbeat, Timeout: time.Minute})

// WeCubeLogin is the guide's check after the containers start (WeCube主页
// http://HOSTIP:8080 使用老版本账户密码登录验证): the portal serves its page, an
// account of the old WeCube logs in through it, and platform-core accepts
// the token it got (the same JWT seed on both sides). It changes nothing.
func (w *WeCube) WeCubeLogin(ctx context.Context, acc WeCubeAccount) (WeCubeLoginResult, error) {
	return heartbeating(ctx, acc, w.weCubeLogin)
}

func (w *WeCube) weCubeLogin(ctx context.Context, acc WeCubeAccount) (WeCubeLoginResult, error) {
	if err := w.page(ctx, acc.URL+"/"); err != nil {
		return WeCubeLoginResult{}, err
	}
	token, err := w.login(ctx, acc)
	if err != nil {
		return WeCubeLoginResult{}, err
	}
	var page struct {
		Contents []systemVariable `json:"contents"`
	}
	if err := w.do(ctx, http.MethodPost, acc.URL+"/platform/v1/system-variables/retrieve", token,
		[]byte(`{"filters":[],"paging":true,"pageable":{"startIndex":0,"pageSize":1}}`), &page); err != nil {
		return WeCubeLoginResult{}, err
	}
	var res WeCubeLoginResult
	res.Summary = fmt.Sprintf("%s serves the portal; %s logged in through it and platform-core took the token", acc.URL, acc.Username)
	return res, nil
}

// page checks that the portal answers its page with HTTP 200.
func (w *WeCube) page(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return invalid("GET %s: %v", url, err)
	}
	resp, err := w.client().Do(req)
	if err != nil {
		return fmt.Errorf("the portal does not answer: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the portal answers GET %s with HTTP %d %s", url, resp.StatusCode, strings.TrimSpace(resp.Status))
	}
	return nil
}
