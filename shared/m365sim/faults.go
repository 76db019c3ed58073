package m365sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/graph"
)

// FaultKind names what a fault does.
type FaultKind string

// Fault kinds.
const (
	// FaultLatency delays matching requests by LatencyMS.
	FaultLatency FaultKind = "latency"
	// FaultThrottle answers Status (429, or 503) with Retry-After seconds
	// and Graph's activityLimitReached/throttledRequest body, and opens a
	// window of RetryAfter seconds for the user: every request of that
	// user before the window ends is throttled again and extends it.
	FaultThrottle FaultKind = "throttle"
	// FaultError answers Status (500-599) to a fraction Rate of matching
	// requests, drawn from the fault set's seeded generator.
	FaultError FaultKind = "error"
	// FaultDrop aborts the connection after AfterBytes bytes: of the
	// request body when the request has one (an upload), otherwise of the
	// response body (a download).
	FaultDrop FaultKind = "drop"
	// FaultQuotaFull answers 507 quotaLimitReached to writes (PUT and POST
	// of uploads, folder creation and copy).
	FaultQuotaFull FaultKind = "quotaFull"
	// FaultOffline closes the connection of every matching request without
	// an answer. With no Routes it matches Entra ID too.
	FaultOffline FaultKind = "offline"
	// FaultBandwidth paces request and response bodies to BytesPerSec,
	// for slow links, progress reporting and timeouts.
	FaultBandwidth FaultKind = "bandwidth"
	// FaultURLExpired answers matching downloads as an expired
	// pre-authenticated URL (401 unauthenticated), for one user's URLs
	// where POST /_admin/expire-download-urls expires everyone's. It
	// applies to the download route class only.
	FaultURLExpired FaultKind = "downloadUrlExpired"
	// FaultBudget throttles like SharePoint's resource units: each user
	// may spend Units per WindowSec seconds (default 60), a request costing
	// 1 (single-item GET, download, delta) or 2 (listings, writes, $batch).
	// Past 80% of the budget answers carry RateLimit-* headers; past 100%
	// the user is throttled (429) until the window resets, and retrying
	// early is throttled again.
	FaultBudget FaultKind = "budget"
	// FaultRateLimitWarning adds SharePoint's RateLimit-Limit,
	// RateLimit-Remaining and RateLimit-Reset headers, as sent past about
	// 80% of the budget, without failing the request.
	FaultRateLimitWarning FaultKind = "rateLimitWarning"
	// FaultClaimsChallenge is a Conditional Access change evaluated by
	// Graph (continuous access evaluation): Graph answers 401 with an
	// insufficient_claims challenge to every matching request whose
	// token does not yet satisfy it. Without Acrs the challenge asks for
	// a token issued after the rule was added (nbf); with Acrs, for one
	// carrying that authentication context. Only tokens of clients that
	// declared the cp1 capability are challenged, as Graph does; a
	// refresh-token grant with the challenge's claims satisfies it.
	FaultClaimsChallenge FaultKind = "claimsChallenge"
)

var faultKinds = []FaultKind{FaultLatency, FaultThrottle, FaultError, FaultDrop, FaultQuotaFull, FaultOffline, FaultBandwidth, FaultURLExpired, FaultBudget, FaultRateLimitWarning, FaultClaimsChallenge}

