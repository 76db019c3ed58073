package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/token"
)

// clock is an adjustable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t       testing.TB
	dataDir string
	dir     *directory.Directory
	keys    *token.Keys
	clock   *clock
	srv     *Server
	ts      *httptest.Server
	client  *http.Client
	base    string
}

var sharedKeys struct {
	once sync.Once
	keys *token.Keys
	err  error
}

func testKeys(t testing.TB) *token.Keys {
	sharedKeys.once.Do(func() { sharedKeys.keys, sharedKeys.err = token.NewEphemeral() })
	if sharedKeys.err != nil {
		t.Fatal(sharedKeys.err)
	}
	return sharedKeys.keys
}

// newEnv starts the Graph API over TLS on the demo seed.
func newEnv(t testing.TB) *env { return newEnvSeed(t, directory.DemoSeed()) }

func newEnvSeed(t testing.TB, seed *directory.Seed) *env {
	t.Helper()
	dir, err := directory.New(seed)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dataDir: t.TempDir(), dir: dir, keys: testKeys(t), clock: &clock{t: time.Now().Truncate(time.Second)}}
	e.ts = httptest.NewUnstartedServer(nil)
	e.ts.StartTLS()
	e.base = e.ts.URL
	e.start()
	t.Cleanup(func() {
		e.ts.Close()
		if e.srv != nil {
			e.srv.Close()
		}
	})
	e.client = e.ts.Client()
	e.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return e
}

// start (re)creates the Server on the env's data directory.
func (e *env) start() {
	e.t.Helper()
	srv, err := New(Config{BaseURL: e.base, DataDir: e.dataDir, Now: e.clock.Now}, e.dir, e.keys)
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	e.ts.Config.Handler = srv.Handler()
}

func (e *env) restart() {
	e.t.Helper()
	if err := e.srv.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.srv = nil
	e.start()
}

const allScopes = "Files.ReadWrite.All Sites.ReadWrite.All User.Read"

// tok mints a Graph access token for tenant/user with the given scopes.
func (e *env) tok(tenant, user, scopes string, extra ...func(jwt.MapClaims)) string {
	e.t.Helper()
	tn := e.dir.Tenant(tenant)
	u := tn.User(user)
	now := e.clock.Now()
	c := jwt.MapClaims{
		"aud": directory.GraphAppID, "iss": "https://login.microsoftonline.com/" + tn.ID + "/v2.0",
		"tid": tn.ID, "oid": u.ID, "scp": scopes, "ver": "2.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"preferred_username": tn.UPN(u),
	}
	for _, f := range extra {
		f(c)
	}
	s, err := e.keys.Sign(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) alice() string { return e.tok("contoso", "alice", allScopes) }
func (e *env) bob() string   { return e.tok("contoso", "bob", allScopes) }

// req is one request to the server.
type req struct {
	method string
	path   string // below the base URL, e.g. "/v1.0/me"; or an absolute URL
	tok    string
	body   any // string, []byte, io.Reader or a JSON value
	hdr    map[string]string
}

func (e *env) do(r req) *http.Response {
	e.t.Helper()
	var body io.Reader
	var n int64 = -1
	switch b := r.body.(type) {
	case nil:
	case string:
		body, n = strings.NewReader(b), int64(len(b))
	case []byte:
		body, n = bytes.NewReader(b), int64(len(b))
	case io.Reader:
		body = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body, n = bytes.NewReader(raw), int64(len(raw))
	}
	u := r.path
	if !strings.HasPrefix(u, "https://") {
		u = e.base + u
	}
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	hr, err := http.NewRequest(method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if n >= 0 {
		hr.ContentLength = n
	}
	if r.tok != "" {
		hr.Header.Set("Authorization", "Bearer "+r.tok)
	}
	if _, ok := r.body.(string); !ok && r.body != nil {
		if _, ok := r.body.([]byte); !ok {
			hr.Header.Set("Content-Type", "application/json")
		}
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	resp, err := e.client.Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, r.path, err)
	}
	return resp
}

// result is a read response.
type result struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (e *env) call(r req) result {
	e.t.Helper()
	resp := e.do(r)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	res := result{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && len(raw) > 0 {
		if err := json.Unmarshal(raw, &res.json); err != nil {
			e.t.Fatalf("%s %s: bad JSON %q: %v", r.method, r.path, raw, err)
		}
	}
	return res
}

// want checks the status and, for errors, the Graph error code.
func (r result) want(t testing.TB, status int, code ...string) result {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if len(code) > 0 {
		if got := r.errCode(); got != code[0] {
			t.Fatalf("error code = %q, want %q; body %s", got, code[0], r.raw)
		}
	}
	return r
}

func (r result) errCode() string {
	e, _ := r.json["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r result) str(path ...string) string {
	v := r.get(path...)
	s, _ := v.(string)
	return s
}

func (r result) get(path ...string) any {
	var v any = r.json
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func (r result) values() []map[string]any {
	arr, _ := r.json["value"].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, v := range arr {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

func mget(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// aliceDrive and friends are demo drive ids.
func (e *env) driveOf(tenant, user string) string {
	return e.dir.Tenant(tenant).User(user).Drive.ID
}

func (e *env) library(tenant, site, lib string) string {
	st := e.dir.Tenant(tenant).Site(site)
	for _, l := range st.Libraries {
		if l.Name == lib {
			return l.ID
		}
	}
	e.t.Fatalf("no library %s/%s", site, lib)
	return ""
}
