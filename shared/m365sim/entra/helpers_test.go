package entra

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/token"
)

// One RSA key for the whole test binary keeps the tests fast.
var testKeys = sync.OnceValues(token.NewEphemeral)

// clock is an adjustable test clock.
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

// env is a running simulator Entra face over TLS.
type env struct {
	srv     *Server
	ts      *httptest.Server
	base    string
	http    *http.Client // trusts ts, does not follow redirects
	clock   *clock
	dataDir string
	dir     *directory.Directory
}

type envOpt func(*Config)

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	return newEnvSeed(t, directory.DemoSeed(), t.TempDir(), opts...)
}

func newEnvSeed(t testing.TB, seed *directory.Seed, dataDir string, opts ...envOpt) *env {
	t.Helper()
	keys, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := directory.New(seed)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clock: &clock{t: time.Now().Truncate(time.Second)}, dataDir: dataDir, dir: dir}
	var h http.Handler = http.NotFoundHandler()
	e.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	e.ts.StartTLS()
	t.Cleanup(e.ts.Close)
	e.base = e.ts.URL
	cfg := Config{BaseURL: e.base, DataDir: dataDir, Now: e.clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	e.srv, err = New(cfg, dir, keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.srv.Close() })
	h = e.srv.Handler()
	e.http = e.ts.Client()
	e.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return e
}

// post sends a form and decodes the JSON answer.
func (e *env) post(t *testing.T, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := e.http.PostForm(e.base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("POST %s: status %d, body not JSON: %s", path, resp.StatusCode, body)
	}
	return resp.StatusCode, out
}

func (e *env) get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	if strings.HasPrefix(u, "/") {
		u = e.base + u
	}
	resp, err := e.http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// wantEntraError checks an Entra-shaped error answer.
func wantEntraError(t *testing.T, status int, body map[string]any, wantStatus int, wantErr string, wantCode int) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status = %d, want %d (body %v)", status, wantStatus, body)
	}
	if body["error"] != wantErr {
		t.Errorf("error = %v, want %s (%v)", body["error"], wantErr, body["error_description"])
	}
	desc, _ := body["error_description"].(string)
	if prefix := "AADSTS" + itoa(wantCode) + ":"; !strings.HasPrefix(desc, prefix) {
		t.Errorf("error_description = %q, want prefix %q", desc, prefix)
	}
	codes, _ := body["error_codes"].([]any)
	if len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Errorf("error_codes = %v, want [%d]", body["error_codes"], wantCode)
	}
	for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
		if s, _ := body[k].(string); s == "" {
			t.Errorf("%s missing in %v", k, body)
		}
	}
}

var (
	formRe  = regexp.MustCompile(`(?s)<form method="(\w+)" action="([^"]*)">(.*?)</form>`)
	inputRe = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// htmlForm is the first form of a page.
type htmlForm struct {
	method, action string
	values         url.Values
}

func firstForm(t *testing.T, page string) htmlForm {
	t.Helper()
	m := formRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form in page:\n%s", page)
	}
	f := htmlForm{method: strings.ToUpper(m[1]), action: html.UnescapeString(m[2]), values: url.Values{}}
	for _, in := range inputRe.FindAllStringSubmatch(m[3], -1) {
		f.values.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return f
}

// submit sends the form as a browser would, relative to pageURL, with extra
// fields set.
func (e *env) submit(t *testing.T, pageURL string, f htmlForm, extra url.Values) *http.Response {
	t.Helper()
	base, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	target, err := base.Parse(f.action)
	if err != nil {
		t.Fatal(err)
	}
	vals := url.Values{}
	for k, v := range f.values {
		vals[k] = v
	}
	for k, v := range extra {
		vals[k] = v
	}
	var resp *http.Response
	if f.method == "GET" {
		target.RawQuery = vals.Encode()
		resp, err = e.http.Get(target.String())
	} else {
		resp, err = e.http.PostForm(target.String(), vals)
	}
	if err != nil {
		t.Fatalf("submit form to %s: %v", target, err)
	}
	return resp
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// claims verifies a token with the server's key and returns its claims.
func (e *env) claims(t *testing.T, raw string) jwt.MapClaims {
	t.Helper()
	keys, _ := testKeys()
	c, err := keys.Verify(raw, e.clock.Now())
	if err != nil {
		t.Fatalf("verify token: %v", err)
	}
	return c
}

// wantUserToken checks the claims every delegated access token carries for
// user upn of tenant signed in with client, for audience aud.
func (e *env) wantUserToken(t *testing.T, raw, tenant, upn, client, aud, scp string) jwt.MapClaims {
	t.Helper()
	c := e.claims(t, raw)
	ten := e.dir.Tenant(tenant)
	u := ten.User(upn)
	want := map[string]any{
		"aud": aud, "iss": e.base + "/" + ten.ID + "/v2.0", "tid": ten.ID, "oid": u.ID,
		"azp": client, "appid": nil, "ver": "2.0", "upn": ten.UPN(u), "preferred_username": ten.UPN(u), "name": u.DisplayName,
	}
	if scp != "" {
		want["scp"] = scp
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	for _, k := range []string{"sub", "uti"} {
		if s, _ := c[k].(string); s == "" {
			t.Errorf("claim %s missing", k)
		}
	}
	iat, _ := c["iat"].(float64)
	nbf, _ := c["nbf"].(float64)
	exp, _ := c["exp"].(float64)
	if iat == 0 || nbf != iat || exp <= iat {
		t.Errorf("iat/nbf/exp = %v/%v/%v", iat, nbf, exp)
	}
	var groups []any
	for _, g := range ten.GroupsOf(u) {
		groups = append(groups, g.ID)
	}
	got, _ := c["groups"].([]any)
	if len(got) != len(groups) {
		t.Errorf("groups = %v, want %v", got, groups)
	}
	for i := range groups {
		if i < len(got) && got[i] != groups[i] {
			t.Errorf("groups = %v, want %v", got, groups)
			break
		}
	}
	return c
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
