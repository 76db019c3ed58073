package auth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/auth"
	"github.com/mapdrive/mapdrive/client/internal/auth/authtest"
	"github.com/mapdrive/mapdrive/client/internal/keyring"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// callGraph calls GET /me with tok and returns the status.
func callGraph(t *testing.T, sim *m365sim.Sim, tok string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", sim.GraphURL()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := sim.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func tokenRequests(t *testing.T, sim *m365sim.Sim) int64 {
	t.Helper()
	c, err := sim.Admin().Counters(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range c.Requests {
		if e.Route == m365sim.RouteToken && e.Method == http.MethodPost {
			n += e.Count
		}
	}
	return n
}

func TestInteractiveLogin(t *testing.T) {
	sim := m365sim.StartForTest(t)
	mem := keyring.NewMemory()
	cfg := authtest.Config(sim, "organizations", keyring.New(keyring.WithBackend(mem)))
	opened := 0
	browser := authtest.Browser(sim.HTTPClient(), "alice@contoso.com")
	cfg.OpenURL = func(u string) error {
		opened++
		if !strings.Contains(u, "code_challenge_method=S256") || !strings.Contains(u, "redirect_uri=http%3A%2F%2Flocalhost") {
			t.Errorf("sign-in URL %s lacks PKCE or the loopback redirect", u)
		}
		return browser(u)
	}
	c, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	acct, err := c.Login(ctx)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if opened != 1 {
		t.Errorf("browser opened %d times, want 1", opened)
	}
	if acct.Username != "alice@contoso.com" || acct.TenantID == "" || acct.ObjectID == "" {
		t.Errorf("account = %+v, want alice with tenant and object ids", acct)
	}
	graphTok, err := c.Token(ctx, c.GraphScopes())
	if err != nil {
		t.Fatalf("Graph token: %v", err)
	}
	if got := callGraph(t, sim, graphTok); got != http.StatusOK {
		t.Errorf("GET /me with the Graph token = %d, want 200", got)
	}
	// One token per resource: the service API token is another audience.
	apiTok, err := c.Token(ctx, c.APIScopes())
	if err != nil {
		t.Fatalf("API token: %v", err)
	}
	if apiTok == graphTok {
		t.Error("the service API token is the Graph token")
	}
	if got := callGraph(t, sim, apiTok); got != http.StatusUnauthorized {
		t.Errorf("GET /me with the service API token = %d, want 401 (wrong audience)", got)
	}
	if mem.Len() == 0 {
		t.Error("no token cache in the keyring after sign-in")
	}

	// A second client over the same keyring (the agent restarted) is
	// signed in without a browser.
	cfg2 := authtest.Config(sim, "organizations", keyring.New(keyring.WithBackend(mem)))
	cfg2.OpenURL = func(string) error { t.Error("browser opened after restart"); return errors.New("no") }
	c2, err := auth.New(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	if a2, err := c2.Account(ctx); err != nil || a2.HomeAccountID != acct.HomeAccountID {
		t.Fatalf("Account after restart = %+v, %v; want %+v", a2, err, acct)
	}
	if _, err := c2.Token(ctx, c2.GraphScopes()); err != nil {
		t.Fatalf("Token after restart: %v", err)
	}

	// Logout removes the account and the cache.
	if err := c2.Logout(ctx); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if mem.Len() != 0 {
		t.Errorf("keyring holds %d entries after logout, want 0", mem.Len())
	}
	if _, err := c2.Token(ctx, c2.GraphScopes()); !errors.Is(err, auth.ErrNotSignedIn) {
		t.Errorf("Token after logout: err = %v, want ErrNotSignedIn", err)
	}
	if _, err := c2.Account(ctx); !errors.Is(err, auth.ErrNotSignedIn) {
		t.Errorf("Account after logout: err = %v, want ErrNotSignedIn", err)
	}
}

func TestDeviceCodeLogin(t *testing.T) {
	sim := m365sim.StartForTest(t)
	c, err := auth.New(authtest.Config(sim, "contoso", nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	var shown auth.DeviceCodePrompt
	acct, err := c.LoginDeviceCode(ctx, func(p auth.DeviceCodePrompt) {
		shown = p
		if err := sim.Admin().ApproveDeviceCode(ctx, p.UserCode, "bob@contoso.com"); err != nil {
			t.Errorf("approve device code: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("LoginDeviceCode: %v", err)
	}
	if shown.UserCode == "" || !strings.Contains(shown.Message, shown.UserCode) || shown.VerificationURL == "" {
		t.Errorf("prompt = %+v, want a message with the code and a URL", shown)
	}
	if acct.Username != "bob@contoso.com" {
		t.Errorf("signed in as %q, want bob@contoso.com", acct.Username)
	}
	tok, err := c.Token(ctx, c.GraphScopes())
	if err != nil {
		t.Fatal(err)
	}
	if got := callGraph(t, sim, tok); got != http.StatusOK {
		t.Errorf("GET /me = %d, want 200", got)
	}
}

// TestSilentRefresh signs in on a simulator whose access tokens live less
// than MSAL's five-minute margin, so every Token call must redeem the
// refresh token, and checks Renew bypasses a valid cached token. The
// client declares cp1, so its Graph tokens are CAE tokens, with their
// own lifetime.
func TestSilentRefresh(t *testing.T) {
	sim := m365sim.StartForTest(t, m365sim.WithConfig(func(c *m365sim.Config) {
		c.AccessTokenLifetime, c.CAEAccessTokenLifetime = 2*time.Minute, 2*time.Minute
	}))
	c := authtest.SignIn(t, sim, "contoso", "alice@contoso.com")
	ctx := ctxT(t)
	before := tokenRequests(t, sim)
	t1, err := c.Token(ctx, c.GraphScopes())
	if err != nil {
		t.Fatal(err)
	}
	t2, err := c.Token(ctx, c.GraphScopes())
	if err != nil {
		t.Fatal(err)
	}
	if t1 == t2 {
		t.Error("an expired access token was handed out again")
	}
	if got := tokenRequests(t, sim) - before; got != 2 {
		t.Errorf("token endpoint calls for two expired tokens = %d, want 2 refreshes", got)
	}
	if got := callGraph(t, sim, t2); got != http.StatusOK {
		t.Errorf("GET /me with the refreshed token = %d, want 200", got)
	}
}

func TestRenewBypassesCache(t *testing.T) {
	sim := m365sim.StartForTest(t)
	c := authtest.SignIn(t, sim, "contoso", "alice@contoso.com")
	ctx := ctxT(t)
	t1, err := c.Token(ctx, c.GraphScopes())
	if err != nil {
		t.Fatal(err)
	}
	t2, err := c.Token(ctx, c.GraphScopes())
	if err != nil || t2 != t1 {
		t.Fatalf("second Token = new token or %v, want the cached one", err)
	}
	t3, err := c.Renew(ctx, c.GraphScopes())
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if t3 == t1 {
		t.Error("Renew returned the cached token")
	}
	if got := callGraph(t, sim, t3); got != http.StatusOK {
		t.Errorf("GET /me with the renewed token = %d, want 200", got)
	}
}

func TestRevokedSignInSaysLoginAgain(t *testing.T) {
	sim := m365sim.StartForTest(t)
	c := authtest.SignIn(t, sim, "contoso", "alice@contoso.com")
	ctx := ctxT(t)
	if err := sim.Admin().Revoke(ctx, "contoso", "alice"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Renew(ctx, c.GraphScopes())
	if !errors.Is(err, auth.ErrSignInExpired) {
		t.Fatalf("Renew after revocation: err = %v, want ErrSignInExpired", err)
	}
	if !strings.Contains(err.Error(), "mapdrive login") {
		t.Errorf("error %q does not say to run mapdrive login", err)
	}
}

func TestConsentBlocked(t *testing.T) {
	sim := m365sim.StartForTest(t)
	cfg := authtest.Config(sim, "northwind", nil)
	cfg.APIScopes = nil
	c, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	_, err = c.LoginDeviceCode(ctx, func(p auth.DeviceCodePrompt) {
		// The simulator refuses to approve: nobody consented and users may not.
		_ = sim.Admin().ApproveDeviceCode(ctx, p.UserCode, "nina@northwind.com")
	})
	if !errors.Is(err, auth.ErrConsentRequired) {
		t.Fatalf("LoginDeviceCode in a tenant that blocks user consent: err = %v, want ErrConsentRequired", err)
	}
	var ce *auth.ConsentError
	if !errors.As(err, &ce) {
		t.Fatalf("err %v is not a *ConsentError", err)
	}
	want := sim.AuthorityURL("northwind") + "/adminconsent?client_id="
	if !strings.HasPrefix(ce.AdminConsentURL, want) || !strings.Contains(err.Error(), ce.AdminConsentURL) {
		t.Errorf("message %q / URL %q, want the admin-consent URL %s...", err, ce.AdminConsentURL, want)
	}
}

// TestConsentBlockedInteractive meets the admin-approval page in the
// browser; the user returns to the app without consent and sees the
// admin-consent URL.
func TestConsentBlockedInteractive(t *testing.T) {
	sim := m365sim.StartForTest(t)
	cfg := authtest.Config(sim, "northwind", nil)
	cfg.APIScopes = nil
	cfg.OpenURL = authtest.Browser(sim.HTTPClient(), "nina@northwind.com")
	c, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Login(ctxT(t))
	if !errors.Is(err, auth.ErrConsentRequired) {
		t.Fatalf("Login in a tenant that blocks user consent: err = %v, want ErrConsentRequired", err)
	}
	if !strings.Contains(err.Error(), sim.AuthorityURL("northwind")+"/adminconsent?client_id=") {
		t.Errorf("message %q lacks the admin-consent URL", err)
	}
}
