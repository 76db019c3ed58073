package portal

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/api"
	"github.com/mapdrive/mapdrive/service/internal/authn"
	"github.com/mapdrive/mapdrive/service/internal/crypto"
	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/logredact"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is the service API with the portal mounted, on one database, with
// m365sim as the authority and Graph. contoso is registered; fabrikam
// is not (its admin onboards).
type env struct {
	t       testing.TB
	sim     *m365sim.Sim
	st      *store.Store
	portal  *Server
	srv     *httptest.Server
	url     string
	logs    *syncBuffer
	roots   *x509.CertPool
	contoso *directory.Tenant
	finance string // Finance Team group id

	// For more replicas on the same database (replica).
	db      testenv.DB
	kekPath string
	log     *slog.Logger
	v       *authn.Validator
	front   atomic.Pointer[http.Handler] // the replica the "ingress" sends requests to
	skew    atomic.Int64                 // added to every replica's portal clock, in nanoseconds
}

func newEnv(t testing.TB, db testenv.DB) *env {
	t.Helper()
	e := &env{t: t, db: db}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*e.front.Load()).ServeHTTP(w, r) }))
	base := "https://" + srv.Listener.Addr().String()
	seed := directory.DemoSeed()
	for i := range seed.Apps {
		if seed.Apps[i].ClientID == directory.DemoServiceAppID {
			seed.Apps[i].RedirectURIs = append(seed.Apps[i].RedirectURIs, base+"/portal/auth/callback")
		}
	}
	sim := m365sim.StartForTest(t, m365sim.WithSeed(seed))
	logs := &syncBuffer{}
	log := logredact.NewJSON(logs, slog.LevelDebug)
	e.kekPath, e.log = filepath.Join(t.TempDir(), "kek.json"), log
	v, err := authn.New(t.Context(), authn.Config{AuthorityHost: sim.BaseURL(), Audiences: []string{directory.DemoServiceAppID, directory.DemoServiceAppURI},
		HTTPClient: sim.HTTPClient(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	e.sim, e.v, e.srv, e.url, e.logs = sim, v, srv, base, logs
	var h http.Handler
	e.st, e.portal, h = e.replica()
	e.front.Store(&h)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := sim.CertPool()
	roots.AddCert(srv.Certificate())
	e.roots = roots
	st := e.st
	e.contoso = sim.Directory().Tenant("contoso")
	e.finance = strings.ToLower(e.contoso.Group("Finance Team").ID)
	if err := st.PutTenant(t.Context(), store.Tenant{ID: e.contoso.ID, DisplayName: e.contoso.DisplayName, Domains: e.contoso.Domains, Seats: 25,
		LicenceExpires: time.Now().AddDate(1, 0, 0), Policies: store.DefaultPolicies()}); err != nil {
		t.Fatal(err)
	}
	return e
}

// replica starts one more replica of the service on the env's database:
// its own store (sharing the KEK, as replicas share Key Vault), portal
// and API, with nothing in memory shared with the others. It returns
// the replica's handler; serve sends the ingress's requests to it.
func (e *env) replica() (*store.Store, *Server, http.Handler) {
	t := e.t
	t.Helper()
	kek, err := crypto.OpenLocalKEK(e.kekPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), e.db.Addr, kek, e.log, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, err := NewServer(Config{Store: st, Validator: e.v, Log: e.log, AuthorityHost: e.sim.BaseURL(), GraphURL: e.sim.GraphURL(),
		ClientID: directory.DemoServiceAppID, ClientSecret: directory.DemoServiceSecret, HTTPClient: e.sim.HTTPClient(), PublicURL: e.url,
		DesktopClientID: directory.DemoClientID, ClientVersion: releaseVersion(t), Now: func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{Store: st, Validator: e.v, Log: e.log, Portal: p, RateLimit: 1000, RateBurst: 1000, AuthFailureRate: 1000, AuthFailureBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return st, p, a
}

// serve makes the ingress send the next requests to replica h.
func (e *env) serve(h http.Handler) { e.front.Store(&h) }

// browser is an HTTP client with its own cookie jar that trusts the
// simulator and the service, and does not follow redirects by itself.
type browser struct {
	t    testing.TB
	base string // the service's base URL
	c    *http.Client
	csrf string // last CSRF token seen on a page
}

func (e *env) browser() *browser { return newBrowser(e.t, e.url, e.roots) }

// newBrowser is a browser for the service at base, trusting roots.
func newBrowser(t testing.TB, base string, roots *x509.CertPool) *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, base: base, c: c}
}

// page is a response, body read.
type page struct {
	status int
	header http.Header
	body   string
	url    string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, header: resp.Header, body: string(data), url: req.URL.String()}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		b.csrf = m[1]
	}
	return p
}

func (b *browser) abs(u string) string {
	if strings.HasPrefix(u, "/") {
		return b.base + u
	}
	return u
}

// get fetches u, following redirects when follow is set.
func (b *browser) get(u string, follow bool) page {
	b.t.Helper()
	for range 10 {
		req, _ := http.NewRequest(http.MethodGet, b.abs(u), nil)
		p := b.do(req)
		if !follow || p.status/100 != 3 {
			return p
		}
		u = resolve(p.url, p.header.Get("Location"))
	}
	b.t.Fatalf("too many redirects from %s", u)
	return page{}
}

// post sends a form; with follow, redirects are followed with GETs.
func (b *browser) post(u string, form url.Values, follow bool) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.abs(u), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p := b.do(req)
	if follow && p.status/100 == 3 {
		return b.get(resolve(p.url, p.header.Get("Location")), true)
	}
	return p
}

