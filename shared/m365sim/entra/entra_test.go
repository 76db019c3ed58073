package entra

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

const (
	pubClient  = directory.DemoClientID
	portal     = directory.DemoServiceAppID
	portalCB   = "https://localhost:8443/portal/auth/callback"
	graphScope = "Files.ReadWrite.All User.Read openid profile offline_access"
	verifier   = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more"
)

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		tenant, wantIssuer, wantSeg string
	}{
		{"contoso", e.base + "/" + directory.DemoContosoID + "/v2.0", directory.DemoContosoID},
		{"contoso.onmicrosoft.com", e.base + "/" + directory.DemoContosoID + "/v2.0", directory.DemoContosoID},
		{directory.DemoFabrikamID, e.base + "/" + directory.DemoFabrikamID + "/v2.0", directory.DemoFabrikamID},
		{"common", e.base + "/{tenantid}/v2.0", "common"},
		{"organizations", e.base + "/{tenantid}/v2.0", "organizations"},
	}
	for _, tt := range tests {
		t.Run(tt.tenant, func(t *testing.T) {
			resp, body := e.get(t, "/"+tt.tenant+"/v2.0/.well-known/openid-configuration")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(body), &doc); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"issuer":                        tt.wantIssuer,
				"authorization_endpoint":        e.base + "/" + tt.wantSeg + "/oauth2/v2.0/authorize",
				"token_endpoint":                e.base + "/" + tt.wantSeg + "/oauth2/v2.0/token",
				"device_authorization_endpoint": e.base + "/" + tt.wantSeg + "/oauth2/v2.0/devicecode",
				"jwks_uri":                      e.base + "/" + tt.wantSeg + "/discovery/v2.0/keys",
				"end_session_endpoint":          e.base + "/" + tt.wantSeg + "/oauth2/v2.0/logout",
			}
			for k, v := range want {
				if doc[k] != v {
					t.Errorf("%s = %v, want %s", k, doc[k], v)
				}
			}
			modes, _ := doc["response_modes_supported"].([]any)
			if !slices.Contains(modes, any("form_post")) {
				t.Errorf("response_modes_supported = %v, want form_post in it", modes)
			}
		})
	}
	t.Run("unknown tenant", func(t *testing.T) {
		resp, body := e.get(t, "/nowhere.example/v2.0/.well-known/openid-configuration")
		var m map[string]any
		_ = json.Unmarshal([]byte(body), &m)
		wantEntraError(t, resp.StatusCode, m, 400, "invalid_tenant", 90002)
	})
}

func TestKeys(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/common/discovery/v2.0/keys", "/contoso/discovery/v2.0/keys", "/" + directory.DemoContosoID + "/discovery/v2.0/keys"} {
		resp, body := e.get(t, path)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
		var set struct {
			Keys []struct{ Kid, Kty, Use, N, E, Issuer string }
		}
		if err := json.Unmarshal([]byte(body), &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("GET %s: %v %s", path, err, body)
		}
		k := set.Keys[0]
		if k.Kty != "RSA" || k.Use != "sig" || k.Issuer != e.base+"/{tenantid}/v2.0" {
			t.Errorf("key = %+v", k)
		}
		keys, _ := testKeys()
		if k.Kid != keys.KID() {
			t.Errorf("kid = %s, want %s", k.Kid, keys.KID())
		}
	}
	resp, body := e.get(t, "/nowhere/discovery/v2.0/keys")
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	wantEntraError(t, resp.StatusCode, m, 400, "invalid_tenant", 90002)
}

// TestJWKSVerifiesTokens checks a token against the published key only,
// as a resource server does.
func TestJWKSVerifiesTokens(t *testing.T) {
	e := newEnv(t)
	at, err := e.srv.MintAccessToken("contoso", "alice", pubClient, []string{"api://mapdrive/Mapdrive.Access"})
	if err != nil {
		t.Fatal(err)
	}
	_, body := e.get(t, "/common/discovery/v2.0/keys")
	var set struct{ Keys []struct{ Kid, N, E string } }
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatal(err)
	}
	pubs := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		n, _ := base64.RawURLEncoding.DecodeString(k.N)
		ex, _ := base64.RawURLEncoding.DecodeString(k.E)
		pubs[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(ex).Int64())}
	}
	tok, err := jwt.Parse(at, func(tk *jwt.Token) (any, error) {
		kid, _ := tk.Header["kid"].(string)
		if pubs[kid] == nil {
			return nil, fmt.Errorf("kid %q not in the JWKS", kid)
		}
		return pubs[kid], nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(e.base+"/"+directory.DemoContosoID+"/v2.0"),
		jwt.WithAudience(portal), jwt.WithTimeFunc(e.clock.Now))
	if err != nil || !tok.Valid {
		t.Fatalf("verify with the JWKS: %v", err)
	}
}