// Fault is one injected fault rule. Rules apply in the order they were
// added; a request can be delayed by several but answered by only one.
type Fault struct {
	// ID is assigned by the simulator.
	ID   string    `json:"id,omitempty"`
	Kind FaultKind `json:"kind"`
	// Tenant (GUID, short name or domain) limits the rule to one tenant;
	// with User, to one user (user name, UPN or object id). A UPN alone
	// names its tenant. Both empty: every request, attributed or not.
	Tenant string `json:"tenant,omitempty"`
	User   string `json:"user,omitempty"`
	// Routes limits the rule to route classes. Empty means every Graph
	// class; the token class (Entra ID) must be named, except by offline.
	Routes []RouteClass `json:"routes,omitempty"`
	// Methods limits the rule to HTTP methods; empty means all.
	Methods []string `json:"methods,omitempty"`
	// LatencyMS is the delay of a latency fault.
	LatencyMS int64 `json:"latencyMs,omitempty"`
	// Status of a throttle (429 default, or 503) or error (500 default) fault.
	Status int `json:"status,omitempty"`
	// RetryAfter in seconds, for throttle (default 1) and optionally error faults.
	RetryAfter int `json:"retryAfter,omitempty"`
	// Rate is the fraction of matching requests an error fault fails,
	// in (0, 1]; 0 means 1.
	Rate float64 `json:"rate,omitempty"`
	// AfterBytes is where a drop fault cuts the body.
	AfterBytes int64 `json:"afterBytes,omitempty"`
	// BytesPerSec is the rate of a bandwidth fault.
	BytesPerSec int64 `json:"bytesPerSec,omitempty"`
	// Units and WindowSec size a budget fault.
	Units     int `json:"units,omitempty"`
	WindowSec int `json:"windowSec,omitempty"`
	// Acrs is the authentication context (c1 to c99) a claimsChallenge
	// fault asks for; empty asks for a token issued after the rule.
	Acrs string `json:"acrs,omitempty"`
	// Times limits how often the rule fires; 0 means without limit.
	Times int `json:"times,omitempty"`
	// Fired counts how often the rule acted: requests delayed, answered,
	// armed to drop, paced or challenged; for a budget, requests
	// throttled. Read-only.
	Fired int `json:"fired,omitempty"`
}

// FaultSet is the whole fault configuration, as GET and PUT
// /_admin/faults exchange it.
type FaultSet struct {
	// Seed seeds the generator behind error rates; PUT with 0 keeps the
	// current seed. Setting it restarts the sequence.
	Seed   uint64  `json:"seed,omitempty"`
	Faults []Fault `json:"faults"`
}

// activeFault is a validated Fault with its scope resolved.
type activeFault struct {
	Fault
	tenantID string                // "" = any
	userID   string                // "" = any user of tenantID
	spent    map[userKey]*spending // budget faults; guarded by faults.mu
	armed    time.Time             // when the rule was added
}

// spending is what one user spent of a budget fault in the current window.
type spending struct {
	start time.Time
	used  int
}

// window is an open throttling window of one user.
type window struct {
	until      time.Time
	retryAfter int
	status     int
}

// userKey identifies who sent a request: the token's tid and oid, or the
// user the pre-authenticated URL was handed to. Zero when unknown.
type userKey struct{ tid, oid string }

func (u userKey) known() bool { return u.tid != "" }

// faults is the live fault configuration and the throttling windows.
type faults struct {
	dir *directory.Directory // immutable
	now func() time.Time     // immutable

	mu      sync.Mutex // guards the fields below
	rules   []*activeFault
	nextID  int
	seed    uint64
	rng     *rand.Rand
	windows map[userKey]*window
}

