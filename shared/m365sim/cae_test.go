package m365sim

// Conformance of Conditional Access and continuous access evaluation,
// graph-contract.md ("Entra ID"): "Conditional Access and continuous
// access evaluation: a client that declares the cp1 capability can get a
// 401 from Graph with WWW-Authenticate: Bearer ... error="insufficient_claims",
// claims="<base64>"; it must call MSAL again with those claims (silently
// if possible, else interactively) and retry. A token revoked by CAE
// fails before its exp."
//
// Microsoft's pages behind it:
//   - https://learn.microsoft.com/entra/identity-platform/claims-challenge
//     (header format, xms_cc, "The only currently known value is cp1")
//   - https://learn.microsoft.com/entra/identity-platform/app-resilience-continuous-access-evaluation
//     (the nbf challenge, AcquireTokenSilent WithClaims in MSAL Go)
//   - https://learn.microsoft.com/entra/identity/conditional-access/concept-continuous-access-evaluation
//     (critical events, "up to 28 hours" in CAE sessions, 1 hour without)

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

var graphScopes = []string{"Files.ReadWrite.All", "User.Read"}

// msalSignIn signs upn in to s with MSAL Go by device code, declaring
// capabilities (none: an ordinary client).
func msalSignIn(t *testing.T, s *Sim, upn string, capabilities ...string) (public.Client, public.AuthResult) {
	t.Helper()
	ctx := ctxT(t)
	opts := []public.Option{public.WithAuthority(s.AuthorityURL("contoso")), public.WithInstanceDiscovery(false),
		public.WithHTTPClient(s.HTTPClient())}
	if len(capabilities) > 0 {
		opts = append(opts, public.WithClientCapabilities(capabilities))
	}
	app, err := public.New(directory.DemoClientID, opts...)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := app.AcquireTokenByDeviceCode(ctx, graphScopes)
	if err != nil {
		t.Fatalf("device code: %v", err)
	}
	if err := s.Admin().ApproveDeviceCode(ctx, dc.Result.UserCode, upn); err != nil {
		t.Fatalf("approve: %v", err)
	}
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatalf("device code result: %v", err)
	}
	return app, res
}

// payload decodes a JWT's claims without verifying them.
func payload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

var challengeParam = regexp.MustCompile(`(\w+)="([^"]*)"`)

// challengeOf checks r is a claims challenge as the claims-challenge page
// defines it and returns the decoded claims request.
func challengeOf(t *testing.T, r result) string {
	t.Helper()
	if r.status != http.StatusUnauthorized {
		t.Fatalf("status = %d %s, want 401", r.status, r.body)
	}
	h := r.header.Get("WWW-Authenticate")
	if !strings.HasPrefix(h, "Bearer ") {
		t.Fatalf("WWW-Authenticate = %q, want the Bearer scheme", h)
	}
	params := map[string]string{}
	for _, m := range challengeParam.FindAllStringSubmatch(h, -1) {
		params[m[1]] = m[2]
	}
	if params["error"] != "insufficient_claims" || params["authorization_uri"] == "" {
		t.Fatalf("WWW-Authenticate = %q, want error=insufficient_claims and an authorization_uri", h)
	}
	claims, err := base64.StdEncoding.DecodeString(params["claims"])
	if err != nil || !json.Valid(claims) {
		t.Fatalf("claims %q is not base64 JSON: %v", params["claims"], err)
	}
	if code, _ := graphError(t, r.body); code != "InvalidAuthenticationToken" {
		t.Errorf("error code = %q, want InvalidAuthenticationToken", code)
	}
	return string(claims)
}

