// Package portal is the admin portal (issue 6), served by mapdrive-service
// under /portal/: IT admins sign in with Entra ID (authorization code +
// PKCE, confidential client) and manage their own tenant's drive
// mappings, policies and licence, read its audit log and get the Intune
// deployment command. Pages are server-rendered html/template with
// embedded templates and assets; htmx (vendored by vendor-htmx.sh)
// only enhances forms that work without it.
//
// Security: server-side sessions behind a __Host- cookie (Secure,
// HttpOnly, SameSite=Lax) that expire when idle and absolutely; a CSRF
// token on every form, checked on every POST together with the Origin;
// a strict CSP without inline script or style; HSTS and the other
// headers. Every store call takes the tenant from the signed-in session,
// never from the request.
//
// Sessions live in the database (store.PortalSession), so any replica
// serves any admin: a sign-in started on one finishes on another, and a
// sign-out on one ends the session on all of them.
package portal

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/authn"
	"github.com/mapdrive/mapdrive/service/internal/httpx"
	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/shared/version"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the portal is mounted.
const Prefix = "/portal"

// IDTokenValidator checks the signature, issuer, audience and lifetime of
// an Entra ID token (authn.Validator). It is not the API's access-token
// check, which refuses ID tokens.
type IDTokenValidator interface {
	ValidateIDToken(ctx context.Context, raw string) (*authn.Principal, error)
}

// Config configures the portal.
type Config struct {
	Store     *store.Store     // required
	Validator IDTokenValidator // required; must accept ClientID as audience
	Log       *slog.Logger     // required
	// AuthorityHost is the identity platform's base URL
	// (https://login.microsoftonline.com or m365sim's).
	AuthorityHost string
	GraphURL      string // e.g. https://graph.microsoft.com/v1.0
	ClientID      string // the service app (confidential client)
	ClientSecret  string // its secret; without it sign-in is off
	HTTPClient    *http.Client
	PublicURL     string // the service's external base URL
	// DesktopClientID is the desktop app's client ID for the deployment
	// command (CLIENTID).
	DesktopClientID string
	// MSIDir, if set, holds mapdrive-<version>-x64.msi for download.
	MSIDir string
	// MSIURL, if set, is where the deployment page sends admins for the
	// MSI instead.
	MSIURL string
	// ClientVersion is the Mapdrive client release whose MSI the deployment
	// page offers (x.y.z[-pre]); default version.Version, the release this
	// service was built as: the client and the service are released
	// together from the one VERSION file.
	ClientVersion string
	AdminRole     string        // default "Mapdrive.Admin"
	IdleTTL       time.Duration // session idle expiry, default 30 minutes
	MaxTTL        time.Duration // absolute session lifetime, default 8 hours
	TrialSeats    int           // seats of an onboarding trial, default 10
	TrialDays     int           // length of the trial, default 30
	Now           func() time.Time
}

// Deps is what mapdrive-service's serve command hands the portal when it
// mounts it at /portal/. It lives here, not in the command line package,
// so that the command line imports the portal and never the reverse.
type Deps struct {
	Store         *store.Store     // tenants, mappings, seats, audit (all tenant-scoped)
	Validator     *authn.Validator // validates Entra tokens
	Log           *slog.Logger     // redacting JSON logger
	AuthorityHost string           // e.g. https://login.microsoftonline.com or m365sim's base URL
	GraphURL      string           // e.g. https://graph.microsoft.com/v1.0
	ClientID      string           // the service/portal app registration
	ClientSecret  string           // its secret, for the confidential OIDC flow ("" if none)
	HTTPClient    *http.Client     // trusts the authority's CA (m365sim in dev)
	PublicURL     string           // the service's external base URL, e.g. https://localhost:8443
	// DesktopClientID is the desktop app's client ID the deployment page
	// shows and the admin-consent link names (--desktop-client-id); ""
	// means not configured, which both pages say.
	DesktopClientID string
	MSIDir          string // --msi-dir: folder holding mapdrive-<version>-x64.msi
	MSIURL          string // --msi-url: where the deployment page links the MSI instead
}

// New builds the portal from what serve hands it (the cli.PortalFactory
// mapdrive-service's main wires in).
func New(ctx context.Context, d Deps) (http.Handler, error) {
	if d.DesktopClientID == "" {
		d.Log.Warn("portal: no desktop app client id: the deployment page and the admin-consent link need --desktop-client-id (MAPDRIVESVC_DESKTOP_CLIENT_ID), the Application (client) ID of the \"Mapdrive\" app registration; see docs/entra-app-registration.md, step 2")
	}
	if d.ClientSecret == "" {
		d.Log.Warn("portal sign-in is off: no client secret (--client-secret-file)")
	}
	return NewServer(Config{Store: d.Store, Validator: d.Validator, Log: d.Log, AuthorityHost: d.AuthorityHost, GraphURL: d.GraphURL,
		ClientID: d.ClientID, ClientSecret: d.ClientSecret, HTTPClient: d.HTTPClient, PublicURL: d.PublicURL,
		DesktopClientID: d.DesktopClientID, MSIDir: d.MSIDir, MSIURL: d.MSIURL})
}

