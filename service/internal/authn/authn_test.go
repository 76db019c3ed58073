package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
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

// TestValidateSimToken validates tokens m365sim issues for alice and the
// admin, end to end through its published JWKS, for an API registered for
// v2.0 tokens and one left at Entra's default, v1.0.
func TestValidateSimToken(t *testing.T) {
	sim := m365sim.StartForTest(t)
	v, err := New(t.Context(), Config{AuthorityHost: sim.BaseURL(), HTTPClient: sim.HTTPClient(),
		Audiences: []string{directory.DemoServiceAppID, directory.DemoServiceV1AppURI}})
	if err != nil {
		t.Fatal(err)
	}
	contoso := sim.Directory().Tenant("contoso")
	finance := contoso.Group("Finance Team")
	for _, tc := range []struct{ ver, api string }{{"2.0", directory.DemoServiceAppURI}, {"1.0", directory.DemoServiceV1AppURI}} {
		t.Run(tc.ver, func(t *testing.T) {
			scope := tc.api + "/" + directory.DemoServiceScope
			raw, err := sim.Entra().MintAccessToken(directory.DemoContosoID, "alice", directory.DemoClientID, []string{scope})
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Validate(t.Context(), raw)
			if err != nil {
				t.Fatalf("Validate = %v", err)
			}
			if p.Version != tc.ver || p.TenantID != directory.DemoContosoID || p.ObjectID != contoso.User("alice").ID || !p.HasScope(directory.DemoServiceScope) ||
				p.Domain != "contoso.com" || p.HasRole(directory.DemoAdminRole) || p.GroupsOverage || p.ClientID != directory.DemoClientID ||
				!p.GroupsClaim || !slices.Contains(p.Groups, finance.ID) {
				t.Errorf("principal = %+v", p)
			}
			adminTok, err := sim.Entra().MintAccessToken(directory.DemoContosoID, "admin", directory.DemoClientID, []string{scope})
			if err != nil {
				t.Fatal(err)
			}
			if pa, err := v.Validate(t.Context(), adminTok); err != nil || !pa.HasRole(directory.DemoAdminRole) {
				t.Errorf("admin principal = %+v, %v", pa, err)
			}
		})
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

// tokenVersion is one of the two access token versions Entra issues,
// with a good token's claims: each test that checks claims runs with both.
type tokenVersion struct {
	name   string
	claims func(now time.Time) jwt.MapClaims
	iss    func(host, tid string) string // the issuer of tenant tid
	host   string                        // the issuer's host in the tests
}

var versions = []tokenVersion{
	{"v1", goodClaimsV1, func(host, tid string) string { return host + "/" + tid + "/" }, DefaultV1IssuerHost},
	{"v2", goodClaims, func(host, tid string) string { return host + "/" + tid + "/v2.0" }, authority},
}

func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"aud": directory.DemoServiceAppID, "iss": authority + "/" + tid + "/v2.0", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "tid": tid, "oid": oid, "ver": "2.0", "scp": "Mapdrive.Access",
		"preferred_username": "alice@contoso.com", "azp": directory.DemoClientID,
	}
}

