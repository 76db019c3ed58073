package graph

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mapdrive/mapdrive/client/internal/failure"
)

// The claims request of the example on Microsoft's claims-challenge page,
// and its base64 as the page gives it.
const (
	docClaims = `{"access_token":{"acrs":{"essential":true,"value":"cp1"}}}`
	docB64    = "eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiY3AxIn19fQ=="
	nbfClaims = `{"access_token":{"nbf":{"essential":true,"value":"1604106651"}}}`
)

func TestClaimsChallenge(t *testing.T) {
	nbfB64 := base64.StdEncoding.EncodeToString([]byte(nbfClaims))
	tests := []struct {
		name    string
		headers []string
		want    string // "" = not a claims challenge
	}{
		{"claims-challenge page example",
			[]string{`Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="` + docB64 + `"`},
			docClaims},
		{"CAE page example, no realm",
			[]string{`Bearer authorization_uri="https://login.windows.net/common/oauth2/authorize", error="insufficient_claims", claims="` + nbfB64 + `"`},
			nbfClaims},
		{"unordered, spaces around =, lower-case scheme",
			[]string{`bearer claims = "` + nbfB64 + `" ,error=insufficient_claims`}, nbfClaims},
		{"unpadded base64", []string{`Bearer error="insufficient_claims", claims="` + strings.TrimRight(docB64, "=") + `"`}, docClaims},
		{"URL-safe base64", []string{`Bearer error="insufficient_claims", claims="` + base64.RawURLEncoding.EncodeToString([]byte(nbfClaims)) + `"`}, nbfClaims},
		{"second of two headers", []string{`Negotiate`, `Bearer error="insufficient_claims", claims="` + nbfB64 + `"`}, nbfClaims},
		{"second challenge of one header", []string{`Basic realm="x", Bearer error="insufficient_claims", claims="` + nbfB64 + `"`}, nbfClaims},
		{"after a token68 challenge", []string{`Negotiate abc==, Bearer error="insufficient_claims", claims="` + nbfB64 + `"`}, nbfClaims},
		{"escaped quote in another parameter", []string{`Bearer realm="a\"b", error="insufficient_claims", claims="` + nbfB64 + `"`}, nbfClaims},
		{"expired token, not a claims challenge", []string{`Bearer error="invalid_token", error_description="expired_token"`}, ""},
		{"no claims parameter", []string{`Bearer error="insufficient_claims"`}, ""},
		{"empty claims", []string{`Bearer error="insufficient_claims", claims=""`}, ""},
		{"claims in another scheme", []string{`PoP error="insufficient_claims", claims="` + nbfB64 + `"`}, ""},
		{"claims not base64", []string{`Bearer error="insufficient_claims", claims="%%%"`}, ""},
		{"claims not JSON", []string{`Bearer error="insufficient_claims", claims="` + base64.StdEncoding.EncodeToString([]byte("not json")) + `"`}, ""},
		{"claims a JSON array", []string{`Bearer error="insufficient_claims", claims="` + base64.StdEncoding.EncodeToString([]byte(`[1]`)) + `"`}, ""},
		{"claims JSON null", []string{`Bearer error="insufficient_claims", claims="` + base64.StdEncoding.EncodeToString([]byte(`null`)) + `"`}, ""},
		{"repeated parameter", []string{`Bearer error="insufficient_claims", claims="` + nbfB64 + `", claims="` + docB64 + `"`}, ""},
		{"unterminated quote", []string{`Bearer error="insufficient_claims", claims="` + nbfB64}, ""},
		{"parameters without a comma", []string{`Bearer error="insufficient_claims" claims="` + nbfB64 + `"`}, ""},
		{"control character in a quoted value", []string{"Bearer error=\"insufficient\x01claims\", claims=\"" + nbfB64 + `"`}, ""},
		{"claims too long", []string{`Bearer error="insufficient_claims", claims="` + strings.Repeat("A", maxClaimsLen+4) + `"`}, ""},
		{"only a scheme", []string{`Bearer`}, ""},
		{"empty", []string{``}, ""},
		{"garbage", []string{`=,=",`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.headers {
				h.Add("WWW-Authenticate", v)
			}
			got, ok := claimsChallenge(h)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("claimsChallenge(%q) = %q, %v; want %q", tt.headers, got, ok, tt.want)
			}
		})
	}
}

func TestParseChallenges(t *testing.T) {
	got := parseChallenges(`Basic realm="simple", Newauth realm="apps", type=1, title="Login to \"apps\"", Bearer`)
	want := []challenge{
		{"Basic", map[string]string{"realm": "simple"}},
		{"Newauth", map[string]string{"realm": "apps", "type": "1", "title": `Login to "apps"`}},
		{"Bearer", map[string]string{}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(challenge{})); diff != "" {
		t.Errorf("parseChallenges of RFC 7235's example (-want +got):\n%s", diff)
	}
}

// FuzzClaimsChallenge: outside input never panics the parser, and what
// it accepts is a JSON object that a Bearer insufficient_claims challenge
// carried.
func FuzzClaimsChallenge(f *testing.F) {
	f.Add(`Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="` + docB64 + `"`)
	f.Add(`Bearer error="invalid_token", error_description="expired_token"`)
	f.Add(`Negotiate abc==, Bearer error=insufficient_claims, claims=` + docB64)
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Set("WWW-Authenticate", v)
		claims, ok := claimsChallenge(h)
		if !ok {
			return
		}
		if !strings.HasPrefix(strings.TrimSpace(claims), "{") {
			t.Fatalf("claimsChallenge(%q) accepted %q, not a JSON object", v, claims)
		}
		if !strings.Contains(strings.ToLower(v), "insufficient_claims") {
			t.Fatalf("claimsChallenge(%q) accepted a header without insufficient_claims", v)
		}
	})
}

// A claims challenge gets one new token with the challenge's claims and
// the request again; a second challenge is final, and a claims request
// that needs the user fails the request as a sign-in to renew.
func TestPacerAnswersClaimsChallengeOnce(t *testing.T) {
	ch := `Bearer realm="", error="insufficient_claims", claims="` + docB64 + `"`
	tests := []struct {
		name       string
		steps      []step
		wantStatus int
		wantAuth   []string
	}{
		{"new token then success", []step{{status: 401, wwwAuth: ch}}, 200, []string{"Bearer cached", "Bearer claimed"}},
		{"challenged again: final", []step{{status: 401, wwwAuth: ch}, {status: 401, wwwAuth: ch}}, 401, []string{"Bearer cached", "Bearer claimed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := checkAuths(t, tt.steps, "PUT", "data", tt.wantStatus, tt.wantAuth)
			if tok.claims.Load() != 1 || tok.renew.Load() != 0 {
				t.Errorf("Claims called %d times, Renew %d; want 1 and 0", tok.claims.Load(), tok.renew.Load())
			}
		})
	}

	rt, s, _ := newTestTransport(step{status: 401, wwwAuth: ch})
	rt.tokens = &expiredClaims{fakeTokens: &fakeTokens{}}
	_, err := do(t, rt, "GET", testBase+"/me", "")
	if !errors.Is(err, failure.SignInExpired) {
		t.Errorf("claims request needing the user: err = %v, want failure.SignInExpired", err)
	}
	if len(s.sent) != 1 {
		t.Errorf("%d requests sent, want 1 (no retry without a token)", len(s.sent))
	}
}

// expiredClaims is a token source whose claims requests need the user.
type expiredClaims struct{ *fakeTokens }

func (e *expiredClaims) Claims(context.Context, []string, string) (string, error) {
	return "", failure.SignInExpired
}