func newFaults(dir *directory.Directory, now func() time.Time, seed uint64) *faults {
	if seed == 0 {
		seed = 1
	}
	return &faults{dir: dir, now: now, seed: seed, rng: newRNG(seed), windows: map[userKey]*window{}}
}

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// validate checks f and resolves its tenant and user.
func (fs *faults) validate(f Fault) (*activeFault, error) {
	if !slices.Contains(faultKinds, f.Kind) {
		return nil, fmt.Errorf("fault kind %q: want one of %v", f.Kind, faultKinds)
	}
	for _, r := range f.Routes {
		if !r.valid() {
			return nil, fmt.Errorf("route class %q: want one of %v", r, RouteClasses)
		}
	}
	for i, m := range f.Methods {
		if m == "" || strings.ContainsAny(m, " \t\r\n/") {
			return nil, fmt.Errorf("method %q is not an HTTP method", m)
		}
		f.Methods[i] = strings.ToUpper(m)
	}
	if f.Times < 0 || f.Fired < 0 {
		return nil, errors.New("times must not be negative")
	}
	f.Fired = 0
	if f.RetryAfter < 0 || f.RetryAfter > 3600 {
		return nil, fmt.Errorf("retryAfter %d: want 0 to 3600 seconds", f.RetryAfter)
	}
	switch f.Kind {
	case FaultLatency:
		if f.LatencyMS <= 0 || f.LatencyMS > 600_000 {
			return nil, fmt.Errorf("latencyMs %d: want 1 to 600000", f.LatencyMS)
		}
	case FaultThrottle:
		if f.Status == 0 {
			f.Status = http.StatusTooManyRequests
		}
		if f.Status != http.StatusTooManyRequests && f.Status != http.StatusServiceUnavailable {
			return nil, fmt.Errorf("throttle status %d: want 429 or 503", f.Status)
		}
		if f.RetryAfter == 0 {
			f.RetryAfter = 1
		}
	case FaultError:
		if f.Status == 0 {
			f.Status = http.StatusInternalServerError
		}
		if f.Status < 500 || f.Status > 599 {
			return nil, fmt.Errorf("error status %d: want 500 to 599", f.Status)
		}
		if math.IsNaN(f.Rate) || f.Rate < 0 || f.Rate > 1 {
			return nil, fmt.Errorf("rate %v: want a fraction in (0, 1]", f.Rate)
		}
		if f.Rate == 0 {
			f.Rate = 1
		}
	case FaultDrop:
		if f.AfterBytes < 0 {
			return nil, errors.New("afterBytes must not be negative")
		}
	case FaultBandwidth:
		if f.BytesPerSec < 1024 {
			return nil, fmt.Errorf("bytesPerSec %d: want at least 1024", f.BytesPerSec)
		}
	case FaultClaimsChallenge:
		if f.Acrs != "" && !authContextID.MatchString(f.Acrs) {
			return nil, fmt.Errorf("acrs %q: want an authentication context id, c1 to c99", f.Acrs)
		}
	case FaultBudget:
		if f.Units <= 0 || f.Units > 1_000_000 {
			return nil, fmt.Errorf("units %d: want 1 to 1000000", f.Units)
		}
		if f.WindowSec == 0 {
			f.WindowSec = 60
		}
		if f.WindowSec < 1 || f.WindowSec > 3600 {
			return nil, fmt.Errorf("windowSec %d: want 1 to 3600", f.WindowSec)
		}
	}
	if f.Acrs != "" && f.Kind != FaultClaimsChallenge {
		return nil, fmt.Errorf("acrs applies to %s faults only", FaultClaimsChallenge)
	}
	a := &activeFault{Fault: f, spent: map[userKey]*spending{}, armed: fs.now()}
	if f.Tenant == "" && f.User != "" {
		if _, dom, ok := strings.Cut(f.User, "@"); ok {
			f.Tenant = dom
		}
	}
	if f.Tenant != "" {
		t := fs.dir.Tenant(f.Tenant)
		if t == nil {
			return nil, fmt.Errorf("unknown tenant %q", f.Tenant)
		}
		a.tenantID = strings.ToLower(t.ID) // as claimsUser reads tokens
		if f.User != "" {
			u := t.User(f.User)
			if u == nil {
				return nil, fmt.Errorf("unknown user %q in tenant %s", f.User, t.Name)
			}
			a.userID = strings.ToLower(u.ID)
		}
	} else if f.User != "" {
		return nil, fmt.Errorf("user %q needs a tenant", f.User)
	}
	return a, nil
}

