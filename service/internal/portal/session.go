package portal

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/shared/logredact"
)

// cookieName has the __Host- prefix: the browser keeps it only when it
// is Secure, has Path=/ and no Domain, so no subdomain can plant one.
const cookieName = "__Host-mapdrive-portal"

// maxSessions bounds the session table; past it the oldest sessions go.
const maxSessions = 10000

// session is one browser's state, kept server-side; the cookie holds only
// its random id. Fields are guarded by sessions.mu once the session is in
// the table: handlers get a snapshot copy.
type session struct {
	ID       string
	CSRF     string
	Created  time.Time
	LastSeen time.Time

	// During sign-in.
	State, Nonce, Verifier string
	Next                   string

	// Once signed in.
	TenantID string
	ObjectID string
	Name     string           // display name, shown in the header only
	UPN      logredact.Secret // shown in the header only, never logged
	Graph    graphToken       // the admin's delegated Graph token
	Flash    string           // one-shot notice for the next page
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

// sessions is the session table of this replica.
type sessions struct {
	idle, max time.Duration // immutable
	now       func() time.Time

	mu sync.Mutex // guards m
	m  map[string]*session
}

func newSessions(idle, max time.Duration, now func() time.Time) *sessions {
	return &sessions{idle: idle, max: max, now: now, m: map[string]*session{}}
}

func randomID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// get returns a copy of the request's live session, nil if none; it
// refreshes the idle timer.
func (t *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.m[c.Value]
	if ss == nil {
		return nil
	}
	if now.Sub(ss.LastSeen) > t.idle || now.Sub(ss.Created) > t.max {
		delete(t.m, c.Value)
		return nil
	}
	ss.LastSeen = now
	cp := *ss
	return &cp
}

// create starts a new session, sets its cookie and returns a copy.
func (t *sessions) create(w http.ResponseWriter, init func(*session)) *session {
	now := t.now()
	ss := &session{ID: randomID(), CSRF: randomID(), Created: now, LastSeen: now}
	if init != nil {
		init(ss)
	}
	t.mu.Lock()
	if len(t.m) >= maxSessions {
		t.pruneLocked(now)
	}
	t.m[ss.ID] = ss
	t.mu.Unlock()
	setCookie(w, ss.ID, t.max)
	cp := *ss
	return &cp
}

// pendingTTL is how long a sign-in may take at the authority.
const pendingTTL = 10 * time.Minute

// pruneLocked drops expired sessions and sign-ins that were never
// finished; if the table is still full, the oldest unfinished sign-in
// goes, and only without one the least recently used session: a flood of
// started sign-ins cannot push signed-in admins out.
func (t *sessions) pruneLocked(now time.Time) {
	var oldest, oldestPending *session
	for id, ss := range t.m {
		if now.Sub(ss.LastSeen) > t.idle || now.Sub(ss.Created) > t.max || (!ss.signedIn() && now.Sub(ss.Created) > pendingTTL) {
			delete(t.m, id)
			continue
		}
		if !ss.signedIn() && (oldestPending == nil || ss.Created.Before(oldestPending.Created)) {
			oldestPending = ss
		}
		if oldest == nil || ss.LastSeen.Before(oldest.LastSeen) {
			oldest = ss
		}
	}
	if len(t.m) < maxSessions {
		return
	}
	if oldestPending != nil {
		delete(t.m, oldestPending.ID)
	} else if oldest != nil {
		delete(t.m, oldest.ID)
	}
}

// update applies f to the stored session id, if it is still there.
func (t *sessions) update(id string, f func(*session)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ss := t.m[id]; ss != nil {
		f(ss)
	}
}

// destroy ends a session and clears its cookie.
func (t *sessions) destroy(w http.ResponseWriter, id string) {
	t.mu.Lock()
	delete(t.m, id)
	t.mu.Unlock()
	setCookie(w, "", -1)
}

// takeFlash returns and clears the session's one-shot notice.
func (t *sessions) takeFlash(id string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.m[id]
	if ss == nil {
		return ""
	}
	f := ss.Flash
	ss.Flash = ""
	return f
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