func resolve(base, ref string) string {
	bu, err := url.Parse(base)
	if err != nil {
		return ref
	}
	ru, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return bu.ResolveReference(ru).String()
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// signIn runs the whole sign-in as the simulator's sign-in page would be
// used: the portal sends the browser to Entra, the user picks upn, Entra
// redirects back, and the portal lands on a page, returned.
func (b *browser) signIn(upn string) page {
	b.t.Helper()
	p := b.atAuthority(upn)
	if p.status/100 != 3 {
		return p
	}
	return b.get(resolve(p.url, p.header.Get("Location")), true)
}

// atAuthority starts a sign-in at the portal and signs in as upn at the
// simulator; it returns the simulator's answer, normally the redirect to
// the portal's callback, not yet followed.
func (b *browser) atAuthority(upn string) page {
	b.t.Helper()
	p := b.get("/portal/auth/login", false)
	if p.status != http.StatusFound {
		b.t.Fatalf("login = %d %s", p.status, p.body)
	}
	authz := p.header.Get("Location")
	p = b.get(authz, false)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Sign in") {
		b.t.Fatalf("authorize page = %d %s", p.status, p.body)
	}
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		form.Set(m[1], unescape(m[2]))
	}
	form.Set("login", upn)
	act := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(p.body)
	if act == nil {
		b.t.Fatalf("no form on the sign-in page: %s", p.body)
	}
	return b.post(resolve(authz, unescape(act[1])), form, false)
}

func unescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

// mustContain fails unless every needle is in the page.
func (p page) mustContain(t testing.TB, needles ...string) {
	t.Helper()
	for _, n := range needles {
		if !strings.Contains(p.body, n) {
			t.Errorf("page %s (%d) lacks %q", p.url, p.status, n)
		}
	}
}

func ciMode() bool { return os.Getenv("CI") != "" }

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// assertLogsClean fails if the service's logs hold a UPN, a site path,
// the client secret or a token.
func (e *env) assertLogsClean(t testing.TB) {
	t.Helper()
	logs := e.logs.String()
	for _, leak := range []string{"@contoso.com", "@fabrikam.com", "sites/Finance", "sites%2FFinance", "portal-dev-secret", "eyJ"} {
		if strings.Contains(logs, leak) {
			t.Errorf("service logs hold %q", leak)
		}
	}
}
