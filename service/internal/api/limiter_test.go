package api

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// doFrom sends an authenticated GET of the caller's mappings as if
// through a proxy that saw the client at client (X-Forwarded-For).
func (e *env) doFrom(client, tok string) int {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.srv.URL+apitype.RouteServiceMappings, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Forwarded-For", client)
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRefusedSignInLimiterBehindProxy is the attack from the outside: the
// service sits behind an ingress (a trusted proxy). One address sends bad
// tokens until it is limited; 1,000 other clients behind the same ingress
// all still get through, and a client whose tokens expired is never taken
// for an attacker. From an untrusted peer, a forged X-Forwarded-For does
// not let the attacker dodge the limit.
func TestRefusedSignInLimiterBehindProxy(t *testing.T) {
	eachDB(t, func(t *testing.T, db testenv.DB) {
		loopback := netip.MustParsePrefix("127.0.0.0/8")
		e := newEnv(t, db, func(c *Config) {
			c.AuthFailureRate, c.AuthFailureBurst = 0.01, 5
			c.TrustedProxies = []netip.Prefix{loopback}
		})
		bad := e.crafted(e.contoso, "alice", func(c jwt.MapClaims) { c["aud"] = "api://someone-else" })
		limited := false
		for range 20 {
			if e.doFrom("203.0.113.66", bad) == http.StatusTooManyRequests {
				limited = true
				break
			}
		}
		if !limited {
			t.Fatal("the abusive address was never limited")
		}
		good := e.token("contoso", "alice")
		for i := range 1000 {
			ip := fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)
			if code := e.doFrom(ip+", 10.0.0.1", good); code != http.StatusOK {
				t.Fatalf("good client %d (%s) behind the proxy got %d", i, ip, code)
			}
		}
		// The attacker's forged hop left of its real address changes
		// nothing: the proxy appended the address it saw.
		if code := e.doFrom("198.51.0.1, 203.0.113.66", good); code != http.StatusTooManyRequests {
			t.Errorf("the attacker with a forged X-Forwarded-For got %d, want 429", code)
		}
		expired := e.crafted(e.contoso, "bob", func(c jwt.MapClaims) {
			now := c["iat"].(int64)
			c["iat"], c["nbf"], c["exp"] = now-3*3600, now-3*3600, now-2*3600 // past any leeway
		})
		for range 20 {
			if code := e.doFrom("198.51.200.7", expired); code != http.StatusUnauthorized {
				t.Fatalf("an expired token got %d, want 401 (never 429: expiry is not abuse)", code)
			}
		}
		if code := e.doFrom("198.51.200.7", e.token("contoso", "bob")); code != http.StatusOK {
			t.Errorf("bob's fresh token after his expired ones got %d", code)
		}
	})
	// Without a trusted proxy, the header is the client's own claim and
	// is ignored: the peer (the test's loopback) is the one limited.
	eachDB(t, func(t *testing.T, db testenv.DB) {
		e := newEnv(t, db, func(c *Config) { c.AuthFailureRate, c.AuthFailureBurst = 0.01, 5 })
		bad := e.crafted(e.contoso, "alice", func(c jwt.MapClaims) { c["aud"] = "api://someone-else" })
		limited := false
		for i := range 20 {
			if e.doFrom(fmt.Sprintf("192.0.2.%d", i+1), bad) == http.StatusTooManyRequests {
				limited = true
				break
			}
		}
		if !limited {
			t.Error("rotating a forged X-Forwarded-For dodged the limit from an untrusted peer")
		}
	})
}
