// Package api serves the service's versioned REST API (/v1): licence
// validation and mappings for the client, mapping and tenant
// administration for holders of the Mapdrive.Admin role, plus health,
// readiness, metrics and the OpenAPI document. Every route is in the
// table in routes(); every tenant-scoped query goes through the caller's
// token tenant.
package api

import (
	"context"
	"crypto/ed25519"
	_ "embed"
	"errors"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mapdrive/mapdrive/service/internal/authn"
	"github.com/mapdrive/mapdrive/service/internal/httpx"
	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/lease"
)

// TokenValidator validates bearer tokens (authn.Validator).
type TokenValidator interface {
	Validate(ctx context.Context, raw string) (*authn.Principal, error)
}

// GroupResolver lists a user's groups when the token has too many to
// carry them (authn.GraphGroups).
type GroupResolver interface {
	MemberOf(ctx context.Context, p *authn.Principal) ([]string, error)
}

// Config configures the API.
type Config struct {
	Store     *store.Store   // required
	Validator TokenValidator // required
	Groups    GroupResolver  // optional; without it an overage token gets 503
	Scope     string         // delegated scope clients need; default "Mapdrive.Access"
	AdminRole string         // app role admins need; default "Mapdrive.Admin"
	LeaseTTL  time.Duration  // default lease.DefaultTTL
	RateLimit float64        // requests per second per tenant; default 50
	RateBurst int            // default 100
	MaxBody   int64          // request body limit in bytes; default 64 KiB
	// AuthFailureRate and AuthFailureBurst limit refused authentications
	// per client IP (default 10/s, burst 50); past them, 429.
	AuthFailureRate  float64
	AuthFailureBurst int
	Log              *slog.Logger // required
	Registry         *prometheus.Registry
	Now              func() time.Time
	// Portal, if set, is mounted at /portal/ (the admin portal, issue 6).
	Portal http.Handler
}

// Server is the API. Immutable after New; safe for concurrent use.
type Server struct {
	cfg     Config
	st      *store.Store
	limiter *httpx.RateLimiter
	// failures limits refused authentications per client address, so a
	// flood of bogus tokens cannot keep the CPU busy with signatures.
	failures *httpx.RateLimiter
	resp     httpx.Responder
	handler  http.Handler
	mux      *http.ServeMux
	valid    *prometheus.CounterVec
	// groups caches users' groups looked up in Graph, by seat key.
	groups *expirable.LRU[string, []string]
}

// Bounds of the per-replica group cache: a user's groups are looked up in
// Graph at most every groupCacheTTL, for at most groupCacheUsers users.
const (
	groupCacheTTL   = 5 * time.Minute
	groupCacheUsers = 50_000
)

// New builds the API handler.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Validator == nil || cfg.Log == nil {
		return nil, errors.New("api: store, validator and logger are required")
	}
	if cfg.Scope == "" {
		cfg.Scope = "Mapdrive.Access"
	}
	if cfg.AdminRole == "" {
		cfg.AdminRole = "Mapdrive.Admin"
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = lease.DefaultTTL
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 50
	}
	if cfg.RateBurst == 0 {
		cfg.RateBurst = 100
	}
	if cfg.AuthFailureRate == 0 {
		cfg.AuthFailureRate = 10
	}
	if cfg.AuthFailureBurst == 0 {
		cfg.AuthFailureBurst = 50
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{cfg: cfg, st: cfg.Store, limiter: httpx.NewRateLimiter(cfg.RateLimit, cfg.RateBurst, cfg.Now),
		failures: httpx.NewRateLimiter(cfg.AuthFailureRate, cfg.AuthFailureBurst, cfg.Now), resp: httpx.Responder{Log: cfg.Log},
		groups: expirable.NewLRU[string, []string](groupCacheUsers, nil, groupCacheTTL)}
	s.valid = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mapdrive_validations_total", Help: "Licence validations by result code."}, []string{"result"})
	cfg.Registry.MustRegister(s.valid)
	metrics := httpx.NewMetrics(cfg.Registry)
	s.mux = http.NewServeMux()
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	if cfg.Portal != nil {
		s.mux.Handle("/portal/", cfg.Portal)
	}
	s.mux.Handle("/", s.resp.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return httpx.Errorf(http.StatusNotFound, apitype.ServiceCodeNotFound, "no such route")
	}))
	s.handler = httpx.Observe(cfg.Log, metrics, httpx.SecurityHeaders(s.mux))
	return s, nil
}

