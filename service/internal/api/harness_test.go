package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mapdrive/mapdrive/service/internal/authn"
	"github.com/mapdrive/mapdrive/service/internal/crypto"
	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/logredact"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

const apiScope = directory.DemoServiceAppURI + "/" + directory.DemoServiceScope

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

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// env is a running API on one database with m365sim as the authority.
type env struct {
	t      testing.TB
	db     testenv.DB
	sim    *m365sim.Sim
	st     *store.Store
	api    *Server
	srv    *httptest.Server
	logs   *syncBuffer
	client *http.Client

	kekPath   string
	validator *authn.Validator
	// ver is the access token version token and crafted give: "2.0"
	// (the API registered for v2.0 tokens, the default here) or "1.0"
	// (the API left at Entra's default). Set it with eachVersion.
	ver string

	contoso, fabrikam *directory.Tenant
	financeGroup      string
	marketingGroup    string
}

type envOption func(*Config)

func newEnv(t testing.TB, db testenv.DB, opts ...envOption) *env {
	t.Helper()
	return newEnvSim(t, db, m365sim.StartForTest(t), opts...)
}

// newEnvSim is newEnv with a simulator of the caller's (another seed).
func newEnvSim(t testing.TB, db testenv.DB, sim *m365sim.Sim, opts ...envOption) *env {
	t.Helper()
	logs := &syncBuffer{}
	log := logredact.NewJSON(logs, slog.LevelDebug)
	kekPath := filepath.Join(t.TempDir(), "kek.json")
	kek, err := crypto.OpenLocalKEK(kekPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), db.Addr, kek, log, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := authn.New(t.Context(), authn.Config{AuthorityHost: sim.BaseURL(), HTTPClient: sim.HTTPClient(), Log: log,
		Audiences: []string{directory.DemoServiceAppID, directory.DemoServiceAppURI, directory.DemoServiceV1AppID, directory.DemoServiceV1AppURI}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Validator: v, Log: log, RateLimit: 1000, RateBurst: 1000, AuthFailureRate: 1000, AuthFailureBurst: 1000}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(a)
	t.Cleanup(srv.Close)
	e := &env{t: t, db: db, sim: sim, st: st, api: a, srv: srv, logs: logs, client: srv.Client(), kekPath: kekPath, validator: v, ver: "2.0"}
	e.contoso = sim.Directory().Tenant("contoso")
	e.fabrikam = sim.Directory().Tenant("fabrikam")
	e.financeGroup = e.contoso.Group("Finance Team").ID
	e.marketingGroup = e.contoso.Group("Marketing").ID
	for _, tn := range []*directory.Tenant{e.contoso, e.fabrikam} {
		if err := st.PutTenant(t.Context(), store.Tenant{ID: tn.ID, DisplayName: tn.DisplayName, Domains: tn.Domains, Seats: 25,
			LicenceExpires: time.Now().AddDate(1, 0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// token mints a real access token for the service API as a user, in
// version e.ver.
func (e *env) token(tenant, user string) string {
	e.t.Helper()
	scope := apiScope
	if e.ver == "1.0" {
		scope = directory.DemoServiceV1AppURI + "/" + directory.DemoServiceScope
	}
	tok, err := e.sim.Entra().MintAccessToken(tenant, user, directory.DemoClientID, []string{scope})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// crafted signs claims of version e.ver with the simulator's key after
// edit changes them.
func (e *env) crafted(tenant *directory.Tenant, user string, edit func(jwt.MapClaims)) string {
	e.t.Helper()
	now := time.Now()
	u := tenant.User(user)
	c := jwt.MapClaims{
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "tid": tenant.ID, "oid": u.ID,
		"scp": directory.DemoServiceScope, "upn": tenant.UPN(u),
	}
	if e.ver == "1.0" {
		c["aud"], c["iss"], c["ver"] = directory.DemoServiceV1AppURI, "https://sts.windows.net/"+tenant.ID+"/", "1.0"
		c["appid"], c["unique_name"] = directory.DemoClientID, tenant.UPN(u)
	} else {
		c["aud"], c["iss"], c["ver"] = directory.DemoServiceAppID, e.sim.BaseURL()+"/"+tenant.ID+"/v2.0", "2.0"
		c["azp"], c["preferred_username"] = directory.DemoClientID, tenant.UPN(u)
	}
	if edit != nil {
		edit(c)
	}
	tok, err := e.sim.Keys().Sign(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// idToken signs an ID token as Entra gives the portal (which shares the
// API's registration): the API's client id as audience, a nonce, the
// user's app roles, no scp and no calling app.
func (e *env) idToken(tenant *directory.Tenant, user string) string {
	e.t.Helper()
	now := time.Now()
	u := tenant.User(user)
	tok, err := e.sim.Keys().Sign(jwt.MapClaims{
		"aud": directory.DemoServiceAppID, "iss": e.sim.BaseURL() + "/" + tenant.ID + "/v2.0", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "tid": tenant.ID, "oid": u.ID, "ver": "2.0", "nonce": "n0", "roles": []string{directory.DemoAdminRole},
		"preferred_username": tenant.UPN(u), "name": u.DisplayName,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

type result struct {
	status  int
	header  http.Header
	body    []byte
	problem apitype.ServiceProblem
}

func (e *env) do(method, path, tok string, body any) result {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header, body: data}
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			e.t.Errorf("%s %s: status %d with Content-Type %q, want application/problem+json", method, path, resp.StatusCode, ct)
		}
		_ = json.Unmarshal(data, &r.problem)
	}
	return r
}

func (e *env) decode(r result, v any) {
	e.t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		e.t.Fatalf("decode %s: %v", r.body, err)
	}
}

// metrics scrapes the private metrics handler, where the service serves it.
func (e *env) metrics() []byte {
	rec := httptest.NewRecorder()
	e.api.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.Bytes()
}

// financeMapping is the demo's Finance mapping, assigned to Finance Team.
func (e *env) financeMapping() apitype.AdminMapping {
	site := e.contoso.Site("Finance")
	return apitype.AdminMapping{Mapping: apitype.Mapping{DisplayName: "Finance", DriveLetter: "F", MountName: "Finance",
		Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: e.contoso.SiteURL(site), LibraryName: "Documents"}},
		Groups: []string{e.financeGroup}}
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// replica starts a second API server on the same database and KEK, as a
// second container would.
func (e *env) replica() *httptest.Server {
	e.t.Helper()
	kek, err := crypto.OpenLocalKEK(e.kekPath)
	if err != nil {
		e.t.Fatal(err)
	}
	log := logredact.NewJSON(e.logs, slog.LevelDebug)
	st, err := store.Open(e.t.Context(), e.db.Addr, kek, log, store.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	a, err := New(Config{Store: st, Validator: e.validator, Log: log, RateLimit: 1000, RateBurst: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	srv := httptest.NewTLSServer(a)
	e.t.Cleanup(srv.Close)
	return srv
}
