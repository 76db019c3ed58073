package authn

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
)

// keyIssuers records the "issuer" Entra publishes with each JWKS key: a
// key whose issuer holds the "{tenantid}" template may sign for any
// tenant, one with a fixed tenant only for that issuer. keyfunc does not
// keep the field, so issuerTap reads it from the JWKS responses keyfunc
// fetches.
type keyIssuers struct {
	mu  sync.Mutex        // guards iss
	iss map[string]string // kid → issuer ("" when the key names none)
}

func (k *keyIssuers) get(kid string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.iss[kid]
	return v, ok
}

// allows reports whether the key kid may sign tokens of issuer iss for
// tenant tid.
func (k *keyIssuers) allows(kid, tid, iss string) bool {
	want, ok := k.get(kid)
	if !ok || want == "" {
		return true
	}
	return strings.ReplaceAll(want, "{tenantid}", tid) == iss
}

// issuerTap is the JWKS client's transport: it passes responses through
// unchanged and records each key's issuer.
type issuerTap struct {
	next http.RoundTripper
	keys *keyIssuers
}

func (t issuerTap) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var doc struct {
		Keys []struct {
			Kid    string `json:"kid"`
			Issuer string `json:"issuer"`
		} `json:"keys"`
	}
	if json.Unmarshal(body, &doc) == nil {
		m := make(map[string]string, len(doc.Keys))
		for _, k := range doc.Keys {
			m[k.Kid] = k.Issuer
		}
		t.keys.mu.Lock()
		t.keys.iss = m
		t.keys.mu.Unlock()
	}
	return resp, nil
}