func TestRedirectAllowed(t *testing.T) {
	loop := []string{"http://localhost"}
	tests := []struct {
		reg  []string
		uri  string
		want bool
	}{
		{loop, "http://localhost:53111", true},
		{loop, "http://localhost:53111/", true},
		{loop, "http://localhost", true},
		{loop, "http://localhost:53111/callback", false},
		{loop, "https://localhost:53111", false},
		{loop, "http://127.0.0.1:53111", false},
		{loop, "http://evil.example:53111", false},
		{[]string{"http://localhost/cb"}, "http://localhost:9/cb", true},
		{[]string{portalCB}, portalCB, true},
		{[]string{portalCB}, "https://localhost:8444/portal/auth/callback", false},
		{[]string{portalCB}, portalCB + "/x", false},
		{[]string{portalCB}, "not a url", false},
		{[]string{portalCB}, portalCB + "#frag", false},
	}
	for _, tt := range tests {
		if got := redirectAllowed(tt.reg, tt.uri); got != tt.want {
			t.Errorf("redirectAllowed(%v, %q) = %v, want %v", tt.reg, tt.uri, got, tt.want)
		}
	}
}

func TestParseScope(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		raw      string
		resource string
		scopes   []string
		dflt     bool
		oidc     []string
		errCode  int
	}{
		{"Files.ReadWrite.All openid profile offline_access", directory.GraphAppID, []string{"Files.ReadWrite.All"}, false, []string{"openid", "profile", "offline_access"}, 0},
		{"files.readwrite.all User.Read", directory.GraphAppID, []string{"Files.ReadWrite.All", "User.Read"}, false, nil, 0},
		{"https://graph.microsoft.com/User.Read", directory.GraphAppID, []string{"User.Read"}, false, nil, 0},
		{"https://graph.microsoft.com/.default", directory.GraphAppID, nil, true, nil, 0},
		{"api://mapdrive/Mapdrive.Access offline_access", portal, []string{"Mapdrive.Access"}, false, []string{"offline_access"}, 0},
		{"api://" + portal + "/Mapdrive.Access", portal, []string{"Mapdrive.Access"}, false, nil, 0},
		{portal + "/.default", portal, nil, true, nil, 0},
		{"openid profile", directory.GraphAppID, nil, false, []string{"openid", "profile"}, 0},
		{"User.Read api://mapdrive/Mapdrive.Access", "", nil, false, nil, 28000},
		{"Files.Fly", "", nil, false, nil, 70011},
		{"api://mapdrive/Nope", "", nil, false, nil, 70011},
		{"https://graph.microsoft.com/.default User.Read", "", nil, false, nil, 70011},
		{"api://unknown/x", "", nil, false, nil, 500011},
		{"   ", "", nil, false, nil, 900144},
	}
	for _, tt := range tests {
		q, oe := e.srv.parseScope(tt.raw, "contoso")
		if tt.errCode != 0 {
			if oe == nil || oe.aadsts != tt.errCode {
				t.Errorf("parseScope(%q) = %v, want AADSTS%d", tt.raw, oe, tt.errCode)
			}
			continue
		}
		if oe != nil {
			t.Errorf("parseScope(%q): %v", tt.raw, oe)
			continue
		}
		if q.resource.ClientID != tt.resource || !slices.Equal(q.scopes, tt.scopes) || q.dflt != tt.dflt || !slices.Equal(q.oidc, tt.oidc) {
			t.Errorf("parseScope(%q) = %s %v dflt=%v oidc=%v; want %s %v %v %v", tt.raw, q.resource.ClientID, q.scopes, q.dflt, q.oidc,
				tt.resource, tt.scopes, tt.dflt, tt.oidc)
		}
	}
}

// authorize runs the sign-in page as a browser and returns the redirect
// parameters the app receives (query mode).
func (e *env) authorize(t *testing.T, tenant string, p url.Values, upn string) url.Values {
	t.Helper()
	page := e.base + "/" + tenant + "/oauth2/v2.0/authorize?" + p.Encode()
	resp, body := e.get(t, page)
	if resp.StatusCode != 200 {
		t.Fatalf("authorize page: %d %s", resp.StatusCode, body)
	}
	resp = e.submit(t, page, firstForm(t, body), url.Values{"pick": {upn}})
	body = readBody(t, resp)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-in POST = %d, want 302: %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

func pkceParams(client, redirect, scope string) url.Values {
	return url.Values{
		"client_id": {client}, "response_type": {"code"}, "redirect_uri": {redirect}, "scope": {scope},
		"state": {"st-123"}, "nonce": {"n-456"}, "code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"},
	}
}

