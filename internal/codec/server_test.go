package codec_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"upgrader/internal/codec"
)

func TestCodecServerDecodesForTheUIOriginAndTheTokenHolderOnly(t *testing.T) {
	r, err := codec.ParseRing(ring(t, "k1"))
	require.NoError(t, err)
	c := codec.New(r)
	srv := httptest.NewServer(c.Handler(codec.ServerOptions{Origins: []string{"http://127.0.0.1:8233"}, Token: "tok-123456"}))
	defer srv.Close()
	p, err := c.DataConverter().ToPayload("hello")
	require.NoError(t, err)

	withToken := func(tok string) converter.PayloadCodec {
		return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: srv.URL,
			ModifyRequest: func(r *http.Request) error { r.Header.Set("Authorization", "Bearer "+tok); return nil }})
	}
	dec, err := withToken("tok-123456").Decode([]*commonpb.Payload{p})
	require.NoError(t, err)
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(dec[0], &s))
	require.Equal(t, "hello", s)
	_, err = withToken("wrong").Decode([]*commonpb.Payload{p})
	require.ErrorContains(t, err, "a bearer token is required")

	// The browser's preflight from the UI's origin is answered; another
	// origin is refused.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	req.Header.Set("Origin", "http://127.0.0.1:8233")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "http://127.0.0.1:8233", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "X-Namespace")
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/decode", strings.NewReader("{}"))
	req.Header.Set("Origin", "http://evil.example")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}
