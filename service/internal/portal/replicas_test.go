package portal

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/service/internal/testenv"
)

// TestSessionAcrossReplicas runs two replicas of the service on one
// database behind one ingress (one public URL, as Azure Container Apps
// runs them), with nothing in memory shared: the sign-in starts on A,
// the simulator's callback lands on B, the admin creates a mapping on A
// with the CSRF token B's page gave, sees its notice on B, and signs out
// on B, which ends the session on A too. After the sign-in and after the
// actions on both replicas, the raw database holds no UPN, no session
// id, no CSRF token, no PKCE secret and no Graph token in clear.
func TestSessionAcrossReplicas(t *testing.T) {
	for _, db := range testenv.Databases(t) {
		t.Run(db.Name, func(t *testing.T) {
			e := newEnv(t, db)
			a := http.Handler(e.portalHandler())
			_, _, b := e.replica()
			br := e.browser()
			ctx := t.Context()

			// On A: the sign-in starts; its state, nonce and verifier are
			// in the database, sealed.
			e.serve(a)
			back := br.atAuthority("admin@contoso.com")
			if back.status != http.StatusFound || !strings.Contains(back.header.Get("Location"), "/portal/auth/callback?") {
				t.Fatalf("the simulator's answer = %d %s, want a redirect to the callback", back.status, back.header.Get("Location"))
			}
			pre := cookieValue(br)
			pending, err := e.st.PortalSession(ctx, pre, time.Now())
			if err != nil || pending.Verifier == "" || pending.Nonce == "" {
				t.Fatalf("the sign-in under way, read from the database = %+v, %v", pending, err)
			}
			scanSessions(t, e, db, "the sign-in started on A", pre, pending)

			// On B: the callback finishes the sign-in A started.
			e.serve(b)
			p := br.get(resolve(back.url, back.header.Get("Location")), false)
			if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/mappings" {
				t.Fatalf("callback on B = %d %s %s", p.status, p.header.Get("Location"), p.body)
			}
			id := cookieValue(br)
			if id == "" || id == pre {
				t.Fatalf("session id after the callback on B = %q, want a new one", id)
			}
			ss, err := e.st.PortalSession(ctx, id, time.Now())
			if err != nil || ss.TenantID != e.contoso.ID || ss.Graph.Access == "" || ss.Graph.Refresh == "" {
				t.Fatalf("the session B created, read through A's store = %+v, %v", ss, err)
			}
			scanSessions(t, e, db, "the callback on B", id, ss)

			// On A: the session B created works, with its Graph token.
			e.serve(a)
			if p := br.get("/portal/mappings", false); p.status != http.StatusOK || !strings.Contains(p.body, "<h1>Drive mappings</h1>") {
				t.Fatalf("/portal/mappings on A = %d %s", p.status, p.body)
			}
			if p := br.get("/portal/libraries?siteUrl="+url.QueryEscape(financeSite), false); !strings.Contains(p.body, `<option value="Documents"`) {
				t.Errorf("libraries on A with the Graph token B stored = %d %s", p.status, p.body)
			}
			form := url.Values{"csrf": {br.csrf}, "op": {"save"}, "name": {"Finance"}, "kind": {"sharepoint"}, "siteUrl": {financeSite},
				"library": {"Documents"}, "letter": {"F"}, "mount": {"Finance"}, "pin": {"allowed"}, "group": {e.finance + "|Finance Team"}}
			if p := br.post("/portal/mappings/new", form, false); p.status != http.StatusSeeOther {
				t.Fatalf("new mapping on A = %d %s", p.status, p.body)
			}
			ms, err := e.st.Mappings(ctx, e.contoso.ID)
			if err != nil || len(ms) != 1 || ms[0].DisplayName != "Finance" {
				t.Fatalf("contoso's mappings after the save on A = %+v, %v", ms, err)
			}

			// On B: A's notice shows, once.
			e.serve(b)
			p = br.get("/portal/mappings", false)
			p.mustContain(t, "Saved mapping", "Finance")
			if p := br.get("/portal/mappings", false); strings.Contains(p.body, "Saved mapping") {
				t.Error("the notice showed twice")
			}
			ss, _ = e.st.PortalSession(ctx, id, time.Now())
			scanSessions(t, e, db, "the actions on A and B", id, ss)

			// Sign-out on B ends the session on A, even for a browser that
			// kept the cookie.
			if p := br.post("/portal/auth/signout", url.Values{"csrf": {br.csrf}}, false); p.status != http.StatusSeeOther {
				t.Fatalf("sign-out on B = %d %s", p.status, p.body)
			}
			if _, err := e.st.PortalSession(ctx, id, time.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the session after sign-out on B: %v, want ErrNotFound", err)
			}
			e.serve(a)
			stale := newBrowser(t, e.url, e.roots)
			stale.c.Jar.SetCookies(mustURL(t, e.url+"/portal/"), []*http.Cookie{{Name: cookieName, Value: id, Path: "/", Secure: true}})
			if p := stale.get("/portal/mappings", false); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/portal/signin") {
				t.Errorf("/portal/mappings on A with the signed-out cookie = %d %s, want a redirect to sign in", p.status, p.header.Get("Location"))
			}
			form.Set("csrf", ss.CSRF)
			form.Set("name", "After sign-out")
			if p := stale.post("/portal/mappings/new", form, false); p.status != http.StatusForbidden {
				t.Errorf("new mapping on A with the signed-out cookie and its CSRF token = %d, want 403", p.status)
			}
			if ms, _ := e.st.Mappings(ctx, e.contoso.ID); len(ms) != 1 {
				t.Errorf("a signed-out session saved a mapping: %+v", ms)
			}
		})
	}
}

