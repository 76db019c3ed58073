package portal

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mapdrive/mapdrive/service/internal/authn"
	"github.com/mapdrive/mapdrive/shared/logredact"
)

// graphScopes are the delegated Graph permissions the portal asks for at
// sign-in: resolving site URLs to libraries and searching groups.
const graphScopes = "Sites.Read.All Group.Read.All"

// oidcClient runs the authorization code flow with PKCE as a
// confidential client against Entra's v2.0 endpoints, multi-tenant
// (/organizations).
type oidcClient struct {
	authority string // immutable, no trailing slash
	clientID  string
	secret    string
	redirect  string
	hc        *http.Client
}

// pkceChallenge is the S256 challenge of verifier (RFC 7636).
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (o *oidcClient) authorizeURL(state, nonce, verifier string) string {
	q := url.Values{
		"client_id":             {o.clientID},
		"response_type":         {"code"},
		"redirect_uri":          {o.redirect},
		"response_mode":         {"query"},
		"scope":                 {"openid profile offline_access " + graphScopes},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {pkceChallenge(verifier)},
		"code_challenge_method": {"S256"},
		"prompt":                {"select_account"},
	}
	return o.authority + "/organizations/oauth2/v2.0/authorize?" + q.Encode()
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// redeem posts a grant to the token endpoint of tenant ("organizations"
// or a tenant GUID).
func (o *oidcClient) redeem(ctx context.Context, tenant string, form url.Values) (*tokenResponse, error) {
	form.Set("client_id", o.clientID)
	form.Set("client_secret", o.secret)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.authority+"/"+url.PathEscape(tenant)+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := o.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr); err != nil {
		return nil, fmt.Errorf("token endpoint answered %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || tr.Error != "" {
		return nil, &oauthError{Code: tr.Error, Description: tr.Description, Status: resp.StatusCode}
	}
	return &tr, nil
}

// oauthError is an error answer of the token endpoint.
type oauthError struct {
	Status      int
	Code        string
	Description string
}

func (e *oauthError) Error() string {
	d, _, _ := strings.Cut(e.Description, "\r\n") // Entra appends trace ids on further lines
	return fmt.Sprintf("token endpoint: %d %s: %s", e.Status, e.Code, d)
}

// idClaims are the id token claims the portal reads after the signature,
// issuer, audience and lifetime were verified.
type idClaims struct {
	jwt.RegisteredClaims
	Nonce             string   `json:"nonce"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Roles             []string `json:"roles"`
	Tid               string   `json:"tid"`
	Oid               string   `json:"oid"`
}

// verifyIDToken validates an id token and its nonce.
func (s *Server) verifyIDToken(ctx context.Context, raw, nonce string) (*authn.Principal, *idClaims, error) {
	p, err := s.cfg.Validator.ValidateIDToken(ctx, raw)
	if err != nil {
		return nil, nil, fmt.Errorf("id token: %w", err)
	}
	// The signature was verified above; read the claims it does not.
	var c idClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &c); err != nil {
		return nil, nil, fmt.Errorf("id token claims: %w", err)
	}
	if len(c.Audience) != 1 || c.Audience[0] != s.cfg.ClientID {
		return nil, nil, errors.New("id token: audience is not the portal")
	}
	if nonce == "" || c.Nonce != nonce {
		return nil, nil, errors.New("id token: nonce does not match the sign-in")
	}
	return p, &c, nil
}

// signInPage is the public landing page.
func (s *Server) signInPage(w http.ResponseWriter, r *http.Request, ss *session) error {
	if ss.signedIn() {
		return redirectErr(Prefix + "/mappings")
	}
	return s.render(w, r, ss, http.StatusOK, &signInView{Base: Base{Title: "Sign in"}, Enabled: s.cfg.ClientSecret != "",
		Next: safeNext(r.URL.Query().Get("next"))})
}

// safeNext keeps a post-sign-in destination only if it is a portal path.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

// login starts a sign-in: a fresh pre-auth session holds state, nonce and
// the PKCE verifier, and the browser goes to Entra.
func (s *Server) login(w http.ResponseWriter, r *http.Request, ss *session) error {
	if s.cfg.ClientSecret == "" {
		return errPage(http.StatusServiceUnavailable, "Sign-in unavailable", "The service has no client secret configured, so the portal cannot sign anyone in. Ask your Mapdrive operator.")
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	if ok, wait := s.signins.Allow(ip); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return errPage(http.StatusTooManyRequests, "Too many sign-ins", "Too many sign-ins were started from your address. Wait a minute and try again.")
	}
	if ss != nil {
		if err := s.sessions.destroy(r.Context(), w, ss.ID); err != nil {
			return err
		}
	}
	n, err := s.sessions.create(r.Context(), w, func(n *session) {
		n.State, n.Nonce, n.Verifier = randomID(), randomID(), randomID()
		n.Next = safeNext(r.URL.Query().Get("next"))
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, s.oidc.authorizeURL(n.State, n.Nonce, n.Verifier), http.StatusFound)
	return nil
}

// callback finishes a sign-in: it checks state, redeems the code with
// the PKCE verifier and the client secret, validates the id token and
// its nonce, and admits only holders of the admin role.
func (s *Server) callback(w http.ResponseWriter, r *http.Request, ss *session) error {
	q := r.URL.Query()
	if ss == nil || ss.State == "" || subtleEq(q.Get("state"), ss.State) == false {
		return errPage(http.StatusBadRequest, "Sign-in failed", "This sign-in was not started here, or it took too long. Start again from the sign-in page.")
	}
	if e := q.Get("error"); e != "" {
		s.endSignIn(r.Context(), w, ss)
		desc, _, _ := strings.Cut(q.Get("error_description"), "\r\n")
		if len(desc) > 300 {
			desc = desc[:300]
		}
		return errPage(http.StatusForbidden, "Sign-in failed", "Microsoft Entra ID refused the sign-in (%s): %s", e, desc)
	}
	tr, err := s.oidc.redeem(r.Context(), "organizations", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {s.oidc.redirect}, "code_verifier": {ss.Verifier}, "scope": {"openid profile offline_access " + graphScopes}})
	if err != nil {
		s.endSignIn(r.Context(), w, ss)
		s.log.WarnContext(r.Context(), "portal sign-in: code redemption failed", "err", err)
		return errPage(http.StatusBadGateway, "Sign-in failed", "The sign-in could not be completed with Microsoft Entra ID. Try again.")
	}
	p, c, err := s.verifyIDToken(r.Context(), tr.IDToken, ss.Nonce)
	if err != nil {
		s.endSignIn(r.Context(), w, ss)
		s.log.WarnContext(r.Context(), "portal sign-in: id token refused", "err", err)
		return errPage(http.StatusForbidden, "Sign-in failed", "The identity token was not valid. Try again.")
	}
	// A new session id after sign-in: a planted pre-auth id is worthless.
	if err := s.sessions.destroy(r.Context(), w, ss.ID); err != nil {
		return err
	}
	if !slices.Contains(c.Roles, s.cfg.AdminRole) {
		s.log.InfoContext(r.Context(), "portal sign-in refused: no admin role", "tenant", p.TenantID)
		return &pageError{Status: http.StatusForbidden, Title: "You need the " + s.cfg.AdminRole + " role",
			Msg: "You signed in as " + c.PreferredUsername + ", but only holders of the " + s.cfg.AdminRole + " app role of your organisation may use the Mapdrive admin portal. " +
				"Ask an administrator of your organisation to assign you the role (Entra admin center → Enterprise applications → Mapdrive Service → Users and groups)."}
	}
	next := ss.Next
	// The session keeps the admin's pseudonym and sign-in domain, never
	// the UPN or object id: it lives in the database (issue 12).
	_, domain, _ := strings.Cut(c.PreferredUsername, "@")
	n, err := s.sessions.create(r.Context(), w, func(n *session) {
		n.TenantID, n.Actor, n.Name, n.Domain = p.TenantID, s.st.Secrets().Actor(p.TenantID, p.ObjectID), c.Name, strings.ToLower(domain)
		n.Graph = graphToken{Access: logredact.Secret(tr.AccessToken), Refresh: logredact.Secret(tr.RefreshToken),
			Expires: s.cfg.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)}
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "portal sign-in", "tenant", n.TenantID, "actor", n.Actor)
	if next == "" {
		next = Prefix + "/mappings"
	}
	return redirectErr(next)
}

// endSignIn drops a failed sign-in's session; the failure is what the
// admin sees, so a database error here is only logged.
func (s *Server) endSignIn(ctx context.Context, w http.ResponseWriter, ss *session) {
	if err := s.sessions.destroy(ctx, w, ss.ID); err != nil {
		s.log.WarnContext(ctx, "portal sign-in: drop the failed sign-in's session", "err", err)
	}
}

func subtleEq(a, b string) bool { return a != "" && len(a) == len(b) && (&session{CSRF: b}).csrfOK(a) }

// signOut ends the session here and at Entra.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request, ss *session) error {
	if ss != nil {
		if err := s.sessions.destroy(r.Context(), w, ss.ID); err != nil {
			return err
		}
	}
	q := url.Values{"post_logout_redirect_uri": {s.cfg.PublicURL + Prefix + "/signin"}, "client_id": {s.cfg.ClientID}}
	return redirectErr(s.cfg.AuthorityHost + "/organizations/oauth2/v2.0/logout?" + q.Encode())
}

// graphAccess returns a live delegated Graph token of the session,
// refreshing it when it is about to expire.
func (s *Server) graphAccess(ctx context.Context, ss *session) (string, error) {
	if s.cfg.Now().Before(ss.Graph.Expires.Add(-time.Minute)) && ss.Graph.Access != "" {
		return ss.Graph.Access.Reveal(), nil
	}
	if ss.Graph.Refresh == "" {
		return "", errPage(http.StatusUnauthorized, "Sign in again", "Your Microsoft Graph access has expired. Sign out and in again.")
	}
	tr, err := s.oidc.redeem(ctx, ss.TenantID, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ss.Graph.Refresh.Reveal()},
		"scope": {graphScopes + " offline_access"}})
	if err != nil {
		s.log.WarnContext(ctx, "portal: Graph token refresh failed", "tenant", ss.TenantID, "err", err)
		return "", errPage(http.StatusUnauthorized, "Sign in again", "Your Microsoft Graph access could not be renewed. Sign out and in again.")
	}
	tok := graphToken{Access: logredact.Secret(tr.AccessToken), Refresh: ss.Graph.Refresh, Expires: s.cfg.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)}
	if tr.RefreshToken != "" {
		tok.Refresh = logredact.Secret(tr.RefreshToken)
	}
	if err := s.sessions.setGraph(ctx, ss.ID, tok); err != nil {
		return "", err
	}
	ss.Graph = tok
	return tok.Access.Reveal(), nil
}