// Metrics returns the Prometheus exposition handler. It is not on the
// public API: the service serves it on its own, private listener
// (--metrics-listen, loopback by default), because the metrics describe
// tenants' activity and cost nothing to scrape repeatedly.
func (s *Server) Metrics() http.Handler {
	return promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// access is who may call a route.
type access int

const (
	public access = iota // anyone
	user                 // a token with the client scope
	admin                // a token with the admin role, for its own tenant
)

type route struct {
	method, pattern string
	access          access
	public          httpx.HandlerFunc
	authed          func(w http.ResponseWriter, r *http.Request, p *authn.Principal) error
}

// Routes lists every method and pattern the API serves, for the OpenAPI
// check.
func (s *Server) Routes() [][2]string {
	var out [][2]string
	for _, rt := range s.routes() {
		out = append(out, [2]string{rt.method, rt.pattern})
	}
	return out
}

func (s *Server) routes() []route {
	return []route{
		{method: "GET", pattern: "/healthz", access: public, public: s.healthz},
		{method: "GET", pattern: "/readyz", access: public, public: s.readyz},
		{method: "GET", pattern: apitype.RouteServiceOpenAPI, access: public, public: serveOpenAPI},
		{method: "GET", pattern: apitype.RouteServiceLeaseKey, access: public, public: s.leaseKey},
		{method: "POST", pattern: apitype.RouteServiceValidate, access: user, authed: s.validate},
		{method: "GET", pattern: apitype.RouteServiceMappings, access: user, authed: s.myMappings},
		{method: "GET", pattern: apitype.RouteAdminTenant, access: admin, authed: s.getTenant},
		{method: "DELETE", pattern: apitype.RouteAdminTenant, access: admin, authed: s.deleteTenant},
		{method: "GET", pattern: apitype.RouteAdminMappings, access: admin, authed: s.listMappings},
		{method: "POST", pattern: apitype.RouteAdminMappings, access: admin, authed: s.createMapping},
		{method: "GET", pattern: apitype.RouteAdminMapping, access: admin, authed: s.getMapping},
		{method: "PUT", pattern: apitype.RouteAdminMapping, access: admin, authed: s.updateMapping},
		{method: "DELETE", pattern: apitype.RouteAdminMapping, access: admin, authed: s.deleteMapping},
		{method: "PUT", pattern: apitype.RouteAdminOrder, access: admin, authed: s.reorder},
		{method: "GET", pattern: apitype.RouteAdminPolicies, access: admin, authed: s.getPolicies},
		{method: "PUT", pattern: apitype.RouteAdminPolicies, access: admin, authed: s.putPolicies},
		{method: "GET", pattern: apitype.RouteAdminAudit, access: admin, authed: s.audit},
		{method: "GET", pattern: apitype.RouteAdminExport, access: admin, authed: s.export},
		{method: "GET", pattern: apitype.RouteAdminUsage, access: admin, authed: s.seatUsage},
	}
}

// wrap adds authentication, authorization and rate limiting to a route.
func (s *Server) wrap(rt route) http.Handler {
	if rt.access == public {
		return s.resp.Handle(rt.public)
	}
	return s.resp.Handle(func(w http.ResponseWriter, r *http.Request) error {
		ip := clientIP(r)
		if blocked, wait := s.failures.Blocked(ip); blocked {
			return &httpx.Error{Status: http.StatusTooManyRequests, Code: apitype.ServiceCodeRateLimited, Detail: "too many refused sign-ins from this address; retry later", RetryAfter: wait}
		}
		p, err := s.authenticate(r)
		if err != nil {
			s.failures.Allow(ip)
			return err
		}
		httpx.Info(r.Context()).Tenant = p.TenantID
		if ok, wait := s.limiter.Allow(p.TenantID); !ok {
			return &httpx.Error{Status: http.StatusTooManyRequests, Code: apitype.ServiceCodeRateLimited, Detail: "too many requests for this organisation; retry later", RetryAfter: wait}
		}
		switch rt.access {
		case user:
			if !p.HasScope(s.cfg.Scope) {
				return httpx.Errorf(http.StatusForbidden, apitype.ServiceCodeForbidden, "the token lacks the %s scope", s.cfg.Scope)
			}
		case admin:
			if !p.HasRole(s.cfg.AdminRole) {
				return httpx.Errorf(http.StatusForbidden, apitype.ServiceCodeForbidden, "you need the %s role", s.cfg.AdminRole)
			}
			if r.PathValue("tid") != p.TenantID {
				return httpx.Errorf(http.StatusForbidden, apitype.ServiceCodeForbidden, "admins may only manage their own organisation")
			}
			if _, err := s.st.Config(r.Context(), p.TenantID); errors.Is(err, store.ErrNotFound) {
				return httpx.Errorf(http.StatusForbidden, apitype.ServiceCodeTenantNotRegistered, "your organisation is not registered for Mapdrive")
			} else if err != nil {
				return err
			}
		}
		return rt.authed(w, r, p)
	})
}

// clientIP is the peer address. Behind a proxy that is the proxy: set
// the limit per deployment accordingly (forwarded headers are not
// trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) authenticate(r *http.Request) (*authn.Principal, error) {
	raw, err := authn.BearerToken(r)
	if err == nil {
		var p *authn.Principal
		if p, err = s.cfg.Validator.Validate(r.Context(), raw); err == nil {
			return p, nil
		}
	}
	he := &httpx.Error{Status: http.StatusUnauthorized, Code: apitype.ServiceCodeUnauthenticated, WWWAuthenticate: `Bearer realm="mapdrive"`}
	var ae *authn.Error
	switch {
	case errors.Is(err, authn.ErrNoToken):
		he.Detail = "sign in: this request needs a bearer token"
	case errors.As(err, &ae):
		he.Detail = "the access token was refused: " + ae.Reason
		he.WWWAuthenticate = `Bearer realm="mapdrive", error="invalid_token", error_description="invalid_token"`
		if ae.Expired {
			he.WWWAuthenticate = `Bearer realm="mapdrive", error="invalid_token", error_description="expired_token"`
		}
	default:
		return nil, err
	}
	return nil, he
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		s.cfg.Log.WarnContext(r.Context(), "not ready: database", "err", err)
		return httpx.Errorf(http.StatusServiceUnavailable, apitype.ServiceCodeInternal, "database unreachable")
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) leaseKey(w http.ResponseWriter, r *http.Request) error {
	pub := s.st.Secrets().LeaseKey().Public().(ed25519.PublicKey)
	return httpx.WriteJSON(w, http.StatusOK, apitype.LeaseKey{Alg: "Ed25519", KeyID: lease.KeyID(pub), PublicKey: lease.EncodePublicKey(pub)})
}

// storeError maps store errors to answers.
func storeError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return httpx.Errorf(http.StatusNotFound, apitype.ServiceCodeNotFound, "not found")
	case errors.Is(err, store.ErrConflict):
		return httpx.Errorf(http.StatusConflict, apitype.ServiceCodeConflict, "%s", err.Error())
	case errors.Is(err, store.ErrInvalid):
		return httpx.Errorf(http.StatusBadRequest, apitype.ServiceCodeBadRequest, "%s", err.Error())
	}
	return err
}

//go:embed openapi.json
var openapiDoc []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openapiDoc)
	return err
}