// TestExpiredSessionRemoved: a session past its idle time is refused on
// the replica that sees it expired, and its row is deleted there, so
// another replica (whose clock does not yet call it expired) no longer
// finds it either.
func TestExpiredSessionRemoved(t *testing.T) {
	for _, db := range testenv.Databases(t) {
		t.Run(db.Name, func(t *testing.T) {
			e := newEnv(t, db)
			br := e.browser()
			if p := br.signIn("admin@contoso.com"); p.status != http.StatusOK {
				t.Fatalf("sign-in = %d %s", p.status, p.body)
			}
			id := cookieValue(br)
			e.skew.Store(int64(31 * time.Minute)) // the portal's clock: past the idle time
			if p := br.get("/portal/mappings", false); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/portal/signin") {
				t.Errorf("/portal/mappings with an expired session = %d %s, want a redirect to sign in", p.status, p.header.Get("Location"))
			}
			// At the real time the session would still be live: not
			// finding it proves the refusal deleted it.
			st2, _, _ := e.replica()
			if _, err := st2.PortalSession(t.Context(), id, time.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the expired session after its refusal: %v, want ErrNotFound (deleted)", err)
			}
		})
	}
}

// portalHandler is the env's first replica's handler, as newEnv set it.
func (e *env) portalHandler() http.Handler { return *e.front.Load() }

// scanSessions reads the raw database and fails if the UPN, the session
// id, the CSRF token, the sign-in's state, nonce and PKCE verifier or the
// Graph tokens are in it in clear, in any form testenv knows. It first
// proves the scan sees the session table: the id's hash is there.
func scanSessions(t *testing.T, e *env, db testenv.DB, after string, id string, ss store.PortalSession) {
	t.Helper()
	raw := db.Raw(t)
	sum := sha256.Sum256([]byte(id))
	testenv.MustContain(t, "raw database after "+after, raw, base64.RawURLEncoding.EncodeToString(sum[:]))
	needles := []string{"admin@contoso.com", id, ss.CSRF}
	for _, v := range []string{ss.State, ss.Nonce, ss.Verifier, ss.Graph.Access, ss.Graph.Refresh} {
		if v != "" {
			needles = append(needles, v)
		}
	}
	testenv.AssertAbsent(t, "raw database after "+after, raw, needles...)
}
