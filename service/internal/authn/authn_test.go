package authn

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/token"
)

const apiScope = directory.DemoServiceAppURI + "/" + directory.DemoServiceScope

// TestValidateSimToken validates a token m365sim issues for alice, end to
// end through its published JWKS.
func TestValidateSimToken(t *testing.T) {
	sim := m365sim.StartForTest(t)
	v, err := New(t.Context(), Config{AuthorityHost: sim.BaseURL(), Audiences: []string{directory.DemoServiceAppID}, HTTPClient: sim.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sim.Entra().MintAccessToken(directory.DemoContosoID, "alice", directory.DemoClientID, []string{apiScope})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Validate(t.Context(), raw)
	if err != nil {
		t.Fatalf("Validate = %v", err)
	}
	contoso := sim.Directory().Tenant("contoso")
	finance := contoso.Group("Finance Team")
	if p.TenantID != directory.DemoContosoID || p.ObjectID != contoso.User("alice").ID || !p.HasScope(directory.DemoServiceScope) ||
		p.UPNDomain() != "contoso.com" || p.HasRole(directory.DemoAdminRole) || p.GroupsOverage {
		t.Errorf("principal = %+v", p)
	}
	found := false
	for _, g := range p.Groups {
		found = found || g == finance.ID
	}
	if !found {
		t.Errorf("groups %v lack Finance Team %s", p.Groups, finance.ID)
	}
	adminTok, err := sim.Entra().MintAccessToken(directory.DemoContosoID, "admin", directory.DemoClientID, []string{apiScope})
	if err != nil {
		t.Fatal(err)
	}
	if pa, err := v.Validate(t.Context(), adminTok); err != nil || !pa.HasRole(directory.DemoAdminRole) {
		t.Errorf("admin principal = %+v, %v", pa, err)
	}
}

// jwksServer serves the JWKS of whichever keys are current.
type jwksServer struct {
	srv   *httptest.Server
	keys  atomic.Pointer[token.Keys]
	fetch atomic.Int32
}

func newJWKS(t *testing.T, k *token.Keys) *jwksServer { return newJWKSF(t, k) }

func newJWKSF(t testing.TB, k *token.Keys) *jwksServer {
	j := &jwksServer{}
	j.keys.Store(k)
	j.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.fetch.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(j.keys.Load().JWKS("https://login.example/{tenantid}/v2.0"))
	}))
	t.Cleanup(j.srv.Close)
	return j
}

const (
	authority = "https://login.example"
	tid       = "7a1c9e52-3b4d-4f6a-8e2b-1c5d9f0a3e77"
	oid       = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
)

func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"aud": directory.DemoServiceAppID, "iss": authority + "/" + tid + "/v2.0", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "tid": tid, "oid": oid, "ver": "2.0", "scp": "Mapdrive.Access",
		"preferred_username": "alice@contoso.com", "azp": directory.DemoClientID,
	}
}