// Server is the portal. Immutable after NewServer; its sessions live in
// the database. Safe for concurrent use.
type Server struct {
	cfg      Config
	st       *store.Store
	log      *slog.Logger
	pages    *pages
	sessions *sessions
	graph    *graphClient
	oidc     *oidcClient
	signins  *httpx.RateLimiter // sign-ins started per client address
	origin   string             // scheme://host of PublicURL
	csp      string
	mux      *http.ServeMux
}

// NewServer builds the portal handler.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Validator == nil || cfg.Log == nil {
		return nil, errors.New("portal: store, validator and logger are required")
	}
	pu, err := url.Parse(strings.TrimSuffix(cfg.PublicURL, "/"))
	if err != nil || pu.Scheme == "" || pu.Host == "" {
		return nil, fmt.Errorf("portal: public URL %q is not an absolute URL", cfg.PublicURL)
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	cfg.AuthorityHost = strings.TrimSuffix(cfg.AuthorityHost, "/")
	cfg.GraphURL = strings.TrimSuffix(cfg.GraphURL, "/")
	au, err := url.Parse(cfg.AuthorityHost)
	if err != nil || au.Host == "" {
		return nil, fmt.Errorf("portal: authority %q is not an absolute URL", cfg.AuthorityHost)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.AdminRole == "" {
		cfg.AdminRole = "Mapdrive.Admin"
	}
	if cfg.ClientVersion == "" {
		cfg.ClientVersion = version.Version
	}
	if cfg.IdleTTL == 0 {
		cfg.IdleTTL = 30 * time.Minute
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = 8 * time.Hour
	}
	if cfg.TrialSeats == 0 {
		cfg.TrialSeats = 10
	}
	if cfg.TrialDays == 0 {
		cfg.TrialDays = 30
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pg, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, st: cfg.Store, log: cfg.Log, pages: pg, origin: pu.Scheme + "://" + pu.Host,
		sessions: newSessions(cfg.Store, cfg.IdleTTL, cfg.MaxTTL, cfg.Now),
		signins:  httpx.NewRateLimiter(0.5, 30, cfg.Now),
		graph:    &graphClient{base: cfg.GraphURL, hc: cfg.HTTPClient},
		oidc: &oidcClient{authority: cfg.AuthorityHost, clientID: cfg.ClientID, secret: cfg.ClientSecret, hc: cfg.HTTPClient,
			redirect: cfg.PublicURL + Prefix + "/auth/callback"},
	}
	authorityOrigin := au.Scheme + "://" + au.Host
	s.csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"form-action 'self' " + authorityOrigin + "; frame-ancestors 'none'; base-uri 'none'"
	s.mux = http.NewServeMux()
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+Prefix+rt.pattern, s.wrap(rt))
	}
	s.mux.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix, staticHandler()))
	s.mux.Handle(Prefix+"/", s.wrap(route{access: public, h: s.notFound}))
	return s, nil
}

// access is who may use a route.
type access int

const (
	public     access = iota // anyone
	signedIn                 // an admin of any tenant, registered or not (onboarding)
	registered               // an admin of a registered tenant
)

type route struct {
	method, pattern string
	access          access
	h               func(w http.ResponseWriter, r *http.Request, ss *session) error
}

// Routes lists every method and pattern the portal serves below /portal,
// for the isolation and CSRF matrices.
func (s *Server) Routes() []Route {
	var out []Route
	for _, rt := range s.routes() {
		out = append(out, Route{Method: rt.method, Pattern: rt.pattern, Public: rt.access == public})
	}
	return out
}

// Route is one portal route, as Routes lists it.
type Route struct {
	Method, Pattern string
	Public          bool // served without a session
}

