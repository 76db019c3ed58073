// Package m365sim composes the Microsoft 365 simulator: the Entra ID face
// (package entra) and the Microsoft Graph face (package graph) behind one
// HTTPS listener with its own CA, a fault-injecting and counting gate in
// front of both, and an admin API under /_admin/ that tests use to inject
// faults, read counters and act as any user.
//
// Start runs a simulator; StartForTest runs one for a test; AdminClient
// (Sim.Admin) drives the admin API from another process or module.
//
// Routes on the one listener:
//
//	/v1.0/..., /_download/..., /_upload/..., /_monitor/...   Graph (through the gate)
//	/_admin/...                                              admin API (loopback clients only)
//	everything else                                          Entra ID (through the gate)
//
// The admin API speaks JSON and answers errors in Graph's shape:
//
//	GET    /_admin/info                        URLs, CA file, tenants and users (Info)
//	GET    /_admin/faults                      the fault set with Fired counts (FaultSet)
//	PUT    /_admin/faults                      replace the fault set (FaultSet)
//	POST   /_admin/faults                      add one rule (Fault), 201 with its id
//	DELETE /_admin/faults                      remove every rule, close throttling windows
//	DELETE /_admin/faults/{id}                 remove one rule
//	GET    /_admin/counters                    request counters (Counters)
//	DELETE /_admin/counters                    reset them
//	POST   /_admin/devicecode/approve          {"user_code","upn"}: sign in a device code
//	POST   /_admin/expire-download-urls        invalidate every download URL handed out
//	POST   /_admin/expire-delta/{driveId}      make a drive's delta tokens stale (410)
//	POST   /_admin/revoke/{tenant}/{user}      revoke a user's sessions: refresh tokens, and CAE tokens (claims challenge)
//	METHOD /_admin/as/{tenant}/{user}/{rest}   perform METHOD /v1.0/{rest} as the user
//
// Continuous access evaluation: Graph answers tokens of clients that
// declared the cp1 capability with a claims challenge (401,
// error="insufficient_claims") when the user's sessions were revoked after
// the token was issued, or while a claimsChallenge fault applies; Entra
// honours the claims parameter (xms_cc, acrs, nbf) on its token endpoint.
// Counters.Claims shows the challenges and the claims requests answered.
//
// Act-as requests carry a token minted for Config.ActAsClientID (the demo
// client by default) with
// Files.ReadWrite.All, Sites.ReadWrite.All and User.Read; they bypass the
// gate, so they neither suffer faults nor show in the counters.
package m365sim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/entra"
	"github.com/mapdrive/mapdrive/shared/m365sim/graph"
	"github.com/mapdrive/mapdrive/shared/m365sim/token"
)

// DefaultAddr is where the simulator listens unless told otherwise. It is
// fixed because MSAL keys its token cache on the authority's host and port.
const DefaultAddr = "localhost:9443"

// DefaultDataDir is where the m365sim command keeps its state unless told
// otherwise: $XDG_STATE_HOME/m365sim, else ~/.local/state/m365sim (on
// Windows %LocalAppData%\m365sim), else ./m365sim-data.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "m365sim")
	}
	if runtime.GOOS == "windows" {
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "m365sim")
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "m365sim")
	}
	return "m365sim-data"
}

// Config configures a simulator.
type Config struct {
	// Addr is host:port to listen on; DefaultAddr when empty. Port 0 picks
	// a free port. The host "localhost" listens on 127.0.0.1 and, when it
	// can, on ::1 at the same port.
	Addr string
	// DataDir keeps all state: directory, signing key, CA and certificate,
	// Entra's state (entra-state.json) and the drives (graph/). Required.
	DataDir string
	// Seed is the directory to create on first start; nil means the demo
	// seed. Ignored when DataDir already holds a directory.
	Seed *directory.Seed
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock of tokens, download URLs and throttling windows;
	// nil means time.Now. TLS certificates always use the wall clock.
	Now func() time.Time
	// AccessTokenLifetime and RefreshTokenLifetime go to Entra; zero keeps
	// its defaults (1h, 90 days).
	AccessTokenLifetime, RefreshTokenLifetime time.Duration
	// CAEAccessTokenLifetime is the lifetime of Graph tokens of clients
	// that declared the cp1 capability; zero keeps Entra's default (24h).
	CAEAccessTokenLifetime time.Duration
	// DownloadURLLifetime and PageSize go to Graph; zero keeps its defaults.
	DownloadURLLifetime time.Duration
	PageSize            int
	// FaultSeed seeds the generator behind error rates; 0 means 1.
	FaultSeed uint64
	// ActAsClientID is the client that act-as tokens are minted for; it
	// must be registered in the seed. Empty means the seed's first public
	// client (the demo seed's is directory.DemoClientID).
	ActAsClientID string
}

