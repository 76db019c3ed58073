package portal

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/crypto"
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

// sessionTable is a session table on a fresh SQLite store, on a clock
// the test moves.
func sessionTable(t *testing.T, now *time.Time) *sessions {
	t.Helper()
	st := openStore(t, testenv.SQLite(t))
	return newSessions(st, 30*time.Minute, 8*time.Hour, func() time.Time { return *now })
}

// openStore opens a migrated store on db with a fresh local KEK.
func openStore(t testing.TB, db testenv.DB) *store.Store {
	t.Helper()
	kek, err := crypto.OpenLocalKEK(filepath.Join(t.TempDir(), "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), db.Addr, kek, slog.New(slog.DiscardHandler), store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// cookieRequest is a request carrying session id's cookie.
func cookieRequest(t testing.TB, id string) *http.Request {
	r := httptest.NewRequestWithContext(t.Context(), "GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: cookieName, Value: id})
	return r
}

// live reports whether session id is live for the table.
func live(t testing.TB, st *sessions, id string) bool {
	t.Helper()
	ss, err := st.get(cookieRequest(t, id))
	if err != nil {
		t.Fatalf("get session: %v", err)
	}
	return ss != nil
}

// TestSessionExpiry: a session ends after the idle time and after the
// absolute lifetime, whatever its use; a sign-in under way ends after
// pendingTTL.
func TestSessionExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	st := sessionTable(t, &now)
	rec := newRecorder()
	ss, err := st.create(t.Context(), rec, func(s *session) { s.TenantID = "t" })
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		live    bool
	}{
		{29 * time.Minute, true}, {29 * time.Minute, true}, {31 * time.Minute, false},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := live(t, st, ss.ID); got != s.live {
			t.Errorf("step %d: live = %v, want %v", i, got, s.live)
		}
	}
	// Absolute: used every 20 minutes, it still ends at 8 hours.
	if ss, err = st.create(t.Context(), rec, func(s *session) { s.TenantID = "t" }); err != nil {
		t.Fatal(err)
	}
	start := now
	for now.Sub(start) < 8*time.Hour-20*time.Minute {
		now = now.Add(20 * time.Minute)
		if !live(t, st, ss.ID) {
			t.Fatalf("session ended at %v, before 8h", now.Sub(start))
		}
	}
	now = start.Add(8*time.Hour + time.Minute)
	if live(t, st, ss.ID) {
		t.Error("session outlived 8 hours")
	}
	// A sign-in under way is not kept alive by use.
	if ss, err = st.create(t.Context(), rec, func(s *session) { s.State = "x" }); err != nil {
		t.Fatal(err)
	}
	now = now.Add(pendingTTL - time.Second)
	if !live(t, st, ss.ID) {
		t.Error("a sign-in under way ended before pendingTTL")
	}
	now = now.Add(2 * time.Second)
	if live(t, st, ss.ID) {
		t.Error("a sign-in under way outlived pendingTTL")
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

// TestSessionTableFull: the table is bounded per admin, per tenant and
// for sign-ins under way; a flood of started sign-ins pushes out the
// oldest sign-ins, never a signed-in admin.
func TestSessionTableFull(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	st := sessionTable(t, &now)
	st.limits = store.SessionLimits{PerAdmin: 2, PerTenant: 3, Pending: 5}
	rec := newRecorder()
	create := func(init func(*session)) string {
		t.Helper()
		now = now.Add(time.Second)
		ss, err := st.create(t.Context(), rec, init)
		if err != nil {
			t.Fatal(err)
		}
		return ss.ID
	}
	adminOf := func(actor string) func(*session) {
		return func(s *session) { s.TenantID, s.Actor = "t", actor }
	}
	admin := create(adminOf("a1"))
	var pending []string
	for range 20 {
		pending = append(pending, create(func(s *session) { s.State = "x" }))
	}
	if !live(t, st, admin) {
		t.Error("a flood of started sign-ins pushed the signed-in admin out")
	}
	for i, id := range pending {
		if got, want := live(t, st, id), i >= len(pending)-5; got != want {
			t.Errorf("started sign-in %d live = %v, want %v (5 newest kept)", i, got, want)
		}
	}
	// Per admin: a third session of a1 pushes out a1's least recently used.
	second := create(adminOf("a1"))
	third := create(adminOf("a1"))
	if live(t, st, admin) || !live(t, st, second) || !live(t, st, third) {
		t.Errorf("per-admin bound: first %v second %v third %v, want only the two newest", live(t, st, admin), live(t, st, second), live(t, st, third))
	}
	// Per tenant: two more admins make four sessions; the oldest goes.
	b1 := create(adminOf("b1"))
	c1 := create(adminOf("c1"))
	if live(t, st, second) || !live(t, st, third) || !live(t, st, b1) || !live(t, st, c1) {
		t.Error("per-tenant bound: want the three newest sessions of the tenant")
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
