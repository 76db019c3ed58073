package entra

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// grant is a user's sign-in with a client, for one resource.
type grant struct {
	t        *directory.Tenant
	u        *directory.User
	client   *directory.App
	q        *scopeRequest
	scopes   []string // resource scopes that go into scp
	nonce    string   // id_token nonce (authorization code flow)
	signedIn time.Time
	secret   bool          // the client authenticated with a secret
	claims   claimsRequest // the request's claims parameter
}

// tokenResponse is the token endpoint's success document.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	RefreshIn    int    `json:"refresh_in,omitempty"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// pairwiseSub is the sub claim: stable per user and client, opaque, as
// Entra's pairwise subject identifiers are.
func pairwiseSub(tid, oid, clientID string) string {
	sum := sha256.Sum256([]byte("sub\x00" + tid + "\x00" + oid + "\x00" + clientID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:43]
}

// accessToken signs the access token of g, in the version the resource's
// registration asks for (requestedAccessTokenVersion; v1.0 by default).
func (s *Server) accessToken(g grant, now time.Time) (string, error) {
	res := g.q.resource
	life := s.lifetime(g)
	azpacr := "0"
	if g.secret {
		azpacr = "1"
	}
	c := jwt.MapClaims{
		"iat":  now.Unix(),
		"nbf":  now.Unix(),
		"exp":  now.Add(life).Unix(),
		"tid":  g.t.ID,
		"oid":  g.u.ID,
		"sub":  pairwiseSub(g.t.ID, g.u.ID, res.ClientID),
		"scp":  scpClaim(g.q, g.scopes),
		"upn":  g.t.UPN(g.u),
		"name": g.u.DisplayName,
		"uti":  randomToken(16),
	}
	if res.AccessTokenVersion() == 2 {
		c["ver"], c["iss"], c["aud"] = "2.0", s.issuer(g.t.ID), res.ClientID
		c["azp"], c["azpacr"], c["idtyp"] = g.client.ClientID, azpacr, "user"
		if g.q.hasOIDC("profile") {
			c["preferred_username"] = g.t.UPN(g.u)
		}
	} else {
		// v1.0 ("Access tokens in the Microsoft identity platform"): the
		// sts.windows.net issuer, the App ID URI as audience, appid and
		// appidacr instead of azp and azpacr, upn and unique_name and never
		// preferred_username.
		aud := res.IdentifierURI
		if aud == "" {
			aud = res.ClientID
		}
		c["ver"], c["iss"], c["aud"] = "1.0", V1Issuer(g.t.ID), aud
		c["appid"], c["appidacr"], c["unique_name"] = g.client.ClientID, azpacr, g.t.UPN(g.u)
	}
	if roles := g.t.RolesOf(g.u, res); len(roles) > 0 {
		c["roles"] = roles
	}
	// xms_cc goes only to a resource that asks for it (Graph, here) and
	// only with known values; acrs names the authentication contexts the
	// sign-in satisfied (claims-challenge.md, "Receiving xms_cc claim in
	// an access token").
	if caeResource(res) && len(g.claims.capabilities) > 0 {
		c["xms_cc"] = g.claims.capabilities
	}
	if len(g.claims.acrs) > 0 {
		c["acrs"] = g.claims.acrs
	}
	if !res.GroupClaims() {
		return s.keys.Sign(c)
	}
	// The claim holds nested memberships too, and the 200-group limit
	// counts them ("Configure group claims for applications by using
	// Microsoft Entra ID": "Group claims in tokens include nested groups").
	groups := g.t.TransitiveGroupsOf(g.u)
	if len(groups) > groupsOverage {
		// Entra's overage: no groups claim, a pointer to where they are.
		c["_claim_names"] = map[string]string{"groups": "src1"}
		c["_claim_sources"] = map[string]any{"src1": map[string]string{
			"endpoint": fmt.Sprintf("%s/v1.0/users/%s/getMemberObjects", s.base, g.u.ID),
		}}
	} else if len(groups) > 0 {
		ids := make([]string, len(groups))
		for i, gr := range groups {
			ids[i] = gr.ID
		}
		c["groups"] = ids
	}
	return s.keys.Sign(c)
}

// idToken signs the id token of g: audience is the client.
func (s *Server) idToken(g grant, now time.Time) (string, error) {
	c := jwt.MapClaims{
		"aud": g.client.ClientID,
		"iss": s.issuer(g.t.ID),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"tid": g.t.ID,
		"oid": g.u.ID,
		"sub": pairwiseSub(g.t.ID, g.u.ID, g.client.ClientID),
		"ver": "2.0",
		"uti": randomToken(16),
	}
	if !g.signedIn.IsZero() {
		c["auth_time"] = g.signedIn.Unix()
	}
	if g.q.hasOIDC("profile") {
		c["name"] = g.u.DisplayName
		c["preferred_username"] = g.t.UPN(g.u)
	}
	if g.q.hasOIDC("email") {
		c["email"] = g.t.UPN(g.u)
	}
	if g.nonce != "" {
		c["nonce"] = g.nonce
	}
	// Entra puts the user's roles of the client app itself in the id token,
	// which is how a web app (the portal) learns its own app roles.
	if roles := g.t.RolesOf(g.u, g.client); len(roles) > 0 {
		c["roles"] = roles
	}
	return s.keys.Sign(c)
}

// clientInfo is MSAL's client_info: base64url JSON of the home account.
func clientInfo(tid, oid string) string {
	out, _ := json.Marshal(map[string]string{"uid": oid, "utid": tid})
	return base64.RawURLEncoding.EncodeToString(out)
}

// respond builds the token response of g: an access token always, an id
// token with openid, a refresh token with offline_access, client_info when
// asked.
func (s *Server) respond(g grant, wantClientInfo bool) (*tokenResponse, *oauthError) {
	now := s.now()
	at, err := s.accessToken(g, now)
	if err != nil {
		return nil, s.internal("sign access token", err)
	}
	life := s.lifetime(g)
	resp := &tokenResponse{
		TokenType:    "Bearer",
		Scope:        responseScope(g.q, g.scopes),
		ExpiresIn:    int(life / time.Second),
		ExtExpiresIn: int(life / time.Second),
		AccessToken:  at,
	}
	if life > s.atLife {
		// A long-lived CAE token: refresh_in tells MSAL to renew it half
		// way, so a revocation it missed is met at the latest then.
		resp.RefreshIn = int(life / 2 / time.Second)
	}
	if g.q.hasOIDC("openid") {
		if resp.IDToken, err = s.idToken(g, now); err != nil {
			return nil, s.internal("sign id token", err)
		}
	}
	if g.q.hasOIDC("offline_access") {
		s.mu.Lock()
		resp.RefreshToken = s.addRefreshLocked(refreshRecord{
			TenantID: g.t.ID, UserID: g.u.ID, ClientID: g.client.ClientID,
			OIDC: g.q.oidc, Issued: now, SignedIn: g.signedIn,
		})
		s.mu.Unlock()
	}
	if wantClientInfo {
		resp.ClientInfo = clientInfo(g.t.ID, g.u.ID)
	}
	return resp, nil
}

// internal logs err and returns Entra's transient-error answer.
func (s *Server) internal(what string, err error) *oauthError {
	s.log.Error("entra: "+what, "err", err)
	return &oauthError{status: 500, code: "temporarily_unavailable", aadsts: 90033, msg: "A transient error has occurred. Please try again."}
}

// MintAccessToken issues an access token as if user userID of tenant
// tenantID had signed in with client clientID and asked for scopes (Entra
// syntax: "Files.ReadWrite.All", "https://graph.microsoft.com/.default",
// "api://mapdrive/Mapdrive.Access"). The sign-in rules apply: scopes must
// exist on one resource and be consented, or be consentable by the user;
// no consent is recorded. For the admin API and tests.
func (s *Server) MintAccessToken(tenantID, userID, clientID string, scopes []string) (string, error) {
	t := s.dir.Tenant(tenantID)
	if t == nil {
		return "", fmt.Errorf("mint access token: %w", errUnknownTenant(tenantID))
	}
	u := t.User(userID)
	if u == nil {
		return "", fmt.Errorf("mint access token: %w", errUnknownUser(userID))
	}
	client := s.lookupClient(clientID)
	if client == nil {
		return "", fmt.Errorf("mint access token: %w", errUnknownClient(clientID, tenantID))
	}
	raw := "openid profile offline_access"
	for _, sc := range scopes {
		raw += " " + sc
	}
	q, oe := s.parseScope(raw, t.Name)
	if oe != nil {
		return "", fmt.Errorf("mint access token: %w", oe)
	}
	s.mu.Lock()
	granted, oe := s.consentCheckNoRecordLocked(t, u, client, q)
	s.mu.Unlock()
	if oe != nil {
		return "", fmt.Errorf("mint access token: %w", oe)
	}
	now := s.now()
	at, err := s.accessToken(grant{t: t, u: u, client: client, q: q, scopes: granted, signedIn: now}, now)
	if err != nil {
		return "", fmt.Errorf("mint access token: %w", err)
	}
	return at, nil
}

// consentCheckNoRecordLocked applies the sign-in consent rule without
// recording anything: what the user could consent to is allowed.
func (s *Server) consentCheckNoRecordLocked(t *directory.Tenant, u *directory.User, client *directory.App, q *scopeRequest) ([]string, *oauthError) {
	if !t.UserConsentBlocked && !q.dflt && !slices.ContainsFunc(q.scopes, func(sc string) bool { return !userConsentable(q.resource, sc) }) {
		return q.scopes, nil
	}
	return s.consentLocked(t, u, client, q, false)
}
