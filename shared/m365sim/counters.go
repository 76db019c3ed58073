package m365sim

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Counters is a snapshot of the request counters, as GET /_admin/counters
// returns them.
type Counters struct {
	// Since is when the counters were last reset (or the simulator started).
	Since time.Time `json:"since"`
	// Requests counts requests by route class, method, final status and
	// user. Status 0 means the connection was refused (offline fault).
	Requests []CounterEntry `json:"requests"`
	// Throttle holds, for every user throttled since Since, what happened
	// from the first throttled request on. Keyed like CounterEntry.User.
	Throttle map[string]*ThrottleStats `json:"throttle"`
	// Claims holds, for every user challenged or answered since Since,
	// the claims challenges Graph sent and the tokens Entra issued for a
	// claims request. Keyed like CounterEntry.User.
	Claims map[string]*ClaimsStats `json:"claims,omitempty"`
}

// ClaimsStats records continuous access evaluation for one user.
type ClaimsStats struct {
	// Challenges counts Graph's 401 insufficient_claims answers.
	Challenges int `json:"challenges"`
	// Granted counts tokens Entra issued for a claims request that
	// answered a challenge (claims beyond the client's capabilities).
	Granted int `json:"granted"`
	// LastClaims is the claims parameter of the last such request, as
	// the client sent it (decoded JSON).
	LastClaims string `json:"lastClaims,omitempty"`
}

// CounterEntry counts requests with one route class, method, status and
// user. User is "tenant/userName" (tenant short name), or "" when the
// request could not be attributed to a user.
type CounterEntry struct {
	Route  RouteClass `json:"route"`
	Method string     `json:"method"`
	Status int        `json:"status"`
	User   string     `json:"user"`
	Count  int64      `json:"count"`
}

// ThrottleStats records how a user's client behaved once throttled.
type ThrottleStats struct {
	// Throttled counts throttling responses (429/503), re-throttles included.
	Throttled int `json:"throttled"`
	// EarlyRetries counts requests that came before Retry-After had
	// elapsed; each was throttled again and extended the window.
	EarlyRetries int `json:"earlyRetries"`
	// Events are the user's requests from the first throttling on, oldest
	// first, at most maxThrottleEvents (the newest are kept).
	Events []ThrottleEvent `json:"events"`
}

// ThrottleEvent is one request of a throttled user.
type ThrottleEvent struct {
	At     time.Time  `json:"at"`
	Route  RouteClass `json:"route"`
	Method string     `json:"method"`
	// Throttled reports whether this request was answered with 429/503.
	Throttled bool `json:"throttled"`
	// Early reports whether it came before the previous Retry-After elapsed.
	Early bool `json:"early"`
	// RetryAfter is the Retry-After given, in seconds, when Throttled.
	RetryAfter int `json:"retryAfter,omitempty"`
}

const maxThrottleEvents = 256

// Count sums the entries that match. A zero route, empty method, zero
// status or empty user matches any; use AnonymousUser to count
// unattributed requests only.
func (c *Counters) Count(route RouteClass, method string, status int, user string) int64 {
	var n int64
	for _, e := range c.Requests {
		if (route == "" || e.Route == route) && (method == "" || e.Method == method) &&
			(status == 0 || e.Status == status) && (user == "" || e.User == user || (user == AnonymousUser && e.User == "")) {
			n += e.Count
		}
	}
	return n
}

// EarlyRetries returns how many requests user sent before a Retry-After
// had elapsed.
func (c *Counters) EarlyRetries(user string) int {
	if s := c.Throttle[user]; s != nil {
		return s.EarlyRetries
	}
	return 0
}

// AnonymousUser selects, in Counters.Count, requests attributed to no user.
const AnonymousUser = "-"

type counterKey struct {
	route  RouteClass
	method string
	status int
	user   string
}

// counters is the live, concurrency-safe form of Counters.
type counters struct {
	mu       sync.Mutex // guards the fields below
	since    time.Time
	requests map[counterKey]int64
	throttle map[string]*ThrottleStats
	claims   map[string]*ClaimsStats
}

func newCounters(now time.Time) *counters {
	return &counters{since: now, requests: map[counterKey]int64{}, throttle: map[string]*ThrottleStats{}, claims: map[string]*ClaimsStats{}}
}

// claimsLocked returns user's claims stats, creating them. c.mu must be held.
func (c *counters) claimsLocked(user string) *ClaimsStats {
	s := c.claims[user]
	if s == nil {
		s = &ClaimsStats{}
		c.claims[user] = s
	}
	return s
}

// challenged counts a claims challenge sent to user.
func (c *counters) challenged(user string) {
	c.mu.Lock()
	c.claimsLocked(user).Challenges++
	c.mu.Unlock()
}

// granted counts a token issued to user for the claims request claims.
func (c *counters) granted(user, claims string) {
	c.mu.Lock()
	s := c.claimsLocked(user)
	s.Granted++
	s.LastClaims = claims
	c.mu.Unlock()
}

func (c *counters) add(route RouteClass, method string, status int, user string) {
	c.mu.Lock()
	c.requests[counterKey{route, method, status, user}]++
	c.mu.Unlock()
}

// throttleEvent records a request of user if it was throttled or the user
// was throttled before.
func (c *counters) throttleEvent(user string, ev ThrottleEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.throttle[user]
	if s == nil {
		if !ev.Throttled {
			return
		}
		s = &ThrottleStats{}
		c.throttle[user] = s
	}
	if ev.Throttled {
		s.Throttled++
	}
	if ev.Early {
		s.EarlyRetries++
	}
	if len(s.Events) == maxThrottleEvents {
		s.Events = slices.Delete(s.Events, 0, 1)
	}
	s.Events = append(s.Events, ev)
}

func (c *counters) snapshot() *Counters {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &Counters{Since: c.since, Requests: make([]CounterEntry, 0, len(c.requests)), Throttle: map[string]*ThrottleStats{},
		Claims: map[string]*ClaimsStats{}}
	for u, s := range c.claims {
		cp := *s
		out.Claims[u] = &cp
	}
	for k, n := range c.requests {
		out.Requests = append(out.Requests, CounterEntry{Route: k.route, Method: k.method, Status: k.status, User: k.user, Count: n})
	}
	slices.SortFunc(out.Requests, func(a, b CounterEntry) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Route, b.Route), cmp.Compare(a.Method, b.Method), cmp.Compare(a.Status, b.Status))
	})
	for u, s := range c.throttle {
		cp := *s
		cp.Events = slices.Clone(s.Events)
		out.Throttle[u] = &cp
	}
	return out
}

func (c *counters) reset(now time.Time) {
	c.mu.Lock()
	c.since = now
	c.requests = map[counterKey]int64{}
	c.throttle = map[string]*ThrottleStats{}
	c.claims = map[string]*ClaimsStats{}
	c.mu.Unlock()
}