// Sim is a running simulator. Its methods are safe for concurrent use.
type Sim struct {
	// Constant after Start.
	cfg     Config
	log     *slog.Logger
	baseURL string
	tls     *tlsMaterial
	dir     *directory.Directory
	keys    *token.Keys
	entra   *entra.Server
	graph   *graph.Server
	gate    *gate
	admin   *admin
	srv     *http.Server
	lns     []net.Listener
	adminC  *AdminClient

	wg       sync.WaitGroup // serving goroutines
	errMu    sync.Mutex     // guards serveErr
	serveErr error
	closeMu  sync.Mutex // serializes Close
	closed   bool
}

// Start starts a simulator and returns once it accepts connections. ctx
// bounds the start only; the simulator runs until Close.
func Start(ctx context.Context, cfg Config) (*Sim, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("m365sim: a data directory is required")
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Seed == nil {
		cfg.Seed = directory.DemoSeed()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("m365sim: create data dir: %w", err)
	}
	s := &Sim{cfg: cfg, log: cfg.Logger}
	ok := false
	defer func() {
		if !ok {
			s.closeParts()
		}
	}()

	// Listen first, so that a taken port fails fast.
	var err error
	if s.lns, err = listen(ctx, cfg.Addr); err != nil {
		return nil, fmt.Errorf("m365sim: %w", err)
	}
	s.baseURL = baseURL(cfg.Addr, s.lns[0].Addr().(*net.TCPAddr).Port)
	if s.tls, err = loadTLS(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("m365sim: %w", err)
	}
	if s.dir, err = directory.Load(cfg.DataDir, cfg.Seed); err != nil {
		return nil, fmt.Errorf("m365sim: load directory: %w", err)
	}
	if s.keys, err = token.LoadKeys(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("m365sim: load signing key: %w", err)
	}

	s.gate = newGate(s.dir, cfg.Now, s.log.With("part", "gate"), cfg.FaultSeed)
	s.entra, err = entra.New(entra.Config{
		BaseURL: s.baseURL, DataDir: cfg.DataDir,
		Logger: s.log.With("face", "entra"), Now: cfg.Now,
		AccessTokenLifetime: cfg.AccessTokenLifetime, RefreshTokenLifetime: cfg.RefreshTokenLifetime,
		CAEAccessTokenLifetime: cfg.CAEAccessTokenLifetime, ClaimsRequested: s.claimsGranted,
	}, s.dir, s.keys)
	if err != nil {
		return nil, fmt.Errorf("m365sim: start entra: %w", err)
	}
	s.graph, err = graph.New(graph.Config{
		BaseURL: s.baseURL, DataDir: cfg.DataDir,
		Logger: s.log.With("face", "graph"), Now: cfg.Now,
		DownloadURLLifetime: cfg.DownloadURLLifetime, PageSize: cfg.PageSize,
		Challenger: s.challenge,
	}, s.dir, s.keys)
	if err != nil {
		return nil, fmt.Errorf("m365sim: start graph: %w", err)
	}

	graphH := s.graph.Handler()
	s.admin = newAdmin(&admin{
		dir: s.dir, gate: s.gate, id: s.entra, drives: s.graph, graph: graphH,
		now: cfg.Now, log: s.log.With("part", "admin"), info: s.Info, clientID: cfg.ActAsClientID,
	})
	s.srv = &http.Server{
		Handler:           route(s.gate.wrap(graphH), s.gate.wrap(s.entra.Handler()), s.admin),
		TLSConfig:         s.tlsConfig(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		// Larger HTTP/2 windows and frames than the defaults, so that a
		// single stream is not the bottleneck of an upload or download.
		HTTP2: &http.HTTP2Config{
			MaxReceiveBufferPerConnection: 16 << 20,
			MaxReceiveBufferPerStream:     8 << 20,
			MaxReadFrameSize:              1 << 20,
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	for _, ln := range s.lns {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.errMu.Lock()
				if s.serveErr == nil {
					s.serveErr = err
				}
				s.errMu.Unlock()
				s.log.Error("serve", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
	s.adminC = NewAdminClient(s.baseURL, s.HTTPClient())
	ok = true
	s.log.Info("m365sim started", "base", s.baseURL, "ca", s.tls.caFile)
	return s, nil
}

// route sends each path to its face. It does not clean paths, so Graph's
// path-based addressing (root:/a/b:/content) arrives as sent.
func route(graphH, entraH, adminH http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, adminPrefix):
			adminH.ServeHTTP(w, r)
		case isGraphPath(p):
			graphH.ServeHTTP(w, r)
		default:
			entraH.ServeHTTP(w, r)
		}
	})
}

func (s *Sim) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{s.tls.cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// listen listens on addr; for host "localhost" on both loopback addresses.
func listen(ctx context.Context, addr string) ([]net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	var lc net.ListenConfig
	if !strings.EqualFold(host, "localhost") {
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		return []net.Listener{ln}, nil
	}
	ln, err := lc.Listen(ctx, "tcp4", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	p := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	if ln6, err := lc.Listen(ctx, "tcp6", net.JoinHostPort("::1", p)); err == nil {
		return []net.Listener{ln, ln6}, nil
	}
	return []net.Listener{ln}, nil
}

// baseURL is the URL clients reach the simulator at: the listen host, or
// localhost for a wildcard host.
func baseURL(addr string, port int) string {
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(strings.ToLower(host), strconv.Itoa(port))
}

// BaseURL is the simulator's scheme, host and port, such as
// "https://localhost:9443".
func (s *Sim) BaseURL() string { return s.baseURL }

// AuthorityURL is the Entra authority of a tenant (GUID, name or domain,
// or "organizations"/"common"): BaseURL + "/" + tenant.
func (s *Sim) AuthorityURL(tenant string) string { return s.baseURL + "/" + tenant }

// GraphURL is Graph's base URL, BaseURL + "/v1.0".
func (s *Sim) GraphURL() string { return s.baseURL + graphPrefix }

// CAFile is the path of the PEM CA certificate clients must trust.
func (s *Sim) CAFile() string { return s.tls.caFile }

// CertPool returns a pool holding only the simulator's CA.
func (s *Sim) CertPool() *x509.CertPool { return s.tls.caPool.Clone() }

// HTTPClient returns a new client that trusts only the simulator's CA and
// prefers HTTP/2. It follows redirects, as net/http's clients do.
func (s *Sim) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		HTTP2:               &http.HTTP2Config{MaxReceiveBufferPerStream: 8 << 20, MaxReadFrameSize: 1 << 20},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}}
}