// goodClaimsV1 is a v1.0 access token as Entra issues it for an API left
// at the default token version.
func goodClaimsV1(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"aud": directory.DemoServiceAppURI, "iss": "https://sts.windows.net/" + tid + "/", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "tid": tid, "oid": oid, "ver": "1.0", "scp": "Mapdrive.Access",
		"upn": "alice@contoso.com", "unique_name": "alice@contoso.com", "appid": directory.DemoClientID, "appidacr": "0",
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
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			sign := func(k *token.Keys, edit func(jwt.MapClaims)) string {
				c := ver.claims(now)
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
			if p, err := v.Validate(t.Context(), good); err != nil || p.Domain != "contoso.com" || p.Token.Reveal() != good {
				t.Fatalf("good token: %+v, %v", p, err)
			}
			for _, aud := range []string{directory.DemoServiceAppURI, directory.DemoServiceAppID} {
				if p, err := v.Validate(t.Context(), sign(keys, func(c jwt.MapClaims) { c["aud"] = aud })); err != nil || p == nil {
					t.Errorf("audience %s refused: %v", aud, err)
				}
			}
			if p, err := v.Validate(t.Context(), sign(keys, func(c jwt.MapClaims) { delete(c, "scp"); c["roles"] = []string{"Mapdrive.Admin"} })); err != nil || !p.HasRole("Mapdrive.Admin") {
				t.Errorf("token with roles and no scp: %+v, %v", p, err)
			}
			otherVer := versions[0]
			if otherVer.name == ver.name {
				otherVer = versions[1]
			}
			parts := strings.Split(good, ".")
			noneTok := jwtPart(`{"alg":"none","typ":"JWT","kid":"`+keys.KID()+`"}`) + "." + parts[1] + "."
			hsTok := func() string {
				tk := jwt.NewWithClaims(jwt.SigningMethodHS256, ver.claims(now))
				tk.Header["kid"] = keys.KID()
				s, _ := tk.SignedString([]byte("secret"))
				return s
			}()
			noKid := jwtPart(`{"alg":"RS256","typ":"JWT"}`) + "." + parts[1] + "." + parts[2]
			const fabrikam = "d3b07384-d9a0-4c9f-8d2e-6f1a2b3c4d5e"
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
				{"wrong issuer host", sign(keys, func(c jwt.MapClaims) { c["iss"] = ver.iss("https://evil.example", tid) }), false},
				{"issuer of other tenant", sign(keys, func(c jwt.MapClaims) { c["iss"] = ver.iss(ver.host, fabrikam) }), false},
				{"issuer of the other version", sign(keys, func(c jwt.MapClaims) { c["iss"] = otherVer.iss(otherVer.host, tid) }), false},
				{"issuer without trailing part", sign(keys, func(c jwt.MapClaims) { c["iss"] = ver.host + "/" + tid }), false},
				{"ver of the other version", sign(keys, func(c jwt.MapClaims) { c["ver"] = otherVer.claims(now)["ver"] }), false},
				{"ver 3.0", sign(keys, func(c jwt.MapClaims) { c["ver"] = "3.0" }), false},
				{"no ver", sign(keys, func(c jwt.MapClaims) { delete(c, "ver") }), false},
				{"tid not guid", sign(keys, func(c jwt.MapClaims) { c["tid"] = "contoso"; c["iss"] = ver.iss(ver.host, "contoso") }), false},
				{"no oid", sign(keys, func(c jwt.MapClaims) { delete(c, "oid") }), false},
				{"id token: nonce", sign(keys, func(c jwt.MapClaims) { c["nonce"] = "n-0S6_WzA2Mj" }), false},
				{"id token: at_hash", sign(keys, func(c jwt.MapClaims) { c["at_hash"] = "77QmUPtjPfzWtF2AnpK9RQ" }), false},
				{"id token: idtyp", sign(keys, func(c jwt.MapClaims) { c["idtyp"] = "id" }), false},
				{"id token: neither scp nor roles", sign(keys, func(c jwt.MapClaims) { delete(c, "scp") }), false},
				{"id token: no calling app", sign(keys, func(c jwt.MapClaims) { delete(c, "azp"); delete(c, "appid") }), false},
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
		})
	}
	if _, err := v.Validate(t.Context(), ""); !errors.Is(err, ErrNoToken) {
		t.Errorf("empty token = %v", err)
	}
}

// TestDomainDecidedAtParse checks where the UPN's domain comes from: upn
// when the token has it, preferred_username only in a v2.0 token of a
// home-tenant user, never from a guest's preferred_username.
func TestDomainDecidedAtParse(t *testing.T) {
	now := time.Now()
	keys, _ := token.NewEphemeral()
	v := newTestValidator(t, newJWKS(t, keys), now)
	for _, ver := range versions {
		for _, tc := range []struct {
			name string
			edit func(jwt.MapClaims)
			want string
		}{
			{"upn wins", func(c jwt.MapClaims) { c["upn"] = "alice@Contoso.com"; c["preferred_username"] = "alice@evil.example" }, "contoso.com"},
			{"no name", func(c jwt.MapClaims) { delete(c, "upn"); delete(c, "preferred_username") }, ""},
			{"guest", func(c jwt.MapClaims) {
				delete(c, "upn")
				c["preferred_username"] = "bob@contoso.com"
				c["idp"] = "https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/"
			}, ""},
			{"malformed upn", func(c jwt.MapClaims) { c["upn"] = "alice@" }, ""},
			{"v1 ignores preferred_username", func(c jwt.MapClaims) {
				if c["ver"] == "1.0" {
					delete(c, "upn")
					c["preferred_username"] = "alice@contoso.com"
				}
			}, map[string]string{"v1": "", "v2": "contoso.com"}[ver.name]},
		} {
			t.Run(ver.name+"/"+tc.name, func(t *testing.T) {
				c := ver.claims(now)
				tc.edit(c)
				raw, _ := keys.Sign(c)
				p, err := v.Validate(t.Context(), raw)
				if err != nil {
					t.Fatal(err)
				}
				if p.Domain != tc.want {
					t.Errorf("Domain = %q, want %q", p.Domain, tc.want)
				}
			})
		}
	}
}