func TestAuthCodeFlow(t *testing.T) {
	e := newEnv(t)
	redirect := "http://localhost:40123"
	q := e.authorize(t, "contoso", pkceParams(pubClient, redirect, graphScope), "alice@contoso.com")
	if q.Get("state") != "st-123" || q.Get("code") == "" {
		t.Fatalf("redirect params = %v", q)
	}
	redeem := url.Values{"grant_type": {"authorization_code"}, "client_id": {pubClient}, "code": {q.Get("code")},
		"redirect_uri": {redirect}, "code_verifier": {verifier}, "scope": {graphScope}, "client_info": {"1"}}
	status, body := e.post(t, "/contoso/oauth2/v2.0/token", redeem)
	if status != 200 {
		t.Fatalf("redeem = %d %v", status, body)
	}
	for _, k := range []string{"access_token", "refresh_token", "id_token", "client_info"} {
		if s, _ := body[k].(string); s == "" {
			t.Errorf("%s missing", k)
		}
	}
	if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["ext_expires_in"] != float64(3600) {
		t.Errorf("token_type/expires = %v %v %v", body["token_type"], body["expires_in"], body["ext_expires_in"])
	}
	if body["scope"] != "Files.ReadWrite.All User.Read openid profile" {
		t.Errorf("scope = %q", body["scope"])
	}
	id := e.claims(t, body["id_token"].(string))
	alice := e.dir.Tenant("contoso").User("alice")
	wantID := map[string]any{"aud": pubClient, "iss": e.base + "/" + directory.DemoContosoID + "/v2.0", "tid": directory.DemoContosoID,
		"oid": alice.ID, "preferred_username": "alice@contoso.com", "name": "Alice Anders", "nonce": "n-456", "ver": "2.0"}
	for k, v := range wantID {
		if id[k] != v {
			t.Errorf("id_token %s = %v, want %v", k, id[k], v)
		}
	}
	ci, _ := base64.RawURLEncoding.DecodeString(body["client_info"].(string))
	var cim map[string]string
	if err := json.Unmarshal(ci, &cim); err != nil || cim["uid"] != alice.ID || cim["utid"] != directory.DemoContosoID {
		t.Errorf("client_info = %s (%v)", ci, err)
	}

	t.Run("reused code", func(t *testing.T) {
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", redeem)
		wantEntraError(t, status, body, 400, "invalid_grant", 54005)
	})
	t.Run("bad verifier", func(t *testing.T) {
		q := e.authorize(t, "contoso", pkceParams(pubClient, redirect, graphScope), "alice")
		r := cloneWith(redeem, "code", q.Get("code"), "code_verifier", strings.Repeat("x", 50))
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", r)
		wantEntraError(t, status, body, 400, "invalid_grant", 501481)
	})
	t.Run("missing verifier", func(t *testing.T) {
		q := e.authorize(t, "contoso", pkceParams(pubClient, redirect, graphScope), "alice")
		r := cloneWith(redeem, "code", q.Get("code"), "code_verifier", "")
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", r)
		wantEntraError(t, status, body, 400, "invalid_grant", 501481)
	})
	t.Run("plain PKCE", func(t *testing.T) {
		p := pkceParams(pubClient, redirect, graphScope)
		p.Set("code_challenge", verifier)
		p.Set("code_challenge_method", "plain")
		q := e.authorize(t, "contoso", p, "alice")
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", cloneWith(redeem, "code", q.Get("code")))
		if status != 200 {
			t.Errorf("plain PKCE redeem = %d %v", status, body)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		q := e.authorize(t, "contoso", pkceParams(pubClient, redirect, graphScope), "alice")
		e.clock.Advance(11 * time.Minute)
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", cloneWith(redeem, "code", q.Get("code")))
		wantEntraError(t, status, body, 400, "invalid_grant", 70008)
	})
	t.Run("redirect differs from authorize", func(t *testing.T) {
		q := e.authorize(t, "contoso", pkceParams(pubClient, redirect, graphScope), "alice")
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", cloneWith(redeem, "code", q.Get("code"), "redirect_uri", "http://localhost:1"))
		wantEntraError(t, status, body, 400, "invalid_grant", 500112)
	})
	t.Run("other client", func(t *testing.T) {
		q := e.authorize(t, "contoso", pkceParams(pubClient, redirect, graphScope), "alice")
		r := cloneWith(redeem, "code", q.Get("code"), "client_id", portal, "client_secret", directory.DemoServiceSecret)
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", r)
		wantEntraError(t, status, body, 400, "invalid_grant", 70000)
	})
	t.Run("garbage code", func(t *testing.T) {
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", cloneWith(redeem, "code", "nonsense"))
		wantEntraError(t, status, body, 400, "invalid_request", 9002313)
	})
}

func cloneWith(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return out
}

func TestConfidentialClientAuth(t *testing.T) {
	e := newEnv(t)
	scope := "User.Read openid profile offline_access"
	code := func() string {
		return e.authorize(t, "contoso", pkceParams(portal, portalCB, scope), "bob").Get("code")
	}
	base := url.Values{"grant_type": {"authorization_code"}, "client_id": {portal}, "redirect_uri": {portalCB},
		"code_verifier": {verifier}, "scope": {scope}}
	t.Run("secret in body", func(t *testing.T) {
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", cloneWith(base, "code", code(), "client_secret", directory.DemoServiceSecret))
		if status != 200 {
			t.Fatalf("= %d %v", status, body)
		}
		if c := e.claims(t, body["access_token"].(string)); c["azpacr"] != "1" || c["aud"] != directory.GraphAppID {
			t.Errorf("azpacr/aud = %v/%v", c["azpacr"], c["aud"])
		}
	})
	t.Run("secret in basic auth", func(t *testing.T) {
		form := cloneWith(base, "code", code(), "client_id", "")
		req, _ := http.NewRequest("POST", e.base+"/contoso/oauth2/v2.0/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(portal), url.QueryEscape(directory.DemoServiceSecret))
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if b := readBody(t, resp); resp.StatusCode != 200 {
			t.Fatalf("= %d %s", resp.StatusCode, b)
		}
	})
	t.Run("no secret", func(t *testing.T) {
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", cloneWith(base, "code", code()))
		wantEntraError(t, status, body, 401, "invalid_client", 7000218)
	})
	t.Run("wrong secret", func(t *testing.T) {
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", cloneWith(base, "code", code(), "client_secret", "guess"))
		wantEntraError(t, status, body, 401, "invalid_client", 7000215)
	})
}

func TestTokenEndpointErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		path   string
		form   url.Values
		status int
		err    string
		code   int
	}{
		{"missing grant_type", "/contoso", url.Values{"client_id": {pubClient}}, 400, "invalid_request", 900144},
		{"unsupported grant", "/contoso", url.Values{"grant_type": {"password"}, "client_id": {pubClient}}, 400, "unsupported_grant_type", 70003},
		{"client credentials", "/contoso", url.Values{"grant_type": {"client_credentials"}, "client_id": {portal}, "client_secret": {directory.DemoServiceSecret}, "scope": {"https://graph.microsoft.com/.default"}}, 400, "unauthorized_client", 70003},
		{"unknown client", "/contoso", url.Values{"grant_type": {"refresh_token"}, "client_id": {"11111111-2222-3333-4444-555555555555"}, "refresh_token": {"x"}}, 400, "unauthorized_client", 700016},
		{"missing client", "/contoso", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, 400, "invalid_request", 900144},
		{"public client with secret", "/contoso", url.Values{"grant_type": {"refresh_token"}, "client_id": {pubClient}, "client_secret": {"s"}, "refresh_token": {"x"}}, 401, "invalid_client", 700025},
		{"unknown tenant", "/nowhere", url.Values{"grant_type": {"refresh_token"}, "client_id": {pubClient}, "refresh_token": {"x"}}, 400, "invalid_request", 90002},
		{"garbage refresh token", "/contoso", url.Values{"grant_type": {"refresh_token"}, "client_id": {pubClient}, "refresh_token": {"x"}, "scope": {"User.Read"}}, 400, "invalid_request", 9002313},
		{"missing refresh token", "/contoso", url.Values{"grant_type": {"refresh_token"}, "client_id": {pubClient}}, 400, "invalid_request", 900144},
		{"missing code", "/contoso", url.Values{"grant_type": {"authorization_code"}, "client_id": {pubClient}}, 400, "invalid_request", 900144},
		{"missing device code", "/contoso", url.Values{"grant_type": {grantDeviceCode}, "client_id": {pubClient}}, 400, "invalid_request", 900144},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.post(t, tt.path+"/oauth2/v2.0/token", tt.form)
			wantEntraError(t, status, body, tt.status, tt.err, tt.code)
		})
	}
	raw := func(method, ctype, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, e.base+"/contoso/oauth2/v2.0/token", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.Header.Set("client-request-id", "corr-1")
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(readBody(t, resp)), &m); err != nil {
			t.Fatalf("%s body not JSON: %v", method, err)
		}
		return resp.StatusCode, m
	}
	t.Run("GET", func(t *testing.T) {
		status, body := raw("GET", "", "")
		wantEntraError(t, status, body, 400, "invalid_request", 900561)
		if body["correlation_id"] != "corr-1" {
			t.Errorf("correlation_id = %v, want the client-request-id", body["correlation_id"])
		}
	})
	t.Run("bad encoding", func(t *testing.T) {
		status, body := raw("POST", "application/x-www-form-urlencoded", "grant_type=%zz")
		wantEntraError(t, status, body, 400, "invalid_request", 9002313)
	})
	t.Run("duplicate parameter", func(t *testing.T) {
		status, body := raw("POST", "application/x-www-form-urlencoded", "grant_type=a&grant_type=b")
		wantEntraError(t, status, body, 400, "invalid_request", 9002313)
	})
	t.Run("JSON body", func(t *testing.T) {
		status, body := raw("POST", "application/json", `{"grant_type":"refresh_token"}`)
		wantEntraError(t, status, body, 400, "invalid_request", 900144)
	})
}