// Admin returns a client of the admin API (the same one on every call).
func (s *Sim) Admin() *AdminClient { return s.adminC }

// AccessToken mints an access token for a user named by tenant and user
// (names, domains, UPNs or ids), as if the user had signed in to the
// act-as client (the seed's first public client by default) and asked for scopes; with no
// scopes, Graph's Files.ReadWrite.All, Sites.ReadWrite.All and User.Read.
// Scopes of another resource, such as "api://mapdrive/Mapdrive.Access",
// give a token for that API. Entra's consent rules apply.
func (s *Sim) AccessToken(tenant, user string, scopes ...string) (string, error) {
	t, u, err := lookupUser(s.dir, tenant, user)
	if err != nil {
		return "", fmt.Errorf("m365sim: access token: %w", err)
	}
	if len(scopes) == 0 {
		scopes = actAsScopes
	}
	tok, err := s.entra.MintAccessToken(t.ID, u.ID, s.admin.clientID, scopes)
	if err != nil {
		return "", fmt.Errorf("m365sim: access token for %s/%s: %w", t.Name, u.UserName, err)
	}
	return tok, nil
}

// Entra returns the Entra ID face.
func (s *Sim) Entra() *entra.Server { return s.entra }

// Graph returns the Graph face.
func (s *Sim) Graph() *graph.Server { return s.graph }