func newTestValidator(t *testing.T, j *jwksServer, now time.Time) *Validator {
	v, err := New(t.Context(), Config{AuthorityHost: authority, JWKSURL: j.srv.URL, Audiences: []string{directory.DemoServiceAppID, directory.DemoServiceAppURI},
		HTTPClient: j.srv.Client(), Now: func() time.Time { return now }, RefreshUnknownKID: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestValidateRefusals(t *testing.T) {
	now := time.Now()
	keys, _ := token.NewEphemeral()
	other, _ := token.NewEphemeral()
	j := newJWKS(t, keys)
	v := newTestValidator(t, j, now)
	sign := func(k *token.Keys, edit func(jwt.MapClaims)) string {
		c := goodClaims(now)
		if edit != nil {
			edit(c)
		}
		s, err := k.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sign(keys, nil)
	if p, err := v.Validate(t.Context(), good); err != nil || p.UPN.Reveal() != "alice@contoso.com" {
		t.Fatalf("good token: %v", err)
	}
	if p, err := v.Validate(t.Context(), sign(keys, func(c jwt.MapClaims) { c["aud"] = directory.DemoServiceAppURI })); err != nil || p == nil {
		t.Errorf("App ID URI audience refused: %v", err)
	}
	parts := strings.Split(good, ".")
	noneTok := jwtPart(`{"alg":"none","typ":"JWT","kid":"`+keys.KID()+`"}`) + "." + parts[1] + "."
	hsTok := func() string {
		tk := jwt.NewWithClaims(jwt.SigningMethodHS256, goodClaims(now))
		tk.Header["kid"] = keys.KID()
		s, _ := tk.SignedString([]byte("secret"))
		return s
	}()
	noKid := jwtPart(`{"alg":"RS256","typ":"JWT"}`) + "." + parts[1] + "." + parts[2]
	for _, tc := range []struct {
		name    string
		raw     string
		expired bool
	}{
		{"expired", sign(keys, func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), true},
		{"not yet valid", sign(keys, func(c jwt.MapClaims) { c["nbf"] = now.Add(5 * time.Minute).Unix() }), false},
		{"no exp", sign(keys, func(c jwt.MapClaims) { delete(c, "exp") }), false},
		{"wrong audience", sign(keys, func(c jwt.MapClaims) { c["aud"] = directory.GraphAppID }), false},
		{"two audiences", sign(keys, func(c jwt.MapClaims) { c["aud"] = []string{directory.DemoServiceAppID, "x"} }), false},
		{"wrong issuer host", sign(keys, func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" + tid + "/v2.0" }), false},
		{"issuer of other tenant", sign(keys, func(c jwt.MapClaims) { c["iss"] = authority + "/d3b07384-d9a0-4c9f-8d2e-6f1a2b3c4d5e/v2.0" }), false},
		{"v1 issuer", sign(keys, func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/" + tid + "/" }), false},
		{"ver 1.0", sign(keys, func(c jwt.MapClaims) { c["ver"] = "1.0" }), false},
		{"tid not guid", sign(keys, func(c jwt.MapClaims) { c["tid"] = "contoso"; c["iss"] = authority + "/contoso/v2.0" }), false},
		{"no oid", sign(keys, func(c jwt.MapClaims) { delete(c, "oid") }), false},
		{"alg none", noneTok, false},
		{"alg HS256", hsTok, false},
		{"unknown key", sign(other, nil), false},
		{"no kid", noKid, false},
		{"tampered", parts[0] + "." + jwtPart(`{"tid":"`+tid+`"}`) + "." + parts[2], false},
		{"garbage", "not.a.token", false},
		{"huge", strings.Repeat("a", MaxTokenLen+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Validate(t.Context(), tc.raw)
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("Validate = %+v, %v; want *Error", p, err)
			}
			if ae.Expired != tc.expired {
				t.Errorf("Expired = %v, want %v", ae.Expired, tc.expired)
			}
			if strings.Contains(err.Error(), "alice") || strings.Contains(err.Error(), "eyJ") {
				t.Errorf("error leaks token contents: %v", err)
			}
		})
	}
	if _, err := v.Validate(t.Context(), ""); !errors.Is(err, ErrNoToken) {
		t.Errorf("empty token = %v", err)
	}
}

// TestUnknownKidRefreshes rotates the authority's key: a token signed by
// the new key validates after the validator refreshes the JWKS.
func TestUnknownKidRefreshes(t *testing.T) {
	now := time.Now()
	k1, _ := token.NewEphemeral()
	k2, _ := token.NewEphemeral()
	j := newJWKS(t, k1)
	v := newTestValidator(t, j, now)
	t1, _ := k1.Sign(goodClaims(now))
	if _, err := v.Validate(t.Context(), t1); err != nil {
		t.Fatal(err)
	}
	j.keys.Store(k2)
	t2, _ := k2.Sign(goodClaims(now))
	var err error
	for range 50 { // the refresh limiter allows one refresh per millisecond
		if _, err = v.Validate(t.Context(), t2); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("token of the rotated key = %v", err)
	}
	if j.fetch.Load() < 2 {
		t.Errorf("JWKS fetched %d times, want a refresh", j.fetch.Load())
	}
}

func jwtPart(s string) string {
	return strings.TrimRight(b64(s), "=")
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		h    string
		want string
		ok   bool
	}{
		{"Bearer abc", "abc", true}, {"bearer  abc ", "abc", true}, {"", "", false}, {"Basic abc", "", false}, {"Bearer", "", false},
	} {
		r, _ := http.NewRequestWithContext(context.Background(), "GET", "/", nil)
		if tc.h != "" {
			r.Header.Set("Authorization", tc.h)
		}
		got, err := BearerToken(r)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("BearerToken(%q) = %q, %v", tc.h, got, err)
		}
	}
}

// TestCacheHonoursExpiry validates a token twice (the second from the
// cache), then past its exp, when it must be refused as expired.
func TestCacheHonoursExpiry(t *testing.T) {
	keys, _ := token.NewEphemeral()
	j := newJWKS(t, keys)
	now := time.Now()
	clock := now
	v, err := New(t.Context(), Config{AuthorityHost: authority, JWKSURL: j.srv.URL, Audiences: []string{directory.DemoServiceAppID},
		HTTPClient: j.srv.Client(), Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := keys.Sign(goodClaims(now))
	p1, err := v.Validate(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := v.Validate(t.Context(), tok)
	if err != nil || p2 != p1 {
		t.Fatalf("second validation = %p, %v; want the cached %p", p2, err, p1)
	}
	clock = now.Add(time.Hour + 2*time.Minute)
	var ae *Error
	if _, err := v.Validate(t.Context(), tok); !errors.As(err, &ae) || !ae.Expired {
		t.Errorf("validation after exp = %v, want expired", err)
	}
}

// TestKeyIssuerBinding publishes a key bound to one tenant's issuer: it
// may sign that tenant's tokens but not another tenant's.
func TestKeyIssuerBinding(t *testing.T) {
	keys, _ := token.NewEphemeral()
	now := time.Now()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(keys.JWKS(authority + "/" + tid + "/v2.0"))
	}))
	defer srv.Close()
	v, err := New(t.Context(), Config{AuthorityHost: authority, JWKSURL: srv.URL, Audiences: []string{directory.DemoServiceAppID},
		HTTPClient: srv.Client(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	own, _ := keys.Sign(goodClaims(now))
	if _, err := v.Validate(t.Context(), own); err != nil {
		t.Fatalf("token of the key's own tenant = %v", err)
	}
	other := goodClaims(now)
	other["tid"] = "d3b07384-d9a0-4c9f-8d2e-6f1a2b3c4d5e"
	other["iss"] = authority + "/d3b07384-d9a0-4c9f-8d2e-6f1a2b3c4d5e/v2.0"
	foreign, _ := keys.Sign(other)
	var ae *Error
	if _, err := v.Validate(t.Context(), foreign); !errors.As(err, &ae) || !strings.Contains(ae.Reason, "issuer") {
		t.Errorf("token of another tenant signed by a tenant-bound key = %v", err)
	}
}