func TestAuthorizeErrors(t *testing.T) {
	e := newEnv(t)
	good := pkceParams(pubClient, "http://localhost:5000", graphScope)
	t.Run("page errors", func(t *testing.T) {
		tests := []struct {
			name   string
			tenant string
			p      url.Values
			code   string
		}{
			{"unknown tenant", "nowhere", good, "AADSTS90002"},
			{"unknown client", "contoso", cloneWith(good, "client_id", "11111111-2222-3333-4444-555555555555"), "AADSTS700016"},
			{"missing client", "contoso", cloneWith(good, "client_id", ""), "AADSTS900144"},
			{"bad redirect", "contoso", cloneWith(good, "redirect_uri", "https://evil.example/cb"), "AADSTS50011"},
			{"loopback with path", "contoso", cloneWith(good, "redirect_uri", "http://localhost:5000/x"), "AADSTS50011"},
		}
		for _, tt := range tests {
			resp, body := e.get(t, "/"+tt.tenant+"/oauth2/v2.0/authorize?"+tt.p.Encode())
			if resp.StatusCode != 400 || !strings.Contains(body, tt.code) {
				t.Errorf("%s: status %d, page has %s: %v", tt.name, resp.StatusCode, tt.code, strings.Contains(body, tt.code))
			}
			if resp.Header.Get("Location") != "" {
				t.Errorf("%s: redirected to %s; an unverified redirect URI must not be used", tt.name, resp.Header.Get("Location"))
			}
		}
	})
	t.Run("redirect errors", func(t *testing.T) {
		tests := []struct {
			name  string
			p     url.Values
			error string
			code  string
		}{
			{"unknown scope", cloneWith(good, "scope", "Files.Fly openid"), "invalid_scope", "AADSTS70011"},
			{"two resources", cloneWith(good, "scope", "User.Read api://mapdrive/Mapdrive.Access"), "invalid_scope", "AADSTS28000"},
			{"prompt none", cloneWith(good, "prompt", "none"), "login_required", "AADSTS50058"},
			{"token response type", cloneWith(good, "response_type", "token"), "unsupported_response_type", "AADSTS700054"},
			{"bad challenge method", cloneWith(good, "code_challenge_method", "S512"), "invalid_request", "AADSTS501491"},
		}
		for _, tt := range tests {
			resp, body := e.get(t, "/contoso/oauth2/v2.0/authorize?"+tt.p.Encode())
			if resp.StatusCode != 302 {
				t.Errorf("%s: status %d: %s", tt.name, resp.StatusCode, body)
				continue
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			q := loc.Query()
			if q.Get("error") != tt.error || !strings.HasPrefix(q.Get("error_description"), tt.code+":") || q.Get("state") != "st-123" {
				t.Errorf("%s: redirect %v, want error %s %s and the state", tt.name, q, tt.error, tt.code)
			}
		}
	})
	t.Run("unknown user stays on the page", func(t *testing.T) {
		page := e.base + "/contoso/oauth2/v2.0/authorize?" + good.Encode()
		_, body := e.get(t, page)
		resp := e.submit(t, page, firstForm(t, body), url.Values{"login": {"mallory@contoso.com"}})
		b := readBody(t, resp)
		if resp.StatusCode != 200 || !strings.Contains(b, "does not exist") {
			t.Errorf("status %d, page:\n%s", resp.StatusCode, b)
		}
	})
	t.Run("form_post", func(t *testing.T) {
		p := cloneWith(good, "response_mode", "form_post")
		page := e.base + "/contoso/oauth2/v2.0/authorize?" + p.Encode()
		_, body := e.get(t, page)
		if !strings.Contains(body, "Alice Anders") || !strings.Contains(body, "bob@contoso.com") {
			t.Errorf("sign-in page does not list the tenant's users:\n%s", body)
		}
		resp := e.submit(t, page, firstForm(t, body), url.Values{"pick": {"alice@contoso.com"}})
		b := readBody(t, resp)
		f := firstForm(t, b)
		if resp.StatusCode != 200 || f.method != "POST" || f.action != "http://localhost:5000" || f.values.Get("code") == "" || f.values.Get("state") != "st-123" {
			t.Errorf("form_post page: %d %+v", resp.StatusCode, f)
		}
		if !strings.Contains(b, "submit()") {
			t.Errorf("form_post page does not submit itself")
		}
	})
	t.Run("common asks for a UPN", func(t *testing.T) {
		page := e.base + "/organizations/oauth2/v2.0/authorize?" + good.Encode()
		_, body := e.get(t, page)
		if strings.Contains(body, "Alice Anders") {
			t.Errorf("the organizations page lists a tenant's users")
		}
		resp := e.submit(t, page, firstForm(t, body), url.Values{"login": {"frank@fabrikam.com"}})
		readBody(t, resp)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		code := loc.Query().Get("code")
		status, tok := e.post(t, "/organizations/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {pubClient},
			"code": {code}, "redirect_uri": {"http://localhost:5000"}, "code_verifier": {verifier}})
		if status != 200 {
			t.Fatalf("redeem = %d %v", status, tok)
		}
		if c := e.claims(t, tok["access_token"].(string)); c["tid"] != directory.DemoFabrikamID || c["iss"] != e.base+"/"+directory.DemoFabrikamID+"/v2.0" {
			t.Errorf("tid/iss = %v %v", c["tid"], c["iss"])
		}
	})
	t.Run("logout", func(t *testing.T) {
		resp, body := e.get(t, "/contoso/oauth2/v2.0/logout")
		if resp.StatusCode != 200 || !strings.Contains(body, "signed out") {
			t.Errorf("logout page = %d", resp.StatusCode)
		}
		resp, _ = e.get(t, "/contoso/oauth2/v2.0/logout?client_id="+portal+"&post_logout_redirect_uri="+url.QueryEscape(portalCB))
		if resp.StatusCode != 302 || resp.Header.Get("Location") != portalCB {
			t.Errorf("logout with registered redirect = %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, _ = e.get(t, "/contoso/oauth2/v2.0/logout?client_id="+portal+"&post_logout_redirect_uri="+url.QueryEscape("https://evil.example"))
		if resp.StatusCode != 200 {
			t.Errorf("logout with foreign redirect = %d, want the page", resp.StatusCode)
		}
	})
}

// signIn runs the authorization code flow for the public client and
// returns the token response.
func (e *env) signIn(t *testing.T, tenant, upn, scope string) map[string]any {
	t.Helper()
	redirect := "http://localhost:40555"
	q := e.authorize(t, tenant, pkceParams(pubClient, redirect, scope), upn)
	status, body := e.post(t, "/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {pubClient},
		"code": {q.Get("code")}, "redirect_uri": {redirect}, "code_verifier": {verifier}, "scope": {scope}, "client_info": {"1"}})
	if status != 200 {
		t.Fatalf("redeem = %d %v", status, body)
	}
	return body
}

func TestRefreshToken(t *testing.T) {
	e := newEnv(t)
	tok := e.signIn(t, "contoso", "admin@contoso.com", graphScope)
	rt := tok["refresh_token"].(string)
	refresh := func(rt, scope string) (int, map[string]any) {
		return e.post(t, "/contoso/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {pubClient},
			"refresh_token": {rt}, "scope": {scope}, "client_info": {"1"}})
	}
	t.Run("same resource", func(t *testing.T) {
		status, body := refresh(rt, graphScope)
		if status != 200 || body["refresh_token"] == "" || body["id_token"] == "" {
			t.Fatalf("= %d %v", status, body)
		}
		if c := e.claims(t, body["access_token"].(string)); c["aud"] != directory.GraphAppID {
			t.Errorf("aud = %v", c["aud"])
		}
	})
	t.Run("other resource", func(t *testing.T) {
		status, body := refresh(rt, "api://mapdrive/Mapdrive.Access openid profile offline_access")
		if status != 200 {
			t.Fatalf("= %d %v", status, body)
		}
		c := e.claims(t, body["access_token"].(string))
		if c["aud"] != portal || c["scp"] != "Mapdrive.Access" || !slices.Equal(toStrings(c["roles"]), []string{directory.DemoAdminRole}) {
			t.Errorf("aud/scp/roles = %v %v %v", c["aud"], c["scp"], c["roles"])
		}
		if body["scope"] != "api://mapdrive/Mapdrive.Access openid profile" {
			t.Errorf("scope = %v", body["scope"])
		}
	})
	t.Run(".default", func(t *testing.T) {
		status, body := refresh(rt, "https://graph.microsoft.com/.default offline_access")
		if status != 200 {
			t.Fatalf("= %d %v", status, body)
		}
		c := e.claims(t, body["access_token"].(string))
		want := "User.Read Files.ReadWrite.All Sites.ReadWrite.All" // in the order Graph registers them
		if c["scp"] != want {
			t.Errorf("scp = %v, want every consented scope %q", c["scp"], want)
		}
	})
	t.Run("never consented", func(t *testing.T) {
		status, body := refresh(rt, "Group.Read.All offline_access")
		wantEntraError(t, status, body, 400, "invalid_grant", 65001)
		if body["suberror"] != "consent_required" {
			t.Errorf("suberror = %v", body["suberror"])
		}
	})
	t.Run("other client", func(t *testing.T) {
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {portal},
			"client_secret": {directory.DemoServiceSecret}, "refresh_token": {rt}, "scope": {"User.Read"}})
		wantEntraError(t, status, body, 400, "invalid_grant", 70000)
	})
	t.Run("other tenant", func(t *testing.T) {
		status, body := e.post(t, "/fabrikam/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {pubClient},
			"refresh_token": {rt}, "scope": {"User.Read"}})
		wantEntraError(t, status, body, 400, "invalid_grant", 70000)
	})
	t.Run("revoked", func(t *testing.T) {
		tok := e.signIn(t, "contoso", "bob", graphScope)
		if err := e.srv.RevokeUser("contoso", "bob"); err != nil {
			t.Fatal(err)
		}
		status, body := refresh(tok["refresh_token"].(string), graphScope)
		wantEntraError(t, status, body, 400, "invalid_grant", 50173)
		// A fresh sign-in works again.
		tok = e.signIn(t, "contoso", "bob", graphScope)
		if status, body := refresh(tok["refresh_token"].(string), graphScope); status != 200 {
			t.Errorf("refresh after new sign-in = %d %v", status, body)
		}
		// Alice is not affected.
		if status, _ := refresh(rt, graphScope); status != 200 {
			t.Errorf("another user's token was revoked too")
		}
	})
	t.Run("expired by inactivity", func(t *testing.T) {
		tok := e.signIn(t, "contoso", "alice", graphScope)
		e.clock.Advance(91 * 24 * time.Hour)
		status, body := refresh(tok["refresh_token"].(string), graphScope)
		wantEntraError(t, status, body, 400, "invalid_grant", 700082)
	})
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestAccessTokenClaims(t *testing.T) {
	e := newEnv(t)
	ten := e.dir.Tenant("contoso")
	admin := ten.User("admin")
	tests := []struct {
		name   string
		scopes []string
		aud    string
		scp    string
		roles  []string
	}{
		{"graph", []string{"Files.ReadWrite.All", "User.Read"}, directory.GraphAppID, "Files.ReadWrite.All User.Read openid profile", nil},
		{"graph .default", []string{"https://graph.microsoft.com/.default"}, directory.GraphAppID, "User.Read Files.ReadWrite.All Sites.ReadWrite.All openid profile", nil},
		{"api", []string{"api://mapdrive/Mapdrive.Access"}, portal, "Mapdrive.Access", []string{directory.DemoAdminRole}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.clock.Now()
			raw, err := e.srv.MintAccessToken(directory.DemoContosoID, admin.ID, pubClient, tt.scopes)
			if err != nil {
				t.Fatal(err)
			}
			c := e.claims(t, raw)
			want := map[string]any{
				"aud": tt.aud, "iss": e.base + "/" + directory.DemoContosoID + "/v2.0", "tid": directory.DemoContosoID,
				"oid": admin.ID, "azp": pubClient, "appid": nil, "scp": tt.scp, "ver": "2.0",
				"upn": "admin@contoso.com", "preferred_username": "admin@contoso.com", "name": "Adele Admin",
				"iat": float64(before.Unix()), "nbf": float64(before.Unix()), "exp": float64(before.Add(time.Hour).Unix()),
			}
			for k, v := range want {
				if c[k] != v {
					t.Errorf("%s = %v, want %v", k, c[k], v)
				}
			}
			for _, k := range []string{"sub", "uti"} {
				if s, _ := c[k].(string); s == "" {
					t.Errorf("%s missing", k)
				}
			}
			if !slices.Equal(toStrings(c["roles"]), tt.roles) && !(len(tt.roles) == 0 && c["roles"] == nil) {
				t.Errorf("roles = %v, want %v", c["roles"], tt.roles)
			}
			var wantGroups []string
			for _, g := range ten.GroupsOf(admin) {
				wantGroups = append(wantGroups, g.ID)
			}
			if got := toStrings(c["groups"]); !slices.Equal(got, wantGroups) || len(got) == 0 {
				t.Errorf("groups = %v, want %v", got, wantGroups)
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		bad := []struct {
			tenant, user, client string
			scopes               []string
			want                 string
		}{
			{"nowhere", "alice", pubClient, []string{"User.Read"}, "AADSTS90002"},
			{"contoso", "mallory", pubClient, []string{"User.Read"}, "AADSTS50034"},
			{"contoso", "alice", "11111111-2222-3333-4444-555555555555", []string{"User.Read"}, "AADSTS700016"},
			{"contoso", "alice", pubClient, []string{"Files.Fly"}, "AADSTS70011"},
			{"contoso", "alice", pubClient, []string{"User.Read", "api://mapdrive/Mapdrive.Access"}, "AADSTS28000"},
			{"northwind", "nina", pubClient, []string{"Files.ReadWrite.All"}, "AADSTS65001"},
		}
		for _, b := range bad {
			_, err := e.srv.MintAccessToken(b.tenant, b.user, b.client, b.scopes)
			if err == nil || !strings.Contains(err.Error(), b.want) {
				t.Errorf("MintAccessToken(%s, %s, %s, %v) = %v, want %s", b.tenant, b.user, b.client, b.scopes, err, b.want)
			}
		}
	})
}

func TestGroupsOverage(t *testing.T) {
	seed := &directory.Seed{Tenants: []directory.Tenant{{Name: "big", Domains: []string{"big.example"},
		Users: []directory.User{{UserName: "many"}, {UserName: "few"}}}}}
	for i := range 201 {
		members := []string{"many"}
		if i < 200 {
			members = append(members, "few")
		}
		seed.Tenants[0].Groups = append(seed.Tenants[0].Groups, directory.Group{DisplayName: "g" + itoa(i), Members: members})
	}
	seed.Apps = []directory.App{{ClientID: pubClient, DisplayName: "Mapdrive", PublicClient: true}}
	e := newEnvSeed(t, seed, t.TempDir())
	raw, err := e.srv.MintAccessToken("big", "many", pubClient, []string{"User.Read"})
	if err != nil {
		t.Fatal(err)
	}
	c := e.claims(t, raw)
	if c["groups"] != nil {
		t.Errorf("201 groups: groups claim present")
	}
	names, _ := c["_claim_names"].(map[string]any)
	sources, _ := c["_claim_sources"].(map[string]any)
	if names["groups"] != "src1" || sources["src1"] == nil {
		t.Errorf("_claim_names/_claim_sources = %v %v", names, sources)
	}
	raw, _ = e.srv.MintAccessToken("big", "few", pubClient, []string{"User.Read"})
	if got := toStrings(e.claims(t, raw)["groups"]); len(got) != 200 {
		t.Errorf("200 groups: groups claim has %d", len(got))
	}
}

func TestConsent(t *testing.T) {
	dataDir := t.TempDir()
	e := newEnvSeed(t, directory.DemoSeed(), dataDir)
	t.Run("blocked tenant at authorize", func(t *testing.T) {
		p := pkceParams(pubClient, "http://localhost:5001", graphScope)
		page := e.base + "/northwind/oauth2/v2.0/authorize?" + p.Encode()
		_, body := e.get(t, page)
		resp := e.submit(t, page, firstForm(t, body), url.Values{"pick": {"nina@northwind.com"}})
		b := readBody(t, resp)
		if !strings.Contains(b, "Need admin approval") || !strings.Contains(b, "AADSTS90094") {
			t.Fatalf("no admin-approval page:\n%s", b)
		}
		// Its button returns to the app with the error (query mode: a GET
		// form to the redirect URI).
		f := firstForm(t, b)
		if f.method != "GET" || f.action != "http://localhost:5001" || f.values.Get("error") != "access_denied" ||
			!strings.HasPrefix(f.values.Get("error_description"), "AADSTS90094") || f.values.Get("state") != "st-123" {
			t.Errorf("return-to-app form = %+v", f)
		}
	})
	t.Run("blocked tenant allows admin-consented scopes", func(t *testing.T) {
		// northwind has no admin consent at all: even User.Read is blocked,
		// but a sign-in with only OIDC scopes is not a consent question.
		tok := e.signIn(t, "northwind", "nina", "openid profile offline_access")
		if c := e.claims(t, tok["access_token"].(string)); c["aud"] != directory.GraphAppID || c["scp"] != "openid profile" {
			t.Errorf("aud/scp = %v %v", c["aud"], c["scp"])
		}
	})
	t.Run("admin-only scope where users may consent", func(t *testing.T) {
		p := pkceParams(portal, portalCB, "User.Read.All openid")
		page := e.base + "/contoso/oauth2/v2.0/authorize?" + p.Encode()
		_, body := e.get(t, page)
		resp := e.submit(t, page, firstForm(t, body), url.Values{"pick": {"bob"}})
		if b := readBody(t, resp); !strings.Contains(b, "AADSTS90094") {
			t.Errorf("User.Read.All without admin consent: no admin-approval page:\n%s", b)
		}
		if _, err := e.srv.MintAccessToken("contoso", "bob", portal, []string{"User.Read.All"}); err == nil || !strings.Contains(err.Error(), "AADSTS65001") {
			t.Errorf("MintAccessToken(User.Read.All) = %v, want AADSTS65001", err)
		}
	})
	var rt string
	t.Run("user consent recorded at sign-in", func(t *testing.T) {
		// The portal has no admin consent for Files.Read in contoso, which
		// lets users consent: bob's sign-in records it.
		q := e.authorize(t, "contoso", pkceParams(portal, portalCB, "Files.Read openid offline_access"), "bob")
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {portal},
			"client_secret": {directory.DemoServiceSecret}, "code": {q.Get("code")}, "redirect_uri": {portalCB}, "code_verifier": {verifier}})
		if status != 200 {
			t.Fatalf("= %d %v", status, body)
		}
		rt = body["refresh_token"].(string)
		// Files.ReadWrite was never consented: a refresh cannot add it.
		status, body = e.post(t, "/contoso/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {portal},
			"client_secret": {directory.DemoServiceSecret}, "refresh_token": {rt}, "scope": {"Files.ReadWrite"}})
		wantEntraError(t, status, body, 400, "invalid_grant", 65001)
	})
	t.Run("restart keeps refresh tokens and consents", func(t *testing.T) {
		if err := e.srv.Close(); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dataDir, stateFile))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), rt) {
			t.Errorf("state file holds a refresh token in clear")
		}
		e2 := newEnvSeed(t, directory.DemoSeed(), dataDir)
		status, body := e2.post(t, "/contoso/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {portal},
			"client_secret": {directory.DemoServiceSecret}, "refresh_token": {rt}, "scope": {"Files.Read offline_access"}})
		if status != 200 {
			t.Fatalf("refresh after restart = %d %v", status, body)
		}
		if c := e2.claims(t, body["access_token"].(string)); c["scp"] != "Files.Read" {
			t.Errorf("scp = %v", c["scp"])
		}
	})
}
