package entra

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// authCode is an issued authorization code, redeemable once.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string // PKCE; "" when none was sent
	method      string // "S256" or "plain"
	nonce       string
	t           *directory.Tenant
	u           *directory.User
	q           *scopeRequest
	scopes      []string
	signedIn    time.Time
	expires     time.Time
	used        bool
}

// authzRequest is a validated authorize request.
type authzRequest struct {
	t         *directory.Tenant // nil for common/organizations
	tenantSeg string
	client    *directory.App
	redirect  string
	mode      string // query, fragment or form_post
	state     string
	nonce     string
	prompt    string
	loginHint string
	challenge string
	method    string
	q         *scopeRequest
	params    url.Values // the request parameters, to carry through the sign-in form
}

// authorizeParams are carried from the sign-in page back to its POST.
var authorizeParams = []string{"client_id", "response_type", "redirect_uri", "scope", "state", "nonce", "prompt",
	"login_hint", "domain_hint", "response_mode", "code_challenge", "code_challenge_method"}

// parseAuthorize validates an authorize request. Errors the app cannot be
// told about (tenant, client, redirect URI) come back as pageErr; the
// others as redirErr, to send to the redirect URI the OAuth way.
func (s *Server) parseAuthorize(r *http.Request, p url.Values) (a *authzRequest, pageErr, redirErr *oauthError) {
	t, _, oe := s.tenantFromPath(r)
	if oe != nil {
		return nil, oe, nil
	}
	a = &authzRequest{t: t, tenantSeg: r.PathValue("tenant"), params: url.Values{}}
	for _, k := range authorizeParams {
		if v := p.Get(k); v != "" {
			a.params.Set(k, v)
		}
	}
	clientID := p.Get("client_id")
	if clientID == "" {
		return nil, errMissingParam("client_id"), nil
	}
	if a.client = s.lookupClient(clientID); a.client == nil {
		return nil, errUnknownClient(clientID, a.tenantSeg), nil
	}
	a.redirect = p.Get("redirect_uri")
	if a.redirect == "" {
		return nil, errMissingParam("redirect_uri"), nil
	}
	if !redirectAllowed(a.client.RedirectURIs, a.redirect) {
		return nil, errRedirectURI(a.redirect, a.client.ClientID), nil
	}
	a.mode = p.Get("response_mode")
	switch a.mode {
	case "":
		a.mode = "query"
	case "query", "fragment", "form_post":
	default:
		a.mode = "query"
		return a, nil, badRequest("invalid_request", 900144, "The provided value '%s' for the input parameter 'response_mode' is not valid. Use query, fragment or form_post.", p.Get("response_mode"))
	}
	a.state, a.nonce, a.prompt, a.loginHint = p.Get("state"), p.Get("nonce"), p.Get("prompt"), p.Get("login_hint")
	if rt := p.Get("response_type"); rt != "code" {
		if rt == "" {
			return a, nil, errMissingParam("response_type")
		}
		return a, nil, errUnsupportedResponseType(rt)
	}
	if a.challenge = p.Get("code_challenge"); a.challenge != "" {
		a.method = p.Get("code_challenge_method")
		if a.method == "" {
			a.method = "plain" // RFC 7636 4.3
		}
		if a.method != "S256" && a.method != "plain" {
			return a, nil, errBadChallengeMethod(a.method)
		}
	}
	tenantName := a.tenantSeg
	if t != nil {
		tenantName = t.Name
	}
	if a.q, oe = s.parseScope(p.Get("scope"), tenantName); oe != nil {
		return a, nil, oe
	}
	if a.prompt == "none" {
		// The simulator keeps no browser session, so a silent sign-in
		// always needs the user.
		return a, nil, errLoginRequired()
	}
	return a, nil, nil
}

