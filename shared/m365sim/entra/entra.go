// Package entra is the Entra ID face of the m365sim simulator: the parts of
// the Microsoft identity platform (v2.0 endpoints) that MSAL Go and our
// service call. It serves OpenID discovery and the JWKS, the device-code,
// authorization-code (+PKCE) and refresh-token grants, a small sign-in page
// and a device-login page, and issues RS256 access and id tokens shaped as
// Entra's, for Microsoft Graph and for API apps of the directory.
//
// Tenants, users, groups, app registrations and admin consents come from
// package directory; the signing key from package token. Refresh tokens and
// the consents users give at sign-in are kept in Config.DataDir so that a
// restart keeps them. Errors are answered as Entra answers them: an OAuth
// error, an AADSTS number and trace/correlation ids.
package entra

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/token"
)

// Config configures a Server.
type Config struct {
	// BaseURL is the scheme, host and port the simulator is reached at,
	// without a trailing slash, such as "https://localhost:9443". The issuer
	// of tenant tid is BaseURL+"/"+tid+"/v2.0".
	BaseURL string
	// DataDir keeps refresh tokens and the consents users gave at sign-in.
	// Empty keeps them in memory only.
	DataDir string
	// Logger receives debug and error logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AccessTokenLifetime defaults to 1h.
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime is the inactivity lifetime of a refresh token
	// (Entra: 90 days).
	RefreshTokenLifetime time.Duration
	// CAEAccessTokenLifetime is the lifetime of Graph access tokens of
	// clients that declared the cp1 capability (a CAE session); default
	// 24h, within Entra's "up to 28 hours".
	CAEAccessTokenLifetime time.Duration
	// ClaimsRequested, when set, is told of every token issued in answer
	// to a claims challenge (claims beyond the client's capabilities):
	// the user and the claims request as sent. For counters and tests.
	ClaimsRequested func(tenantID, userID, claims string)
}

// Lifetimes of the short-lived artefacts, as Entra documents them.
const (
	authCodeLifetime   = 10 * time.Minute
	deviceCodeLifetime = 15 * time.Minute
	deviceCodeInterval = 5 * time.Second
	maxFormBytes       = 1 << 20
	groupsOverage      = 200 // JWT groups limit before the overage claim
)

// Server is the Entra face. Create it with New; it is safe for concurrent use.
type Server struct {
	// Constant after New.
	base      string
	dir       *directory.Directory
	keys      *token.Keys
	log       *slog.Logger
	nowFn     func() time.Time
	atLife    time.Duration
	caeLife   time.Duration
	rtLife    time.Duration
	onClaims  func(tenantID, userID, claims string) // nil: nobody listens
	statePath string                                // "" = not persisted
	pages     *template.Template

	saveKick chan struct{} // 1-buffered: state changed, write it soon
	stop     chan struct{} // closed by Close
	saver    sync.WaitGroup

	mu        sync.Mutex // guards the fields below
	codes     map[string]*authCode
	devices   map[string]*deviceCode // by device_code
	userCodes map[string]string      // user_code -> device_code
	st        *state
	dirty     bool // st changed since it was last written
	closed    bool
}

// saveDelay batches state writes: a burst of sign-ins costs one write.
const saveDelay = 100 * time.Millisecond