// Directory returns the loaded directory.
func (s *Sim) Directory() *directory.Directory { return s.dir }

// Keys returns the token-signing keys.
func (s *Sim) Keys() *token.Keys { return s.keys }

// DataDir returns the data directory.
func (s *Sim) DataDir() string { return s.cfg.DataDir }

// Addr returns the address the simulator listens on (the first, when it
// listens on both loopback addresses).
func (s *Sim) Addr() net.Addr { return s.lns[0].Addr() }

// Info describes the simulator: URLs, CA file, and per tenant its users
// (with their OneDrive ids) and sites (with their libraries' drive ids).
func (s *Sim) Info() *Info {
	out := &Info{BaseURL: s.baseURL, GraphURL: s.GraphURL(), CAFile: s.CAFile()}
	for _, t := range s.dir.Tenants() {
		ti := TenantInfo{ID: t.ID, Name: t.Name, Authority: s.AuthorityURL(t.Name)}
		for i := range t.Users {
			u := &t.Users[i]
			ui := UserInfo{ID: u.ID, UserName: u.UserName, UPN: t.UPN(u)}
			if u.Drive != nil {
				ui.DriveID = u.Drive.ID
			}
			ti.Users = append(ti.Users, ui)
		}
		for i := range t.Sites {
			st := &t.Sites[i]
			si := SiteInfo{ID: t.SiteID(st), Name: st.Name, WebURL: t.SiteURL(st)}
			for _, lib := range st.Libraries {
				si.Libraries = append(si.Libraries, DriveInfo{ID: lib.ID, Name: lib.Name, ReadOnly: lib.ReadOnly})
			}
			ti.Sites = append(ti.Sites, si)
		}
		out.Tenants = append(out.Tenants, ti)
	}
	return out
}

// WriteBanner prints where to reach the simulator: one authority per
// tenant, Graph's base URL and the CA file.
func (s *Sim) WriteBanner(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "m365sim listening on %s\n", s.baseURL)
	fmt.Fprintf(&b, "  Entra authority (any tenant): %s\n", s.AuthorityURL("organizations"))
	for _, t := range s.dir.Tenants() {
		fmt.Fprintf(&b, "  Entra authority (%s): %s\n", t.Name, s.AuthorityURL(t.Name))
	}
	fmt.Fprintf(&b, "  Graph base URL: %s\n", s.GraphURL())
	fmt.Fprintf(&b, "  CA certificate: %s\n", s.CAFile())
	fmt.Fprintf(&b, "  Admin API:      %s/_admin/ (loopback only)\n", s.baseURL)
	_, err := io.WriteString(w, b.String())
	return err
}

// Close stops accepting requests, waits up to 5 s for those in flight,
// then closes both faces so that their state is stored. It returns the
// first serving or closing error.
func (s *Sim) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
		errs = append(errs, fmt.Errorf("shut down server: %w", err))
	}
	s.wg.Wait()
	s.errMu.Lock()
	if s.serveErr != nil {
		errs = append(errs, s.serveErr)
	}
	s.errMu.Unlock()
	errs = append(errs, s.closeParts())
	return errors.Join(errs...)
}

// closeParts closes whatever Start opened besides the server.
func (s *Sim) closeParts() error {
	var errs []error
	for _, ln := range s.lns {
		_ = ln.Close() // already closed by Shutdown when serving
	}
	if s.graph != nil {
		if err := s.graph.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close graph: %w", err))
		}
	}
	if s.entra != nil {
		if err := s.entra.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close entra: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Run starts a simulator, writes its banner to out, and serves until ctx
// is done; then it closes the simulator.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	s, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	if err := s.WriteBanner(out); err != nil {
		_ = s.Close()
		return fmt.Errorf("write banner: %w", err)
	}
	<-ctx.Done()
	s.log.Info("m365sim stopping")
	return s.Close()
}