// redirectAllowed applies Entra's redirect URI rules: an exact match, or
// for a registered http loopback URI any port with the same path
// (https://learn.microsoft.com/entra/identity-platform/reply-url#localhost-exceptions).
func redirectAllowed(registered []string, uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Fragment != "" || u.Host == "" {
		return false
	}
	for _, reg := range registered {
		if reg == uri {
			return true
		}
		rr, err := url.Parse(reg)
		if err != nil || rr.Scheme != "http" || !isLoopback(rr.Hostname()) {
			continue
		}
		if u.Scheme == "http" && strings.EqualFold(u.Hostname(), rr.Hostname()) &&
			strings.TrimSuffix(u.Path, "/") == strings.TrimSuffix(rr.Path, "/") && u.RawQuery == rr.RawQuery {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	return strings.EqualFold(host, "localhost") || host == "127.0.0.1" || host == "::1"
}

func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	var p url.Values
	switch r.Method {
	case http.MethodGet:
		p = r.URL.Query()
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			s.pageError(w, r, errMalformed())
			return
		}
		p = r.PostForm
	default:
		s.pageError(w, r, errMalformed())
		return
	}
	a, pageErr, redirErr := s.parseAuthorize(r, p)
	switch {
	case pageErr != nil:
		s.pageError(w, r, pageErr)
		return
	case redirErr != nil:
		s.deliver(w, a, s.errorParams(r, a, redirErr))
		return
	}
	if r.Method == http.MethodGet || p.Get("signin") == "" {
		s.signInPage(w, a, "", http.StatusOK)
		return
	}
	upn := p.Get("pick")
	if upn == "" {
		upn = p.Get("login")
	}
	t, u := s.userByUPN(a.t, upn)
	if u == nil {
		s.signInPage(w, a, errUnknownUser(upn).msg, http.StatusOK)
		return
	}
	s.mu.Lock()
	scopes, oe := s.consentLocked(t, u, a.client, a.q, true)
	s.mu.Unlock()
	if oe != nil {
		if oe.aadsts == 90094 {
			s.adminApprovalPage(w, r, a, oe)
			return
		}
		s.deliver(w, a, s.errorParams(r, a, oe))
		return
	}
	now := s.now()
	code := "1.A" + randomToken(64)
	s.mu.Lock()
	for k, c := range s.codes { // forget spent and stale codes
		if now.After(c.expires.Add(authCodeLifetime)) {
			delete(s.codes, k)
		}
	}
	s.codes[code] = &authCode{
		clientID: a.client.ClientID, redirectURI: a.redirect, challenge: a.challenge, method: a.method,
		nonce: a.nonce, t: t, u: u, q: a.q, scopes: scopes, signedIn: now, expires: now.Add(authCodeLifetime),
	}
	s.mu.Unlock()
	s.log.Debug("entra auth code issued", "client", a.client.ClientID, "tenant", t.ID)
	out := url.Values{"code": {code}, "session_state": {newGUID()}}
	if a.state != "" {
		out.Set("state", a.state)
	}
	s.deliver(w, a, out)
}

// errorParams are the OAuth error parameters sent to the redirect URI.
func (s *Server) errorParams(r *http.Request, a *authzRequest, e *oauthError) url.Values {
	out := url.Values{
		"error":             {e.code},
		"error_description": {e.description(newGUID(), correlationID(r), s.now())},
		"error_uri":         {s.base + "/error?code=" + itoa(e.aadsts)},
	}
	if e.suberror != "" {
		out.Set("error_subcode", e.suberror)
	}
	if a.state != "" {
		out.Set("state", a.state)
	}
	return out
}

// deliver sends params to the client's redirect URI in its response mode.
func (s *Server) deliver(w http.ResponseWriter, a *authzRequest, params url.Values) {
	switch a.mode {
	case "form_post":
		s.render(w, http.StatusOK, "formpost", formPage{Action: a.redirect, Fields: fields(params)})
	case "fragment":
		w.Header().Set("Location", a.redirect+"#"+params.Encode())
		w.WriteHeader(http.StatusFound)
	default:
		sep := "?"
		if strings.Contains(a.redirect, "?") {
			sep = "&"
		}
		w.Header().Set("Location", a.redirect+sep+params.Encode())
		w.WriteHeader(http.StatusFound)
	}
}

