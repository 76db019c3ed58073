package entra

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// These tests use the real MSAL Go as the client.

var msalScopes = []string{"Files.ReadWrite.All", "User.Read"}

func (e *env) publicClient(t *testing.T, tenant string) public.Client {
	t.Helper()
	app, err := public.New(pubClient,
		public.WithAuthority(e.base+"/"+tenant),
		public.WithInstanceDiscovery(false),
		public.WithHTTPClient(e.http))
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// browser plays the user's browser for AcquireTokenInteractive: it opens
// the sign-in page, signs in as upn, and submits whatever page comes next
// (the form_post to MSAL's loopback listener, or the admin-approval page's
// return button) until it reaches the app.
func (e *env) browser(upn string) func(string) error {
	return func(authURL string) error {
		resp, err := e.http.Get(authURL)
		if err != nil {
			return err
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("sign-in page: %d %s", resp.StatusCode, page)
		}
		pageURL, extra := authURL, url.Values{"pick": {upn}}
		for range 3 {
			m := formRe.FindStringSubmatch(string(page))
			if m == nil {
				return fmt.Errorf("no form on page:\n%s", page)
			}
			f := htmlForm{method: strings.ToUpper(m[1]), action: m[2], values: url.Values{}}
			for _, in := range inputRe.FindAllStringSubmatch(m[3], -1) {
				f.values.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
			}
			f.action = html.UnescapeString(f.action)
			base, _ := url.Parse(pageURL)
			target, err := base.Parse(f.action)
			if err != nil {
				return err
			}
			for k, v := range extra {
				f.values[k] = v
			}
			resp, err := e.http.PostForm(target.String(), f.values)
			if err != nil {
				return err
			}
			page, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if target.Scheme == "http" { // reached the app's loopback listener
				return nil
			}
			pageURL, extra = target.String(), nil
		}
		return fmt.Errorf("never reached the app")
	}
}

func TestMSALDeviceCode(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	app := e.publicClient(t, "contoso")
	dc, err := app.AcquireTokenByDeviceCode(ctx, msalScopes)
	if err != nil {
		t.Fatal(err)
	}
	if dc.Result.VerificationURL != e.base+"/devicelogin" || dc.Result.UserCode == "" {
		t.Errorf("device code result = %+v", dc.Result)
	}
	done := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond) // let MSAL poll while pending
		done <- e.srv.ApproveDeviceCode(dc.Result.UserCode, "alice@contoso.com")
	}()
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	alice := e.dir.Tenant("contoso").User("alice")
	if res.Account.PreferredUsername != "alice@contoso.com" || res.Account.HomeAccountID != alice.ID+"."+directory.DemoContosoID ||
		res.IDToken.Oid != alice.ID || res.IDToken.TenantID != directory.DemoContosoID {
		t.Errorf("account = %+v, id token oid/tid = %s/%s", res.Account, res.IDToken.Oid, res.IDToken.TenantID)
	}
	e.wantUserToken(t, res.AccessToken, "contoso", "alice", pubClient, directory.GraphAppID, "Files.ReadWrite.All User.Read openid profile")
	// Silent: the cached token comes back; the API scope comes through the
	// multi-resource refresh token.
	accts, err := app.Accounts(ctx)
	if err != nil || len(accts) != 1 {
		t.Fatalf("accounts = %v, %v", accts, err)
	}
	again, err := app.AcquireTokenSilent(ctx, msalScopes, public.WithSilentAccount(accts[0]))
	if err != nil || again.AccessToken != res.AccessToken {
		t.Errorf("silent = %v; same token: %v", err, again.AccessToken == res.AccessToken)
	}
	api, err := app.AcquireTokenSilent(ctx, []string{"api://mapdrive/Mapdrive.Access"}, public.WithSilentAccount(accts[0]))
	if err != nil {
		t.Fatal(err)
	}
	if c := e.wantUserToken(t, api.AccessToken, "contoso", "alice", pubClient, directory.DemoServiceAppID, directory.DemoServiceScope); c["roles"] != nil {
		t.Errorf("alice holds no app role, token has roles %v", c["roles"])
	}
}