// Contract: cp1 makes a CAE session: Graph tokens carry xms_cc and live
// long (a day here, "up to 28 hours"); without cp1 they live the default
// hour and carry no xms_cc. A claims parameter that is not JSON is a
// malformed request.
func TestConformanceCAETokenLifetimes(t *testing.T) {
	s := StartForTest(t)
	_, cae := msalSignIn(t, s, "alice@contoso.com", "cp1")
	c := payload(t, cae.AccessToken)
	if cc, _ := c["xms_cc"].([]any); len(cc) != 1 || cc[0] != "cp1" {
		t.Errorf("xms_cc of a cp1 client's Graph token = %v, want [cp1]", c["xms_cc"])
	}
	if life := c["exp"].(float64) - c["iat"].(float64); life < 20*3600 || life > 28*3600 {
		t.Errorf("CAE token lifetime = %vs, want a long-lived token (20 to 28 h)", life)
	}
	_, plain := msalSignIn(t, s, "bob@contoso.com")
	p := payload(t, plain.AccessToken)
	if _, ok := p["xms_cc"]; ok {
		t.Errorf("a client without cp1 got xms_cc %v", p["xms_cc"])
	}
	if life := p["exp"].(float64) - p["iat"].(float64); life != 3600 {
		t.Errorf("token lifetime without cp1 = %vs, want 3600", life)
	}

	form := url.Values{"client_id": {directory.DemoClientID}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {"x"}, "claims": {"not json"}}
	req, _ := http.NewRequest(http.MethodPost, s.AuthorityURL("contoso")+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := h2Client(s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var oe struct {
		Error string `json:"error"`
		Codes []int  `json:"error_codes"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&oe)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || oe.Error != "invalid_request" {
		t.Errorf("token request with malformed claims = %d %+v, want 400 invalid_request", resp.StatusCode, oe)
	}
}

// Contract: a Conditional Access change evaluated by Graph (the
// claimsChallenge fault) refuses a cp1 client's unexpired token with a
// claims challenge; MSAL's silent request with the decoded claims
// redeems the refresh token for a token that satisfies it. A client
// without cp1 is not challenged.
func TestConformanceClaimsChallengeSatisfiedSilently(t *testing.T) {
	for _, tc := range []struct {
		name, acrs, want string
	}{
		{"nbf", "", `"nbf":{"essential":true,"value":"`},
		{"authentication context", "c1", `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := StartForTest(t)
			ctx := ctxT(t)
			app, res := msalSignIn(t, s, "alice@contoso.com", "cp1")
			// The rule comes a second after the token: tokens carry whole seconds.
			time.Sleep(1100 * time.Millisecond)
			if _, err := s.Admin().AddFault(ctx, Fault{Kind: FaultClaimsChallenge, User: "alice@contoso.com", Acrs: tc.acrs}); err != nil {
				t.Fatal(err)
			}
			claims := challengeOf(t, do(t, h2Client(s), http.MethodGet, s.GraphURL()+"/me", res.AccessToken, nil))
			if !strings.Contains(claims, tc.want) {
				t.Errorf("claims request %s, want %s", claims, tc.want)
			}
			// An ordinary client of the same user is not challenged.
			if r := do(t, h2Client(s), http.MethodGet, s.GraphURL()+"/me", userToken(t, s, "contoso", "alice"), nil); r.status != http.StatusOK {
				t.Errorf("GET /me without cp1 under the fault = %d, want 200", r.status)
			}
			accts, _ := app.Accounts(ctx)
			again, err := app.AcquireTokenSilent(ctx, graphScopes, public.WithSilentAccount(accts[0]), public.WithClaims(claims))
			if err != nil {
				t.Fatalf("silent with the challenge's claims: %v", err)
			}
			if again.AccessToken == res.AccessToken {
				t.Fatal("MSAL returned the challenged token from its cache")
			}
			if r := do(t, h2Client(s), http.MethodGet, s.GraphURL()+"/me", again.AccessToken, nil); r.status != http.StatusOK {
				t.Fatalf("GET /me with the new token = %d %s, want 200", r.status, r.body)
			}
			cs, err := s.Admin().Counters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			st := cs.Claims["contoso/alice"]
			if st == nil || st.Challenges != 1 || st.Granted != 1 || !strings.Contains(st.LastClaims, "cp1") || !strings.Contains(st.LastClaims, tc.want[:8]) {
				t.Errorf("claims counters of alice = %+v, want 1 challenge, 1 grant with cp1 and the claims", st)
			}
		})
	}
}

// Contract: "A token revoked by CAE fails before its exp." Revoking a
// user's sessions (a critical event) makes Graph refuse the cp1 client's
// unexpired token with an nbf challenge no older than the revocation;
// the refresh token is revoked too, so the silent request fails with
// invalid_grant and only a new sign-in satisfies it. A client without
// cp1 keeps its token until it expires, as without CAE.
func TestConformanceRevocationChallengesCAEClients(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	app, res := msalSignIn(t, s, "alice@contoso.com", "cp1")
	_, plain := msalSignIn(t, s, "alice@contoso.com")
	before := time.Now().Unix()
	if err := s.Admin().Revoke(ctx, "contoso", "alice@contoso.com"); err != nil {
		t.Fatal(err)
	}
	r := do(t, h2Client(s), http.MethodGet, s.GraphURL()+"/me", res.AccessToken, nil)
	claims := challengeOf(t, r)
	var req struct {
		AccessToken struct {
			Nbf struct {
				Essential bool   `json:"essential"`
				Value     string `json:"value"`
			} `json:"nbf"`
		} `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(claims), &req); err != nil {
		t.Fatal(err)
	}
	if v, err := strconv.ParseInt(req.AccessToken.Nbf.Value, 10, 64); err != nil || !req.AccessToken.Nbf.Essential || v < before {
		t.Errorf("claims %s, want an essential nbf at or after the revocation (%d)", claims, before)
	}
	if !strings.Contains(string(r.body), "TokenIssuedBeforeRevocationTimestamp") {
		t.Errorf("body %s does not name the revocation", r.body)
	}
	if r := do(t, h2Client(s), http.MethodGet, s.GraphURL()+"/me", plain.AccessToken, nil); r.status != http.StatusOK {
		t.Errorf("GET /me with a revoked user's token of a client without cp1 = %d, want 200 until it expires", r.status)
	}
	accts, _ := app.Accounts(ctx)
	_, err := app.AcquireTokenSilent(ctx, graphScopes, public.WithSilentAccount(accts[0]), public.WithClaims(claims))
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("silent after revocation: err = %v, want invalid_grant", err)
	}
	// Signing in again gives a token issued after the revocation (in a
	// later second: a token of the revocation's second is refused).
	time.Sleep(1100 * time.Millisecond)
	_, fresh := msalSignIn(t, s, "alice@contoso.com", "cp1")
	if r := do(t, h2Client(s), http.MethodGet, s.GraphURL()+"/me", fresh.AccessToken, nil); r.status != http.StatusOK {
		t.Errorf("GET /me after signing in again = %d %s, want 200", r.status, r.body)
	}
	if _, ok := s.Entra().RevokedAt(directory.DemoContosoID, userID(t, s, "alice")); !ok {
		t.Error("RevokedAt has no revocation of alice")
	}
}

func userID(t *testing.T, s *Sim, name string) string {
	t.Helper()
	_, u, err := lookupUser(s.Directory(), "contoso", name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
