package portal

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// TestNonAdminRefused: alice has no admin role; she gets the "you need
// the role" page and no session.
func TestNonAdminRefused(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	p := b.signIn("alice@contoso.com")
	if p.status != http.StatusForbidden {
		t.Fatalf("alice's sign-in = %d, want 403", p.status)
	}
	p.mustContain(t, "You need the Mapdrive.Admin role", "Enterprise applications")
	p = b.get("/portal/mappings", false)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/portal/signin") {
		t.Errorf("alice's /portal/mappings after refusal = %d %s, want a redirect to sign in", p.status, p.header.Get("Location"))
	}
}

// TestCSRF: every POST route refuses a form without the session's token,
// with another session's token, and from a foreign origin.
func TestCSRF(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	if p := b.signIn("admin@contoso.com"); p.status != http.StatusOK {
		t.Fatalf("sign-in = %d", p.status)
	}
	m, err := e.st.CreateMapping(t.Context(), e.contoso.ID, store.Mapping{Mapping: apitype.Mapping{DisplayName: "X", DriveLetter: "X",
		Target: apitype.Target{Kind: apitype.TargetOneDrive}}, Everyone: true})
	if err != nil {
		t.Fatal(err)
	}
	other := e.browser()
	other.signIn("admin@contoso.com")
	for _, rt := range e.portal.Routes() {
		if rt.Method != http.MethodPost {
			continue
		}
		path := "/portal" + strings.ReplaceAll(rt.Pattern, "{id}", m.ID)
		form := url.Values{"op": {"save"}, "name": {"Y"}, "dir": {"up"}, "orgName": {"Z"}, "accept": {"on"}, "pollSeconds": {"60"}, "cacheGb": {"1"}}
		cases := []struct {
			name   string
			token  string
			origin string
		}{
			{"no token", "", ""},
			{"other session's token", other.csrf, ""},
			{"foreign origin", b.csrf, "https://evil.example"},
		}
		for _, tc := range cases {
			t.Run(rt.Pattern+"/"+tc.name, func(t *testing.T) {
				f := url.Values{}
				for k, v := range form {
					f[k] = v
				}
				if tc.token != "" {
					f.Set("csrf", tc.token)
				}
				req, _ := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(f.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if tc.origin != "" {
					req.Header.Set("Origin", tc.origin)
				}
				p := b.do(req)
				if p.status != http.StatusForbidden {
					t.Errorf("POST %s = %d, want 403", path, p.status)
				}
			})
		}
	}
	if _, err := e.st.Mapping(t.Context(), e.contoso.ID, m.ID); err != nil {
		t.Errorf("the mapping was touched by refused POSTs: %v", err)
	}
	if es, _ := e.st.AuditLog(t.Context(), e.contoso.ID, "", 0); len(es) != 0 {
		t.Errorf("refused POSTs left audit entries: %+v", es)
	}
	// The same POST with the token, from the portal's origin, goes through.
	req, _ := http.NewRequest(http.MethodPost, b.abs("/portal/mappings/"+m.ID+"/delete"), strings.NewReader(url.Values{"csrf": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.url)
	if p := b.do(req); p.status != http.StatusSeeOther {
		t.Errorf("POST with the token = %d, want 303", p.status)
	}
	if _, err := e.st.Mapping(t.Context(), e.contoso.ID, m.ID); err == nil {
		t.Error("the mapping survived a valid delete")
	}
}

// TestHeadersAndCookie: strict CSP and the other headers on every page;
// the session cookie is __Host-, Secure, HttpOnly, SameSite=Lax.
func TestHeadersAndCookie(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	p := b.get("/portal/auth/login", false)
	var ck *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == cookieName {
			ck = c
		}
	}
	if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("session cookie = %+v", ck)
	}
	b.signIn("admin@contoso.com")
	for _, path := range []string{"/portal/signin", "/portal/mappings", "/portal/nope", "/portal/licence/chart.svg"} {
		p := b.get(path, false)
		h := p.header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q allows unsafe sources", path, csp)
		}
		for k, want := range map[string]string{"Strict-Transport-Security": "max-age=63072000; includeSubDomains", "X-Content-Type-Options": "nosniff",
			"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"} {
			if path == "/portal/licence/chart.svg" && k == "Cache-Control" {
				want = "private, no-store"
			}
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " style=") || strings.Contains(p.body, "<style") || strings.Contains(p.body, " on") && strings.Contains(p.body, "onclick=") {
			t.Errorf("%s has inline script or style", path)
		}
	}
	if p := b.get("/portal/static/htmx.min.js", false); p.status != 200 || !strings.Contains(p.header.Get("Content-Type"), "javascript") {
		t.Errorf("htmx = %d %s", p.status, p.header.Get("Content-Type"))
	}
	if p := b.get("/portal/static/", false); p.status != 404 {
		t.Errorf("static listing = %d, want 404", p.status)
	}
}

