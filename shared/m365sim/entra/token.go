package entra

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// Grant types of the token endpoint.
const (
	grantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	grantDeviceCodeShort   = "device_code" // what MSAL sends; Entra takes both
	grantRefreshToken      = "refresh_token"
	grantAuthorizationCode = "authorization_code"
	grantClientCredentials = "client_credentials"
)

// readForm reads an application/x-www-form-urlencoded POST body. Any other
// content type reads as an empty form (Entra then misses grant_type). A
// parameter given twice is malformed.
func readForm(r *http.Request) (url.Values, *oauthError) {
	if r.Method != http.MethodPost {
		return nil, errPostOnly(r.Method)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
	if err != nil || len(body) > maxFormBytes {
		return nil, errMalformed()
	}
	if mt != "application/x-www-form-urlencoded" {
		return url.Values{}, nil
	}
	return parseForm(string(body))
}

// parseForm parses a urlencoded body strictly.
func parseForm(body string) (url.Values, *oauthError) {
	v, err := url.ParseQuery(body)
	if err != nil {
		return nil, errMalformed()
	}
	for _, vals := range v {
		if len(vals) > 1 {
			return nil, errMalformed()
		}
	}
	return v, nil
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	resp, oe := s.token(r)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) token(r *http.Request) (*tokenResponse, *oauthError) {
	form, oe := readForm(r)
	if oe != nil {
		return nil, oe
	}
	t, multi, oe := s.tenantFromPath(r)
	if oe != nil {
		return nil, oe
	}
	gt := form.Get("grant_type")
	if gt == "" {
		return nil, errMissingParam("grant_type")
	}
	if gt == grantDeviceCodeShort {
		gt = grantDeviceCode
	}
	switch gt {
	case grantDeviceCode, grantRefreshToken, grantAuthorizationCode, grantClientCredentials, grantJWTBearer:
	default:
		return nil, errUnsupportedGrant(gt)
	}
	client, secret, oe := s.authenticateClient(r, form)
	if oe != nil {
		return nil, oe
	}
	claims, oe := parseClaims(form.Get("claims"))
	if oe != nil {
		return nil, oe
	}
	wantCI := form.Get("client_info") == "1"
	var g grant
	switch gt {
	case grantClientCredentials:
		return nil, errDelegatedOnly(client.ClientID)
	case grantAuthorizationCode:
		g, oe = s.redeemCode(form, t, multi, client)
	case grantRefreshToken:
		g, oe = s.redeemRefresh(form, t, multi, client)
	case grantDeviceCode:
		g, oe = s.redeemDeviceCode(form, t, multi, client)
	case grantJWTBearer:
		g, oe = s.redeemOnBehalfOf(form, t, multi, client, secret)
	}
	if oe != nil {
		return nil, oe
	}
	g.secret, g.claims = secret, claims
	s.log.Debug("entra token issued", "grant", gt, "client", client.ClientID, "resource", g.q.resource.ClientID,
		"cae", claims.caeCapable(), "claims_challenge", claims.challenge())
	resp, oe := s.respond(g, wantCI)
	if oe == nil && claims.challenge() && s.onClaims != nil {
		s.onClaims(g.t.ID, g.u.ID, form.Get("claims"))
	}
	return resp, oe
}

// authenticateClient finds the client and checks its secret: confidential
// clients must present one (client_secret_post or client_secret_basic),
// public clients must not. secret reports whether one was checked.
func (s *Server) authenticateClient(r *http.Request, form url.Values) (app *directory.App, secret bool, e *oauthError) {
	id, sec := form.Get("client_id"), form.Get("client_secret")
	if bid, bsec, ok := r.BasicAuth(); ok {
		// RFC 6749 2.3.1: both parts are form-urlencoded.
		uid, err1 := url.QueryUnescape(bid)
		usec, err2 := url.QueryUnescape(bsec)
		if err1 != nil || err2 != nil || (id != "" && id != uid) || sec != "" {
			return nil, false, errMalformed()
		}
		id, sec = uid, usec
	}
	if id == "" {
		return nil, false, errMissingParam("client_id")
	}
	app = s.lookupClient(id)
	if app == nil {
		return nil, false, errUnknownClient(id, r.PathValue("tenant"))
	}
	if app.Secret == "" {
		if sec != "" || form.Get("client_assertion") != "" {
			return nil, false, errPublicWithSecret()
		}
		return app, false, nil
	}
	if sec == "" {
		return nil, false, errMissingSecret()
	}
	if subtle.ConstantTimeCompare([]byte(sec), []byte(app.Secret)) != 1 {
		return nil, false, errBadSecret(app.ClientID)
	}
	return app, true, nil
}

// sameTenant reports whether a grant of tenant tid may be redeemed at the
// authority in the request path.
func sameTenant(t *directory.Tenant, multi bool, tid string) bool {
	return multi || (t != nil && strings.EqualFold(t.ID, tid))
}

func (s *Server) redeemCode(form url.Values, t *directory.Tenant, multi bool, client *directory.App) (grant, *oauthError) {
	code := form.Get("code")
	if code == "" {
		return grant{}, errMissingParam("code")
	}
	now := s.now()
	s.mu.Lock()
	ac := s.codes[code]
	if ac == nil {
		s.mu.Unlock()
		return grant{}, errMalformed()
	}
	if !strings.EqualFold(ac.clientID, client.ClientID) || !sameTenant(t, multi, ac.t.ID) {
		s.mu.Unlock()
		return grant{}, errGrantOtherClient("code")
	}
	if ac.used {
		s.mu.Unlock()
		return grant{}, errCodeRedeemed()
	}
	if now.After(ac.expires) {
		s.mu.Unlock()
		return grant{}, errCodeExpired()
	}
	// Any redemption attempt past this point spends the code, as Entra
	// does: a wrong verifier does not leave the code usable.
	ac.used = true
	s.mu.Unlock()

	if ru := form.Get("redirect_uri"); ru != ac.redirectURI {
		return grant{}, errReplyMismatch(ru, ac.redirectURI)
	}
	if ac.challenge != "" && !verifierMatches(ac.challenge, ac.method, form.Get("code_verifier")) {
		return grant{}, errBadVerifier()
	}
	g := grant{t: ac.t, u: ac.u, client: client, q: ac.q, scopes: ac.scopes, nonce: ac.nonce, signedIn: ac.signedIn}
	// The scope may be restated (MSAL does); it must stay within what
	// the code covers or what is consented. OIDC scopes restated here
	// count even if the authorize request lacked them: MSAL Go's
	// confidential AuthCodeURL leaves them out and adds them only here,
	// and Entra still answers with an id token and a refresh token.
	if raw := form.Get("scope"); raw != "" {
		q, oe := s.parseScope(raw, ac.t.Name)
		if oe != nil {
			return grant{}, oe
		}
		var oidc []string
		for _, o := range oidcScopes {
			if q.hasOIDC(o) || ac.q.hasOIDC(o) {
				oidc = append(oidc, o)
			}
		}
		q.oidc = oidc
		if q.resource.ClientID != ac.q.resource.ClientID || q.dflt != ac.q.dflt || !subset(q.scopes, ac.scopes) {
			s.mu.Lock()
			scopes, oe := s.consentLocked(ac.t, ac.u, client, q, false)
			s.mu.Unlock()
			if oe != nil {
				return grant{}, oe
			}
			g.q, g.scopes = q, scopes
		} else {
			g.q = q
			if !q.dflt {
				g.scopes = q.scopes
			}
		}
	}
	return g, nil
}

func subset(a, b []string) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if strings.EqualFold(x, y) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// verifierMatches checks a PKCE code_verifier against the challenge (RFC 7636).
func verifierMatches(challenge, method, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

func (s *Server) redeemRefresh(form url.Values, t *directory.Tenant, multi bool, client *directory.App) (grant, *oauthError) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return grant{}, errMissingParam("refresh_token")
	}
	now := s.now()
	s.mu.Lock()
	rec := s.st.Refresh[refreshKey(rt)]
	var recCopy refreshRecord
	if rec != nil {
		recCopy = *rec
	}
	s.mu.Unlock()
	if rec == nil {
		return grant{}, errMalformed()
	}
	if !strings.EqualFold(recCopy.ClientID, client.ClientID) || !sameTenant(t, multi, recCopy.TenantID) {
		return grant{}, errGrantOtherClient("refresh_token")
	}
	if recCopy.Revoked {
		return grant{}, errGrantRevoked()
	}
	if inactive := now.Sub(recCopy.Issued); inactive > s.rtLife {
		return grant{}, errRefreshInactive(recCopy.Issued, inactive)
	}
	ut := s.dir.Tenant(recCopy.TenantID)
	if ut == nil {
		return grant{}, errGrantRevoked()
	}
	u := ut.User(recCopy.UserID)
	if u == nil {
		return grant{}, errGrantRevoked()
	}
	raw := form.Get("scope")
	if raw == "" {
		return grant{}, errMissingParam("scope")
	}
	q, oe := s.parseScope(raw, ut.Name)
	if oe != nil {
		return grant{}, oe
	}
	// A refresh token keeps the OIDC scopes of the sign-in; a refresh
	// cannot add new ones.
	// Entra returns a new refresh token on every refresh.
	var oidc []string
	for _, o := range oidcScopes {
		if slices.Contains(recCopy.OIDC, o) && (q.hasOIDC(o) || o == "offline_access") {
			oidc = append(oidc, o)
		}
	}
	q.oidc = oidc
	s.mu.Lock()
	scopes, oe := s.consentLocked(ut, u, client, q, false)
	s.mu.Unlock()
	if oe != nil {
		return grant{}, oe
	}
	return grant{t: ut, u: u, client: client, q: q, scopes: scopes, signedIn: recCopy.SignedIn}, nil
}

// RevokeUser revokes every refresh token of a user, as
// revokeSignInSessions does, and records when: access tokens of clients
// without the cp1 capability stay valid until they expire, while Graph
// refuses CAE tokens issued before it with a claims challenge ("Critical
// event evaluation": "Administrator explicitly revokes all refresh
// tokens for a user").
func (s *Server) RevokeUser(tenantID, userID string) error {
	t := s.dir.Tenant(tenantID)
	if t == nil {
		return errUnknownTenant(tenantID)
	}
	u := t.User(userID)
	if u == nil {
		return errUnknownUser(userID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.st.Refresh {
		if rec.TenantID == t.ID && rec.UserID == u.ID {
			rec.Revoked = true
		}
	}
	if s.st.Revocations == nil {
		s.st.Revocations = map[string]time.Time{}
	}
	s.st.Revocations[revocationKey(t.ID, u.ID)] = s.now()
	// A revocation is written at once: it must survive a crash.
	s.dirty = true
	if err := s.saveLocked(); err != nil {
		return fmt.Errorf("revoke sessions of user %s: %w", u.ID, err)
	}
	return nil
}