func (s *Server) signInPage(w http.ResponseWriter, a *authzRequest, errText string, status int) {
	pg := signInPage{
		Action:    "/" + a.tenantSeg + "/oauth2/v2.0/authorize",
		Fields:    fields(a.params),
		AppName:   a.client.DisplayName,
		LoginHint: a.loginHint,
		Error:     errText,
	}
	if a.t != nil {
		pg.Tenant = a.t.DisplayName
		for i := range a.t.Users {
			u := &a.t.Users[i]
			pg.Users = append(pg.Users, userOption{UPN: a.t.UPN(u), Name: u.DisplayName})
		}
	}
	pg.Permissions = permissionList(a.q)
	s.render(w, status, "signin", pg)
}

// adminApprovalPage is Entra's "Need admin approval" page. Its button
// returns to the app with the error, as "Return to the application without
// granting consent" does.
func (s *Server) adminApprovalPage(w http.ResponseWriter, r *http.Request, a *authzRequest, e *oauthError) {
	params := s.errorParams(r, a, e)
	pg := messagePage{
		Title: "Need admin approval",
		Text: a.client.DisplayName + " needs permission to access resources in your organization that only an admin can grant. " +
			"Please ask an admin to grant permission to this app before you can use it.",
		Code:   "AADSTS" + itoa(e.aadsts) + ": " + e.msg,
		Action: a.redirect, Method: "post", Button: "Return to the application without granting consent",
		Fields: fields(params),
	}
	switch a.mode {
	case "query":
		pg.Method = "get"
	case "fragment":
		pg.Action, pg.Method, pg.Fields = a.redirect+"#"+params.Encode(), "get", nil
	}
	s.render(w, http.StatusOK, "message", pg)
}

// pageError shows an error Entra cannot send back to the app.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, e *oauthError) {
	s.log.Debug("entra page error", "path", r.URL.Path, "aadsts", e.aadsts)
	s.render(w, http.StatusBadRequest, "message", messagePage{
		Title: "Sign in",
		Text:  "Sorry, but we're having trouble signing you in.",
		Code:  e.description(newGUID(), correlationID(r), s.now()),
	})
}

// permissionList names the permissions a sign-in asks for.
func permissionList(q *scopeRequest) []string {
	var out []string
	res := q.resource.DisplayName
	if q.dflt {
		out = append(out, "All permissions the app has on "+res)
	}
	for _, sc := range q.scopes {
		out = append(out, sc+" ("+res+")")
	}
	if q.hasOIDC("openid") || q.hasOIDC("profile") {
		out = append(out, "Sign you in and read your profile")
	}
	if q.hasOIDC("offline_access") {
		out = append(out, "Maintain access to data you have given it access to")
	}
	return out
}

func (s *Server) serveLogout(w http.ResponseWriter, r *http.Request) {
	if _, _, oe := s.tenantFromPath(r); oe != nil {
		s.pageError(w, r, oe)
		return
	}
	_ = r.ParseForm()
	// Entra sends the browser on only to a redirect URI registered for the app.
	post := r.Form.Get("post_logout_redirect_uri")
	if app := s.lookupClient(r.Form.Get("client_id")); post != "" && app != nil && redirectAllowed(app.RedirectURIs, post) {
		w.Header().Set("Location", post)
		w.WriteHeader(http.StatusFound)
		return
	}
	s.render(w, http.StatusOK, "message", messagePage{Title: "You signed out of your account",
		Text: "It's a good idea to close all browser windows."})
}

// serveErrorLookup is the target of error_uri, like
// login.microsoftonline.com/error: it names the code looked up.
func (s *Server) serveErrorLookup(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	if _, err := strconv.Atoi(code); err != nil {
		code = ""
	}
	text := "Look up an AADSTS error code with ?code=NNNNN."
	if code != "" {
		text = "AADSTS" + code + ": see https://learn.microsoft.com/entra/identity-platform/reference-error-codes for its meaning and fixes."
	}
	s.render(w, http.StatusOK, "message", messagePage{Title: "Error code lookup", Text: text})
}
