package portal

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// TestAuthorizeRequest: the portal asks Entra for a code with PKCE S256,
// a nonce and a state, for its own redirect URI.
func TestAuthorizeRequest(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	p := e.browser().get("/portal/auth/login", false)
	u, err := url.Parse(p.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Path != "/organizations/oauth2/v2.0/authorize" || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
		len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || len(q.Get("state")) < 40 || q.Get("client_id") != directory.DemoServiceAppID ||
		q.Get("redirect_uri") != e.url+"/portal/auth/callback" || !strings.Contains(q.Get("scope"), "Sites.Read.All Group.Read.All") {
		t.Errorf("authorize URL = %s", u)
	}
}

// TestCallbackRefusals: a callback without the matching state, with an
// error from Entra, or with a spent code signs nobody in.
func TestCallbackRefusals(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	if p := b.get("/portal/auth/callback?code=x&state=y", false); p.status != http.StatusBadRequest {
		t.Errorf("callback without a sign-in = %d", p.status)
	}
	p := b.get("/portal/auth/login", false)
	state := mustURL(t, p.header.Get("Location")).Query().Get("state")
	if p := b.get("/portal/auth/callback?code=x&state="+url.QueryEscape(state+"x"), false); p.status != http.StatusBadRequest {
		t.Errorf("callback with a wrong state = %d", p.status)
	}
	if p := b.get("/portal/auth/callback?error=access_denied&error_description=AADSTS65004%3A+declined&state="+url.QueryEscape(state), false); p.status != http.StatusForbidden ||
		!strings.Contains(p.body, "AADSTS65004") {
		t.Errorf("callback with an error = %d %s", p.status, p.body)
	}
	p = b.get("/portal/auth/login", false)
	state = mustURL(t, p.header.Get("Location")).Query().Get("state")
	if p := b.get("/portal/auth/callback?code=forged&state="+url.QueryEscape(state), false); p.status != http.StatusBadGateway {
		t.Errorf("callback with a forged code = %d", p.status)
	}
	if p := b.get("/portal/mappings", false); p.status != http.StatusSeeOther {
		t.Errorf("after refused callbacks /portal/mappings = %d, want a redirect to sign in", p.status)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err) // test inputs only
	}
	return u
}

// TestIDTokenChecks: the id token must be signed by the authority, for
// the portal, carry the sign-in's nonce and be current.
func TestIDTokenChecks(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	admin := e.contoso.User("admin")
	sign := func(edit func(jwt.MapClaims)) string {
		now := time.Now()
		c := jwt.MapClaims{"aud": directory.DemoServiceAppID, "iss": e.sim.BaseURL() + "/" + e.contoso.ID + "/v2.0", "iat": now.Unix(), "nbf": now.Unix(),
			"exp": now.Add(time.Hour).Unix(), "tid": e.contoso.ID, "oid": admin.ID, "ver": "2.0", "nonce": "n1", "roles": []string{"Mapdrive.Admin"}}
		if edit != nil {
			edit(c)
		}
		tok, err := e.sim.Keys().Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"valid", sign(nil), true},
		{"wrong nonce", sign(func(c jwt.MapClaims) { c["nonce"] = "n2" }), false},
		{"no nonce", sign(func(c jwt.MapClaims) { delete(c, "nonce") }), false},
		{"API audience", sign(func(c jwt.MapClaims) { c["aud"] = directory.DemoServiceAppURI }), false},
		{"other app", sign(func(c jwt.MapClaims) { c["aud"] = directory.DemoClientID }), false},
		{"expired", sign(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), false},
		{"other issuer", sign(func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" + e.contoso.ID + "/v2.0" }), false},
		{"unsigned", strings.Join(strings.Split(sign(nil), ".")[:2], ".") + ".", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.portal.verifyIDToken(t.Context(), tc.tok, "n1")
			if (err == nil) != tc.ok {
				t.Errorf("verifyIDToken = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestSessionRotationAndGraphRefresh: signing in gives a new session id;
// an expired Graph token is renewed with the refresh token.
func TestSessionRotationAndGraphRefresh(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	b.get("/portal/auth/login", false)
	pre := cookieValue(b)
	b.signIn("admin@contoso.com")
	post := cookieValue(b)
	if pre == "" || post == "" || pre == post {
		t.Fatalf("session id before %q, after %q: want a new one", pre, post)
	}
	ps, err := e.st.PortalSession(t.Context(), post, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetPortalSessionGraph(t.Context(), post, store.SessionGraph{Access: "stale", Refresh: ps.Graph.Refresh, Expires: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	p := b.get("/portal/libraries?siteUrl="+url.QueryEscape(financeSite), false)
	p.mustContain(t, `<option value="Documents"`)
	if ps, err = e.st.PortalSession(t.Context(), post, time.Now()); err != nil {
		t.Fatal(err)
	}
	if ps.Graph.Access == "stale" || !ps.Graph.Expires.After(time.Now()) {
		t.Errorf("Graph token not renewed: expires %v", ps.Graph.Expires)
	}
	if err := e.st.SetPortalSessionGraph(t.Context(), post, store.SessionGraph{Access: "stale", Refresh: "bogus", Expires: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/portal/libraries?siteUrl="+url.QueryEscape(financeSite), false); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Sign out and in again") {
		t.Errorf("with a dead refresh token = %d %s", p.status, p.body)
	}
}

func cookieValue(b *browser) string {
	for _, c := range b.c.Jar.Cookies(mustURL(nil, b.base+"/portal/")) {
		if c.Name == cookieName {
			return c.Value
		}
	}
	return ""
}
