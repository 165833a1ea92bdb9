package secret_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/internal/secret"
)

func TestEveryEncodingOfASecretInsideOtherTextIsFound(t *testing.T) {
	const pw = `p@ss "w<rd>&/1`
	for name, text := range map[string]string{
		"raw":           "dsn root:" + pw + "@tcp(db)",
		"json":          func() string { b, _ := json.Marshal(map[string]string{"pw": pw}); return string(b) }(),
		"url":           "https://h/?pw=" + url.QueryEscape(pw),
		"basic-auth-0":  "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(pw+":x")),
		"basic-auth-1":  "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+pw)),
		"basic-auth-2":  "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("ad:"+pw)),
		"basic-auth-3":  "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("adm:"+pw)),
		"base64url-mid": base64.URLEncoding.EncodeToString([]byte("prefix" + pw + "suffix")),
	} {
		require.NotEmpty(t, secret.Find(text, pw), "%s: %s", name, text)
	}
	require.Empty(t, secret.Find("nothing here "+base64.StdEncoding.EncodeToString([]byte("other")), pw))
	for _, f := range secret.Forms(pw) {
		require.False(t, strings.HasPrefix(f.Name, "base64") && len(f.Text) < secret.MinBase64Run, f)
	}
}