// TestIDTokenOnlyForThePortal: an ID token the portal receives validates
// with ValidateIDToken, and the same token is refused as an access token;
// an access token is refused as an ID token.
func TestIDTokenOnlyForThePortal(t *testing.T) {
	now := time.Now()
	keys, _ := token.NewEphemeral()
	v := newTestValidator(t, newJWKS(t, keys), now)
	// The shape of an Entra v2.0 ID token for the portal (which shares
	// the API's registration): our audience, the admin role, a nonce.
	id, _ := keys.Sign(jwt.MapClaims{
		"aud": directory.DemoServiceAppID, "iss": authority + "/" + tid + "/v2.0", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "tid": tid, "oid": oid, "ver": "2.0", "nonce": "abc", "roles": []string{"Mapdrive.Admin"},
		"preferred_username": "admin@contoso.com", "sub": "x",
	})
	if p, err := v.ValidateIDToken(t.Context(), id); err != nil || p.TenantID != tid {
		t.Fatalf("ValidateIDToken(id token) = %+v, %v", p, err)
	}
	var ae *Error
	if _, err := v.Validate(t.Context(), id); !errors.As(err, &ae) || !strings.Contains(ae.Reason, "ID token") {
		t.Errorf("Validate(id token) = %v, want refused as an ID token", err)
	}
	at, _ := keys.Sign(goodClaims(now))
	if _, err := v.ValidateIDToken(t.Context(), at); !errors.As(err, &ae) {
		t.Errorf("ValidateIDToken(access token) = %v, want refused", err)
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
	if _, err := v.Validate(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	cached := v.cache[sha256.Sum256([]byte(tok))]
	if p2, err := v.Validate(t.Context(), tok); err != nil || cached == nil || v.cache[sha256.Sum256([]byte(tok))] != cached || p2.Token.Reveal() != tok {
		t.Fatalf("second validation = %+v, %v; want the cached principal with the token", p2, err)
	}
	clock = now.Add(time.Hour + 2*time.Minute)
	var ae *Error
	if _, err := v.Validate(t.Context(), tok); !errors.As(err, &ae) || !ae.Expired {
		t.Errorf("validation after exp = %v, want expired", err)
	}
}

// TestCacheHoldsNoUPNOrToken: what the validator keeps between requests
// is tid, oid, scopes, roles, groups and the domain; never the UPN or the
// token, in either version (#15 item 8).
func TestCacheHoldsNoUPNOrToken(t *testing.T) {
	keys, _ := token.NewEphemeral()
	now := time.Now()
	v := newTestValidator(t, newJWKS(t, keys), now)
	var toks []string
	for _, ver := range versions {
		c := ver.claims(now)
		c["upn"], c["groups"] = "alice@contoso.com", []string{"0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f0"}
		tok, _ := keys.Sign(c)
		toks = append(toks, tok)
		p, err := v.Validate(t.Context(), tok)
		if err != nil || p.Token.Reveal() != tok || len(p.Groups) != 1 {
			t.Fatalf("%s: %+v, %v", ver.name, p, err)
		}
	}
	v.mu.Lock()
	dump := fmt.Sprintf("%#v", v.cache)
	for _, p := range v.cache {
		dump += fmt.Sprintf("%#v %s", *p, p.Token.Reveal())
	}
	v.mu.Unlock()
	if len(v.cache) != 2 || !strings.Contains(dump, tid) || !strings.Contains(dump, "contoso.com") {
		t.Fatalf("cache does not hold the principals: %s", dump)
	}
	for _, secret := range append(toks, "alice@", "alice", strings.Split(toks[0], ".")[2]) {
		if strings.Contains(dump, secret) {
			t.Errorf("the validator cache holds %.20q…", secret)
		}
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
	v, err := New(t.Context(), Config{AuthorityHost: authority, JWKSURL: srv.URL, Audiences: []string{directory.DemoServiceAppID, directory.DemoServiceAppURI},
		HTTPClient: srv.Client(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, ver := range versions {
		own, _ := keys.Sign(ver.claims(now))
		if _, err := v.Validate(t.Context(), own); err != nil {
			t.Fatalf("%s token of the key's own tenant = %v", ver.name, err)
		}
		other := ver.claims(now)
		other["tid"] = "d3b07384-d9a0-4c9f-8d2e-6f1a2b3c4d5e"
		other["iss"] = ver.iss(ver.host, "d3b07384-d9a0-4c9f-8d2e-6f1a2b3c4d5e")
		foreign, _ := keys.Sign(other)
		var ae *Error
		if _, err := v.Validate(t.Context(), foreign); !errors.As(err, &ae) || !strings.Contains(ae.Reason, "signing key") {
			t.Errorf("%s token of another tenant signed by a tenant-bound key = %v", ver.name, err)
		}
	}
}