// TestSessionExpiry: a session ends after the idle time and after the
// absolute lifetime, whatever its use.
func TestSessionExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	st := newSessions(30*time.Minute, 8*time.Hour, func() time.Time { return now })
	rec := newRecorder()
	ss := st.create(rec, func(s *session) { s.TenantID = "t" })
	req := func() *http.Request {
		r, _ := http.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: ss.ID})
		return r
	}
	steps := []struct {
		advance time.Duration
		live    bool
	}{
		{29 * time.Minute, true}, {29 * time.Minute, true}, {31 * time.Minute, false},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := st.get(req()) != nil; got != s.live {
			t.Errorf("step %d: live = %v, want %v", i, got, s.live)
		}
	}
	// Absolute: used every 20 minutes, it still ends at 8 hours.
	ss = st.create(rec, nil)
	start := now
	for now.Sub(start) < 8*time.Hour-20*time.Minute {
		now = now.Add(20 * time.Minute)
		if st.get(req()) == nil {
			t.Fatalf("session ended at %v, before 8h", now.Sub(start))
		}
	}
	now = start.Add(8*time.Hour + time.Minute)
	if st.get(req()) != nil {
		t.Error("session outlived 8 hours")
	}
}

// TestTenantIsolation is the service's isolation matrix extended to the
// portal: fabrikam's admin, signed in, asks every portal route about
// contoso's mapping and never sees or changes it; signed out, no route
// but the public ones answers with data.
func TestTenantIsolation(t *testing.T) {
	for _, db := range testenv.Databases(t) {
		t.Run(db.Name, func(t *testing.T) {
			e := newEnv(t, db)
			fab := e.sim.Directory().Tenant("fabrikam")
			if err := e.st.PutTenant(t.Context(), store.Tenant{ID: fab.ID, DisplayName: fab.DisplayName, Domains: fab.Domains, Seats: 3,
				LicenceExpires: time.Now().AddDate(0, 1, 0), Policies: store.DefaultPolicies()}); err != nil {
				t.Fatal(err)
			}
			secret := "Contoso Secret Ledger"
			m, err := e.st.CreateMapping(t.Context(), e.contoso.ID, store.Mapping{Mapping: apitype.Mapping{DisplayName: secret, DriveLetter: "S",
				Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: "https://contoso.sharepoint.com/sites/Finance", LibraryName: "Documents"}},
				Groups: []string{e.finance}})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.st.Audit(t.Context(), e.contoso.ID, "someone", "mapping.create", m.ID); err != nil {
				t.Fatal(err)
			}
			fiona := e.browser()
			if p := fiona.signIn("fiona@fabrikam.com"); p.status != 200 || !strings.Contains(p.body, "Fabrikam Inc") {
				t.Fatalf("fiona's sign-in = %d", p.status)
			}
			anon := e.browser()
			anon.get("/portal/signin", false)
			routes := e.portal.Routes()
			// Sign-in and sign-out last: they end fiona's session.
			slices.SortStableFunc(routes, func(a, b Route) int {
				return cmpBool(strings.HasPrefix(a.Pattern, "/auth/"), strings.HasPrefix(b.Pattern, "/auth/"))
			})
			for _, rt := range routes {
				path := "/portal" + strings.ReplaceAll(strings.ReplaceAll(rt.Pattern, "{id}", m.ID), "{$}", "")
				path = strings.ReplaceAll(path, "{name}", "mapdrive-0.1.0-x64.msi")
				t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
					var p page
					form := url.Values{"csrf": {fiona.csrf}, "op": {"save"}, "name": {"Hijack"}, "kind": {"onedrive"}, "letter": {"H"}, "everyone": {"on"},
						"pin": {"allowed"}, "dir": {"down"}, "orgName": {"X"}, "accept": {"on"}, "pollSeconds": {"60"}, "cacheGb": {"1"}}
					if rt.Method == http.MethodPost {
						p = fiona.post(path+"?siteUrl=x", form, false)
					} else {
						p = fiona.get(path+"?siteUrl="+url.QueryEscape("https://contoso.sharepoint.com/sites/Finance")+"&groupSearch=fin", false)
					}
					for _, leak := range []string{secret, m.ID, "Contoso Ltd", "Finance Team", e.contoso.ID} {
						if strings.Contains(p.body, leak) || strings.Contains(p.header.Get("Location"), leak) {
							t.Errorf("fiona's %s %s shows %q: %d %s", rt.Method, path, leak, p.status, p.body)
						}
					}
					if rt.Public {
						return
					}
					if strings.HasPrefix(p.header.Get("Location"), "/portal/signin") || p.status == http.StatusUnauthorized {
						t.Fatalf("fiona is not signed in for %s %s: %d", rt.Method, path, p.status)
					}
					var q page
					if rt.Method == http.MethodPost {
						form.Set("csrf", anon.csrf)
						q = anon.post(path, form, false)
					} else {
						q = anon.get(path, false)
					}
					if q.status != http.StatusSeeOther && q.status != http.StatusUnauthorized && q.status != http.StatusForbidden {
						t.Errorf("signed out %s %s = %d, want a redirect to sign in, 401 or 403", rt.Method, path, q.status)
					}
				})
			}
			got, err := e.st.Mapping(t.Context(), e.contoso.ID, m.ID)
			if err != nil || got.DisplayName != secret || got.DriveLetter != "S" {
				t.Errorf("contoso's mapping after fiona's tries = %+v, %v", got, err)
			}
			es, _ := e.st.AuditLog(t.Context(), e.contoso.ID, "", 0)
			if len(es) != 1 {
				t.Errorf("contoso's audit log gained entries: %+v", es)
			}
			if _, err := e.st.Tenant(t.Context(), directory.DemoNorthwindID); err == nil {
				t.Error("northwind got registered")
			}
		})
	}
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// TestSessionTableFull: when the table is full, unfinished sign-ins make
// room before any signed-in admin is dropped.
func TestSessionTableFull(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	st := newSessions(30*time.Minute, 8*time.Hour, func() time.Time { return now })
	rec := newRecorder()
	admin := st.create(rec, func(s *session) { s.TenantID = "t" })
	for range maxSessions + 50 {
		now = now.Add(time.Millisecond)
		st.create(rec, func(s *session) { s.State = "x" })
	}
	st.mu.Lock()
	_, ok := st.m[admin.ID]
	n := len(st.m)
	st.mu.Unlock()
	if !ok {
		t.Error("a flood of started sign-ins pushed the signed-in admin out")
	}
	if n > maxSessions {
		t.Errorf("session table holds %d, more than %d", n, maxSessions)
	}
}

// TestSignInRateLimit: one address may start only so many sign-ins.
func TestSignInRateLimit(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	var last page
	for range 40 {
		if last = b.get("/portal/auth/login", false); last.status == http.StatusTooManyRequests {
			break
		}
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Errorf("40 sign-ins in a row: last = %d, Retry-After %q", last.status, last.header.Get("Retry-After"))
	}
}