func (s *Server) routes() []route {
	return []route{
		{"GET", "/{$}", public, s.home},
		{"GET", "/signin", public, s.signInPage},
		{"GET", "/auth/login", public, s.login},
		{"GET", "/auth/callback", public, s.callback},
		{"POST", "/auth/signout", public, s.signOut},
		{"GET", "/onboarding", signedIn, s.onboardingPage},
		{"POST", "/onboarding", signedIn, s.onboard},
		{"GET", "/mappings", registered, s.mappingsPage},
		{"GET", "/mappings/new", registered, s.newMappingPage},
		{"POST", "/mappings/new", registered, s.saveMapping},
		{"GET", "/mappings/{id}/edit", registered, s.editMappingPage},
		{"POST", "/mappings/{id}/edit", registered, s.saveMapping},
		{"POST", "/mappings/{id}/delete", registered, s.deleteMapping},
		{"POST", "/mappings/{id}/move", registered, s.moveMapping},
		{"GET", "/libraries", registered, s.librariesFragment},
		{"GET", "/groups", registered, s.groupsFragment},
		{"GET", "/licence", registered, s.licencePage},
		{"GET", "/licence/chart.svg", registered, s.licenceChart},
		{"GET", "/audit", registered, s.auditPage},
		{"GET", "/policies", registered, s.policiesPage},
		{"POST", "/policies", registered, s.savePolicies},
		{"GET", "/deployment", registered, s.deploymentPage},
		{"GET", "/download/{name}", registered, s.download},
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", s.csp)
	h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: with no-referrer Chromium sends
	// "Origin: null" on the portal's own form posts, which the origin check
	// must refuse (found by the browser test).
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
	if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
		h.Set("Cache-Control", "no-store")
	}
	s.mux.ServeHTTP(w, r)
}

// pageError is an error shown to the admin with a status code. Msg is
// safe to show: never personal data of others, never a token.
type pageError struct {
	Status int
	Title  string
	Msg    string
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Title, e.Msg) }

func errPage(status int, title, format string, a ...any) *pageError {
	return &pageError{Status: status, Title: title, Msg: fmt.Sprintf(format, a...)}
}

// wrap adds the session, access control and CSRF check to a route, and
// turns errors into error pages.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss, err := s.sessions.get(r)
		if err == nil {
			err = s.check(r, rt, ss)
		}
		if err == nil {
			err = rt.h(w, r, ss)
		}
		if err == nil {
			return
		}
		if red, ok := err.(redirectErr); ok {
			http.Redirect(w, r, string(red), http.StatusSeeOther)
			return
		}
		var pe *pageError
		if !errors.As(err, &pe) {
			s.log.ErrorContext(r.Context(), "portal request failed", "route", rt.pattern, "err", err)
			pe = errPage(http.StatusInternalServerError, "Something went wrong", "The portal could not complete this request. Try again; if it keeps failing, contact your Mapdrive operator.")
		} else if pe.Status >= 500 {
			s.log.WarnContext(r.Context(), "portal request failed", "route", rt.pattern, "err", err)
		}
		s.renderError(w, r, ss, pe)
	})
}

// redirectErr is returned by a handler (or the access check) to send the
// browser elsewhere with 303.
type redirectErr string

func (e redirectErr) Error() string { return "redirect to " + string(e) }

func (s *Server) check(r *http.Request, rt route, ss *session) error {
	if r.Method == http.MethodPost {
		if err := s.checkCSRF(r, ss); err != nil {
			return err
		}
	}
	if rt.access == public {
		return nil
	}
	if ss == nil || !ss.signedIn() {
		if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" {
			return redirectErr(Prefix + "/signin?next=" + url.QueryEscape(r.URL.RequestURI()))
		}
		return errPage(http.StatusUnauthorized, "Sign in", "Your session has ended. Sign in again.")
	}
	if rt.access == registered {
		if _, err := s.st.Tenant(r.Context(), ss.TenantID); errors.Is(err, store.ErrNotFound) {
			return redirectErr(Prefix + "/onboarding")
		} else if err != nil {
			return err
		}
	}
	return nil
}

// checkCSRF refuses a POST without the session's CSRF token, or from a
// foreign origin.
func (s *Server) checkCSRF(r *http.Request, ss *session) error {
	if o := r.Header.Get("Origin"); o != "" && o != s.origin {
		return errPage(http.StatusForbidden, "Request refused", "The form was sent from another site (%s). Reload the page and try again.", o)
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return errPage(http.StatusForbidden, "Request refused", "The form was sent from another site. Reload the page and try again.")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		if err := r.ParseForm(); err != nil {
			return errPage(http.StatusBadRequest, "Bad request", "The form could not be read.")
		}
		tok = r.PostForm.Get("csrf")
	}
	if ss == nil || !ss.csrfOK(tok) {
		return errPage(http.StatusForbidden, "Request refused", "The form's security token is missing or out of date. Reload the page and try again.")
	}
	return nil
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, ss *session) error {
	return errPage(http.StatusNotFound, "Page not found", "There is no such page in the portal.")
}

func (s *Server) home(w http.ResponseWriter, r *http.Request, ss *session) error {
	if ss == nil || !ss.signedIn() {
		return redirectErr(Prefix + "/signin")
	}
	return redirectErr(Prefix + "/mappings")
}
