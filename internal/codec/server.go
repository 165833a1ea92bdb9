package codec

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// ServerOptions configure the codec server.
type ServerOptions struct {
	// Origins may call the server from a browser: the Web UI's origin
	// (scheme://host:port), as the browser sends it.
	Origins []string
	// Token, when set, must come as "Authorization: Bearer <token>".
	Token string
}

// Handler serves POST /encode and /decode (Temporal's remote codec
// protocol, which the Web UI and `temporal --codec-endpoint` speak), with
// CORS for the given origins. Anyone who reaches it can decrypt, so bind it
// where only operators can (loopback, or behind the UI's authentication),
// or set a token.
func (c *Codec) Handler(o ServerOptions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && slices.Contains(o.Origins, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Add("Vary", "Origin")
		} else if origin != "" {
			http.Error(w, "origin "+origin+" may not use this codec server", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return
		}
		if o.Token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(o.Token)) != 1 {
				http.Error(w, "a bearer token is required", http.StatusUnauthorized)
				return
			}
		}
		if r.Method != http.MethodPost || !(strings.HasSuffix(r.URL.Path, "/encode") || strings.HasSuffix(r.URL.Path, "/decode")) {
			http.NotFound(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	})
}
