package portal

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/shared/logredact"
)

// cookieName has the __Host- prefix: the browser keeps it only when it
// is Secure, has Path=/ and no Domain, so no subdomain can plant one.
const cookieName = "__Host-mapdrive-portal"

// pendingTTL is how long a sign-in may take at the authority.
const pendingTTL = 10 * time.Minute

// touchEvery is how stale a session's last use may get before a request
// writes it again: most requests then cost one read, and the idle expiry
// is exact to within this.
const touchEvery = time.Minute

// session is one browser's state, kept server-side in the database; the
// cookie holds only its random id. Handlers get a copy: a change goes to
// the database through sessions.
type session struct {
	ID       string // the cookie value; the database holds only its hash
	CSRF     string
	Created  time.Time
	LastSeen time.Time
	Expires  time.Time

	// During sign-in.
	State, Nonce, Verifier string
	Next                   string

	// Once signed in. No UPN and no object id: the database must not
	// hold them (issue 12), so the session keeps the admin's audit
	// pseudonym and sign-in domain instead.
	TenantID string
	Actor    string     // crypto.Secrets.Actor of the admin
	Name     string     // display name, shown in the header only
	Domain   string     // the sign-in domain, which onboarding registers
	Graph    graphToken // the admin's delegated Graph token
	Flash    string     // one-shot notice for the next page
}

func (ss *session) signedIn() bool { return ss != nil && ss.TenantID != "" }

func (ss *session) csrfOK(tok string) bool {
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(ss.CSRF)) == 1
}

// graphToken is a delegated token for Graph with its refresh token.
type graphToken struct {
	Access  logredact.Secret
	Refresh logredact.Secret
	Expires time.Time
}

// sessions is the session table, in the database every replica shares.
type sessions struct {
	st        *store.Store // immutable
	idle, max time.Duration
	now       func() time.Time
	limits    store.SessionLimits
}

func newSessions(st *store.Store, idle, max time.Duration, now func() time.Time) *sessions {
	return &sessions{st: st, idle: idle, max: max, now: now, limits: store.DefaultSessionLimits}
}

func randomID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// expiry is when a session created at created and last used at seen
// ends: idle after its last use, never past its absolute lifetime, and a
// sign-in under way after pendingTTL.
func (t *sessions) expiry(ss *session, seen time.Time) time.Time {
	if !ss.signedIn() {
		return ss.Created.Add(min(pendingTTL, t.max))
	}
	if end := ss.Created.Add(t.max); end.Before(seen.Add(t.idle)) {
		return end
	}
	return seen.Add(t.idle)
}

// get returns the request's live session, nil if none; it refreshes the
// idle timer.
func (t *sessions) get(r *http.Request) (*session, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	now := t.now()
	ps, err := t.st.PortalSession(r.Context(), c.Value, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	ss := &session{ID: c.Value, CSRF: ps.CSRF, Created: ps.Created, LastSeen: ps.LastSeen, Expires: ps.Expires,
		State: ps.State, Nonce: ps.Nonce, Verifier: ps.Verifier, Next: ps.Next,
		TenantID: ps.TenantID, Actor: ps.Actor, Name: ps.Name, Domain: ps.Domain, Flash: ps.Flash,
		Graph: graphToken{Access: logredact.Secret(ps.Graph.Access), Refresh: logredact.Secret(ps.Graph.Refresh), Expires: ps.Graph.Expires}}
	if ss.signedIn() && now.Sub(ss.LastSeen) >= touchEvery {
		ss.LastSeen, ss.Expires = now, t.expiry(ss, now)
		if err := t.st.TouchPortalSession(r.Context(), ss.ID, ss.LastSeen, ss.Expires); err != nil {
			return nil, err
		}
	}
	return ss, nil
}

// create starts a new session, stores it, sets its cookie and returns it.
func (t *sessions) create(ctx context.Context, w http.ResponseWriter, init func(*session)) (*session, error) {
	now := t.now()
	ss := &session{ID: randomID(), CSRF: randomID(), Created: now, LastSeen: now}
	if init != nil {
		init(ss)
	}
	ss.Expires = t.expiry(ss, now)
	ps := store.PortalSession{TenantID: ss.TenantID, Actor: ss.Actor, Created: ss.Created, LastSeen: ss.LastSeen, Expires: ss.Expires,
		CSRF: ss.CSRF, State: ss.State, Nonce: ss.Nonce, Verifier: ss.Verifier, Next: ss.Next, Name: ss.Name, Domain: ss.Domain,
		Graph: store.SessionGraph{Access: ss.Graph.Access.Reveal(), Refresh: ss.Graph.Refresh.Reveal(), Expires: ss.Graph.Expires}, Flash: ss.Flash}
	if err := t.st.CreatePortalSession(ctx, ss.ID, ps, now, t.limits); err != nil {
		return nil, err
	}
	setCookie(w, ss.ID, t.max) // the database, not the browser, decides when it ends
	return ss, nil
}

// setGraph stores a renewed Graph token in session id.
func (t *sessions) setGraph(ctx context.Context, id string, g graphToken) error {
	return t.st.SetPortalSessionGraph(ctx, id, store.SessionGraph{Access: g.Access.Reveal(), Refresh: g.Refresh.Reveal(), Expires: g.Expires})
}

// destroy ends a session on every replica and clears its cookie.
func (t *sessions) destroy(ctx context.Context, w http.ResponseWriter, id string) error {
	setCookie(w, "", -1)
	return t.st.DeletePortalSession(ctx, id)
}

// takeFlash returns and clears the session's one-shot notice.
func (t *sessions) takeFlash(ctx context.Context, id string) (string, error) {
	return t.st.TakePortalSessionFlash(ctx, id)
}

func setCookie(w http.ResponseWriter, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: cookieName, Value: value, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}