func TestMSALInteractiveAndSilentRefresh(t *testing.T) {
	// Access tokens under 5 minutes are stale for MSAL, so every silent
	// call refreshes.
	e := newEnv(t, func(c *Config) { c.AccessTokenLifetime = 2 * time.Minute })
	ctx := testCtx(t)
	app := e.publicClient(t, "contoso")
	res, err := app.AcquireTokenInteractive(ctx, msalScopes, public.WithOpenURL(e.browser("alice@contoso.com")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Account.PreferredUsername != "alice@contoso.com" {
		t.Errorf("account = %+v", res.Account)
	}
	first := e.wantUserToken(t, res.AccessToken, "contoso", "alice", pubClient, directory.GraphAppID, "Files.ReadWrite.All User.Read openid profile")
	e.clock.Advance(3 * time.Minute) // the first access token has expired
	again, err := app.AcquireTokenSilent(ctx, msalScopes, public.WithSilentAccount(res.Account))
	if err != nil {
		t.Fatal(err)
	}
	if again.AccessToken == res.AccessToken {
		t.Fatalf("silent call returned the expired token")
	}
	second := e.claims(t, again.AccessToken)
	if second["iat"].(float64)-first["iat"].(float64) != 180 || second["oid"] != first["oid"] {
		t.Errorf("refreshed token iat %v (first %v), oid %v", second["iat"], first["iat"], second["oid"])
	}

	t.Run("revoked", func(t *testing.T) {
		if err := e.srv.RevokeUser("contoso", "alice"); err != nil {
			t.Fatal(err)
		}
		_, err := app.AcquireTokenSilent(ctx, msalScopes, public.WithSilentAccount(res.Account))
		if err == nil || !strings.Contains(err.Error(), "AADSTS50173") {
			t.Errorf("silent after revoke = %v, want AADSTS50173", err)
		}
	})
}

func TestMSALConfidentialAuthCode(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	cred, err := confidential.NewCredFromSecret(directory.DemoServiceSecret)
	if err != nil {
		t.Fatal(err)
	}
	cca, err := confidential.New(e.base+"/contoso", portal, cred,
		confidential.WithHTTPClient(e.http), confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	scopes := []string{"User.Read", "Sites.Read.All"}
	authURL, err := cca.AuthCodeURL(ctx, portal, portalCB, scopes)
	if err != nil {
		t.Fatal(err)
	}
	// The portal adds PKCE and state itself (MSAL's confidential
	// AuthCodeURL has no option for them).
	u, _ := url.Parse(authURL)
	q := u.Query()
	q.Set("code_challenge", s256(verifier))
	q.Set("code_challenge_method", "S256")
	q.Set("state", "portal-state")
	u.RawQuery = q.Encode()

	resp, body := e.get(t, u.String())
	if resp.StatusCode != 200 {
		t.Fatalf("sign-in page = %d", resp.StatusCode)
	}
	resp = e.submit(t, u.String(), firstForm(t, body), url.Values{"pick": {"admin@contoso.com"}})
	readBody(t, resp)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), portalCB+"?") || loc.Query().Get("state") != "portal-state" {
		t.Fatalf("redirect = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	code := loc.Query().Get("code")

	if _, err := cca.AcquireTokenByAuthCode(ctx, code, portalCB, scopes, confidential.WithChallenge(strings.Repeat("y", 43))); err == nil ||
		!strings.Contains(err.Error(), "AADSTS501481") {
		t.Errorf("wrong verifier = %v, want AADSTS501481", err)
	}
	// The failed attempt spent the code, as Entra does.
	if _, err := cca.AcquireTokenByAuthCode(ctx, code, portalCB, scopes, confidential.WithChallenge(verifier)); err == nil ||
		!strings.Contains(err.Error(), "AADSTS54005") {
		t.Errorf("reused code = %v, want AADSTS54005", err)
	}

	// A fresh code with the right verifier.
	resp, body = e.get(t, u.String())
	resp = e.submit(t, u.String(), firstForm(t, body), url.Values{"pick": {"admin@contoso.com"}})
	readBody(t, resp)
	loc, _ = url.Parse(resp.Header.Get("Location"))
	res, err := cca.AcquireTokenByAuthCode(ctx, loc.Query().Get("code"), portalCB, scopes, confidential.WithChallenge(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if c := e.wantUserToken(t, res.AccessToken, "contoso", "admin", portal, directory.GraphAppID, "User.Read Sites.Read.All openid profile"); c["azpacr"] != "1" {
		t.Errorf("azpacr = %v, want 1 (secret)", c["azpacr"])
	}
	if res.IDToken.Audience != portal || res.Account.PreferredUsername != "admin@contoso.com" {
		t.Errorf("id token aud %s, account %+v", res.IDToken.Audience, res.Account)
	}
	if roles := toStrings(e.claims(t, res.IDToken.RawToken)["roles"]); !slices.Equal(roles, []string{directory.DemoAdminRole}) {
		t.Errorf("id token roles = %v, want the portal's own app role", roles)
	}
	silent, err := cca.AcquireTokenSilent(ctx, scopes, confidential.WithSilentAccount(res.Account))
	if err != nil || silent.AccessToken != res.AccessToken {
		t.Errorf("silent = %v", err)
	}
	// The portal's own API needs no consent.
	own, err := cca.AcquireTokenSilent(ctx, []string{"api://mapdrive/Mapdrive.Access"}, confidential.WithSilentAccount(res.Account))
	if err != nil {
		t.Fatal(err)
	}
	if c := e.wantUserToken(t, own.AccessToken, "contoso", "admin", portal, portal, directory.DemoServiceScope); !slices.Equal(toStrings(c["roles"]), []string{directory.DemoAdminRole}) {
		t.Errorf("roles = %v", c["roles"])
	}
}

func TestMSALConsentBlocked(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	app := e.publicClient(t, "northwind")
	_, err := app.AcquireTokenInteractive(ctx, msalScopes, public.WithOpenURL(e.browser("nina@northwind.com")))
	if err == nil || !(strings.Contains(err.Error(), "AADSTS65001") || strings.Contains(err.Error(), "AADSTS90094")) {
		t.Errorf("interactive in northwind = %v, want AADSTS65001 or AADSTS90094", err)
	}

	dc, err := app.AcquireTokenByDeviceCode(ctx, msalScopes)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.ApproveDeviceCode(dc.Result.UserCode, "nina@northwind.com"); err == nil {
		t.Errorf("approval in a consent-blocked tenant succeeded")
	}
	_, err = dc.AuthenticationResult(ctx)
	if err == nil || !strings.Contains(err.Error(), "AADSTS65001") {
		t.Errorf("device code in northwind = %v, want AADSTS65001", err)
	}
}

func TestMSALOrganizationsAuthority(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	app := e.publicClient(t, "organizations")
	dc, err := app.AcquireTokenByDeviceCode(ctx, msalScopes)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.ApproveDeviceCode(dc.Result.UserCode, "frank@fabrikam.com"); err != nil {
		t.Fatal(err)
	}
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := e.claims(t, res.AccessToken); c["tid"] != directory.DemoFabrikamID || c["upn"] != "frank@fabrikam.com" {
		t.Errorf("tid/upn = %v %v", c["tid"], c["upn"])
	}
}