// add validates and appends a rule, returning it with its ID.
func (fs *faults) add(f Fault) (Fault, error) {
	a, err := fs.validate(f)
	if err != nil {
		return Fault{}, err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.nextID++
	a.ID = "f" + strconv.Itoa(fs.nextID)
	fs.rules = append(fs.rules, a)
	return a.Fault, nil
}

// replace validates every rule, then swaps the set. Throttling windows
// already open stay open.
func (fs *faults) replace(set FaultSet) (FaultSet, error) {
	rules := make([]*activeFault, 0, len(set.Faults))
	for i, f := range set.Faults {
		f.Routes = slices.Clone(f.Routes)
		f.Methods = slices.Clone(f.Methods)
		a, err := fs.validate(f)
		if err != nil {
			return FaultSet{}, fmt.Errorf("fault %d: %w", i, err)
		}
		rules = append(rules, a)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, a := range rules {
		fs.nextID++
		a.ID = "f" + strconv.Itoa(fs.nextID)
	}
	fs.rules = rules
	if set.Seed != 0 {
		fs.seed = set.Seed
		fs.rng = newRNG(set.Seed)
	}
	return fs.snapshotLocked(), nil
}

// remove deletes one rule and reports whether it existed.
func (fs *faults) remove(id string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := len(fs.rules)
	fs.rules = slices.DeleteFunc(fs.rules, func(a *activeFault) bool { return a.ID == id })
	return len(fs.rules) != n
}

// clear removes every rule and closes every throttling window.
func (fs *faults) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = nil
	fs.windows = map[userKey]*window{}
}

func (fs *faults) snapshot() FaultSet {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.snapshotLocked()
}

func (fs *faults) snapshotLocked() FaultSet {
	out := FaultSet{Seed: fs.seed, Faults: make([]Fault, len(fs.rules))}
	for i, a := range fs.rules {
		out.Faults[i] = a.Fault
		out.Faults[i].Routes = slices.Clone(a.Routes)
		out.Faults[i].Methods = slices.Clone(a.Methods)
	}
	return out
}

// matches reports whether rule a applies to a request.
func (a *activeFault) matches(class RouteClass, method string, u userKey) bool {
	if a.Times > 0 && a.Fired >= a.Times {
		return false
	}
	if a.tenantID != "" && a.tenantID != u.tid {
		return false
	}
	if a.userID != "" && a.userID != u.oid {
		return false
	}
	if len(a.Routes) == 0 {
		if class == RouteToken && a.Kind != FaultOffline {
			return false
		}
	} else if !slices.Contains(a.Routes, class) {
		return false
	}
	return len(a.Methods) == 0 || slices.Contains(a.Methods, method)
}

// decision is what the faults make of one request.
type decision struct {
	offline   bool
	latency   time.Duration
	answer    *faultAnswer // non-nil: answer this instead of the handler
	dropAfter int64        // >= 0: cut the body after this many bytes
	rate      int64        // > 0: pace bodies to this many bytes a second
	rateLimit *rateLimit   // add RateLimit-* headers
	early     bool         // came inside an open throttling window
}

// faultAnswer is a synthetic error response.
type faultAnswer struct {
	status     int
	code       string // Graph error code
	inner      string // Graph inner error code
	message    string
	retryAfter int // seconds; 0 = no header
	throttled  bool
}

// decide applies the rules to a request arriving at now.
func (fs *faults) decide(class RouteClass, method string, u userKey, now time.Time) decision {
	d := decision{dropAfter: -1}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, a := range fs.rules {
		if a.Kind == FaultOffline && a.matches(class, method, u) {
			a.Fired++
			d.offline = true
			return d
		}
	}
	if class != RouteToken {
		if w := fs.windows[u]; w != nil {
			if now.Before(w.until) {
				w.until = now.Add(time.Duration(w.retryAfter) * time.Second)
				d.early = true
				d.answer = throttleAnswer(w.status, w.retryAfter)
			} else {
				delete(fs.windows, u)
			}
		}
	}
	for _, a := range fs.rules {
		if !a.matches(class, method, u) {
			continue
		}
		switch a.Kind {
		case FaultLatency:
			a.Fired++
			d.latency += time.Duration(a.LatencyMS) * time.Millisecond
		case FaultThrottle:
			if d.answer == nil {
				a.Fired++
				fs.windows[u] = &window{until: now.Add(time.Duration(a.RetryAfter) * time.Second), retryAfter: a.RetryAfter, status: a.Status}
				d.answer = throttleAnswer(a.Status, a.RetryAfter)
			}
		case FaultError:
			if d.answer == nil && fs.rng.Float64() < a.Rate {
				a.Fired++
				d.answer = errorAnswer(a.Status, a.RetryAfter)
			}
		case FaultQuotaFull:
			if d.answer == nil && isWrite(class, method) {
				a.Fired++
				d.answer = &faultAnswer{status: http.StatusInsufficientStorage, code: "quotaLimitReached",
					inner: "quotaLimitReached", message: "Insufficient Space Available"}
			}
		case FaultBandwidth:
			if d.rate == 0 || a.BytesPerSec < d.rate {
				a.Fired++
				d.rate = a.BytesPerSec
			}
		case FaultURLExpired:
			if d.answer == nil && class == RouteDownload {
				a.Fired++
				d.answer = &faultAnswer{status: http.StatusUnauthorized, code: "unauthenticated",
					message: "The pre-authenticated download URL has expired or is not valid."}
			}
		case FaultDrop:
			if d.dropAfter < 0 {
				a.Fired++
				d.dropAfter = a.AfterBytes
			}
		case FaultBudget:
			if d.answer == nil {
				fs.spendLocked(a, class, method, u, now, &d)
			}
		case FaultRateLimitWarning:
			a.Fired++
			if d.rateLimit == nil {
				d.rateLimit = &rateLimit{limit: 1200, remaining: 120, reset: 30}
			}
		}
	}
	if d.answer != nil {
		d.dropAfter = -1
	}
	return d
}

// rateLimit is what SharePoint's RateLimit-* headers say.
type rateLimit struct{ limit, remaining, reset int }

// cost is what a request costs of a budget, after SharePoint's resource
// units: 1 for a single-item read, a delta page or a download, 2 for a
// listing, a write or a batch.
func cost(class RouteClass, method string) int {
	switch {
	case class == RouteChildren && method == http.MethodGet:
		return 2
	case class == RouteBatch:
		return 2
	case method == http.MethodGet || method == http.MethodHead:
		return 1
	}
	return 2
}

// spendLocked charges a request to u's budget under rule a, throttling
// when the budget is spent.
func (fs *faults) spendLocked(a *activeFault, class RouteClass, method string, u userKey, now time.Time, d *decision) {
	end := func(sp *spending) time.Time { return sp.start.Add(time.Duration(a.WindowSec) * time.Second) }
	sp := a.spent[u]
	if sp == nil || !now.Before(end(sp)) {
		sp = &spending{start: now}
		a.spent[u] = sp
	}
	reset := int(math.Ceil(end(sp).Sub(now).Seconds()))
	if reset < 1 {
		reset = 1
	}
	c := cost(class, method)
	if sp.used+c > a.Units {
		a.Fired++
		fs.windows[u] = &window{until: end(sp), retryAfter: reset, status: http.StatusTooManyRequests}
		d.answer = throttleAnswer(http.StatusTooManyRequests, reset)
		d.rateLimit = &rateLimit{limit: a.Units, remaining: 0, reset: reset}
		return
	}
	sp.used += c
	if sp.used*5 >= a.Units*4 {
		d.rateLimit = &rateLimit{limit: a.Units, remaining: a.Units - sp.used, reset: reset}
	}
}

// authContextID is a Conditional Access authentication context id.
var authContextID = regexp.MustCompile(`^c([1-9]|[1-9][0-9])$`)

// challenge applies the claimsChallenge rules to a request of u whose
// verified token was issued at iat and carries the authentication
// contexts acrs. It returns the claims request of the first rule the
// token does not satisfy, or nil.
func (fs *faults) challenge(class RouteClass, method string, u userKey, iat int64, acrs []string) *graph.Challenge {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, a := range fs.rules {
		if a.Kind != FaultClaimsChallenge || !a.matches(class, method, u) {
			continue
		}
		if a.Acrs != "" {
			if slices.Contains(acrs, a.Acrs) {
				continue
			}
			a.Fired++
			// The code names the reason in the message only; this one is
			// the simulator's own.
			return &graph.Challenge{Claims: `{"access_token":{"acrs":{"essential":true,"value":"` + a.Acrs + `"}}}`,
				Code: "AuthenticationContextRequired"}
		}
		// Whole seconds, as tokens carry them: a token issued in the
		// second the rule was added satisfies it.
		if at := a.armed.Unix(); iat < at {
			a.Fired++
			return &graph.Challenge{Claims: nbfClaims(at), Code: "TokenCreatedWithOutdatedPolicies"}
		}
	}
	return nil
}

// nbfClaims is the claims request for a token issued at or after t (Unix
// seconds), the form Graph uses for CAE challenges ("How to use
// Continuous Access Evaluation enabled APIs in your applications").
func nbfClaims(t int64) string {
	return `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(t, 10) + `"}}}`
}

func throttleAnswer(status, retryAfter int) *faultAnswer {
	return &faultAnswer{status: status, code: "activityLimitReached", inner: "throttledRequest",
		message: "The request has been throttled", retryAfter: retryAfter, throttled: true}
}

func errorAnswer(status, retryAfter int) *faultAnswer {
	a := &faultAnswer{status: status, code: "generalException", message: "An unspecified error has occurred.", retryAfter: retryAfter}
	switch status {
	case http.StatusNotImplemented:
		a.code, a.message = "notSupported", "The request is not supported by the system."
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		a.code, a.message = "serviceNotAvailable", "The service is not available. Try the request again after a delay."
	}
	return a
}