// New returns a Server for the directory, signing with keys. It loads the
// state kept in cfg.DataDir.
func New(cfg Config, dir *directory.Directory, keys *token.Keys) (*Server, error) {
	if dir == nil || keys == nil {
		return nil, errors.New("entra: directory and keys are required")
	}
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	if !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("entra: base URL %q must be https (MSAL accepts only https authorities)", cfg.BaseURL)
	}
	s := &Server{
		base:      base,
		dir:       dir,
		keys:      keys,
		log:       cfg.Logger,
		nowFn:     cfg.Now,
		atLife:    cfg.AccessTokenLifetime,
		caeLife:   cfg.CAEAccessTokenLifetime,
		rtLife:    cfg.RefreshTokenLifetime,
		onClaims:  cfg.ClaimsRequested,
		codes:     map[string]*authCode{},
		devices:   map[string]*deviceCode{},
		userCodes: map[string]string{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.nowFn == nil {
		s.nowFn = time.Now
	}
	if s.atLife <= 0 {
		s.atLife = time.Hour
	}
	if s.caeLife <= 0 {
		s.caeLife = 24 * time.Hour
	}
	if s.rtLife <= 0 {
		s.rtLife = 90 * 24 * time.Hour
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("entra: parse pages: %w", err)
	}
	s.pages = pages
	st, path, err := loadState(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	s.st, s.statePath = st, path
	s.saveKick, s.stop = make(chan struct{}, 1), make(chan struct{})
	if path != "" {
		s.saver.Add(1)
		go s.saveLoop()
	}
	return s, nil
}

// saveLoop writes the state a little after it changes, off the request
// path. Close stops it and writes what is left.
func (s *Server) saveLoop() {
	defer s.saver.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.saveKick:
		}
		select {
		case <-s.stop:
			return
		case <-time.After(saveDelay):
		}
		s.mu.Lock()
		if err := s.saveLocked(); err != nil {
			s.log.Error("entra: store state", "err", err)
		}
		s.mu.Unlock()
	}
}

// changedLocked notes a state change for saveLoop. s.mu must be held.
func (s *Server) changedLocked() {
	s.dirty = true
	select {
	case s.saveKick <- struct{}{}:
	default:
	}
}

// Handler returns the HTTP handler of every Entra endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.serveDiscovery)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.serveKeys)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/devicecode", s.serveDeviceCode)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", s.serveToken)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/authorize", s.serveAuthorize)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/logout", s.serveLogout)
	mux.HandleFunc("/devicelogin", s.serveDeviceLogin)
	mux.HandleFunc("GET /error", s.serveErrorLookup)
	return mux
}

// Close stops the background writer and stores the state a last time.
// The handler must not be used after.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.saver.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saveLocked()
}

func (s *Server) now() time.Time { return s.nowFn() }

// issuer is the v2.0 issuer of tenant tid.
func (s *Server) issuer(tid string) string { return s.base + "/" + tid + "/v2.0" }

// V1Issuer is the issuer of tenant tid's v1.0 access tokens. Entra names
// sts.windows.net there whatever host issued the token (global cloud), so
// the simulator does the same: a service configured for the real cloud
// accepts the simulator's v1.0 tokens unchanged.
func V1Issuer(tid string) string { return "https://sts.windows.net/" + tid + "/" }

// tenantFromPath resolves the {tenant} path segment. multi reports the
// "common" and "organizations" authorities, which name no tenant.
func (s *Server) tenantFromPath(r *http.Request) (t *directory.Tenant, multi bool, e *oauthError) {
	seg := r.PathValue("tenant")
	switch strings.ToLower(seg) {
	case "common", "organizations":
		return nil, true, nil
	}
	if t := s.dir.Tenant(seg); t != nil {
		return t, false, nil
	}
	return nil, false, errUnknownTenant(seg)
}

// userByUPN finds a user by UPN, in tenant t or, when t is nil, in the
// tenant that owns the UPN's domain.
func (s *Server) userByUPN(t *directory.Tenant, upn string) (*directory.Tenant, *directory.User) {
	upn = strings.TrimSpace(upn)
	if upn == "" {
		return nil, nil
	}
	if t != nil {
		if u := t.User(upn); u != nil {
			return t, u
		}
		return nil, nil
	}
	_, domain, ok := strings.Cut(upn, "@")
	if !ok {
		return nil, nil
	}
	if dt := s.dir.Tenant(domain); dt != nil {
		if u := dt.User(upn); u != nil {
			return dt, u
		}
	}
	return nil, nil
}

// lookupClient finds a registered client application by client ID.
func (s *Server) lookupClient(clientID string) *directory.App {
	app := s.dir.App(clientID)
	if app == nil || !strings.EqualFold(app.ClientID, clientID) || app.ClientID == directory.GraphAppID {
		return nil
	}
	return app
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
