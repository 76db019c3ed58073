package m365sim

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestThrottleAndEarlyRetry(t *testing.T) {
	clock := newFakeClock()
	s := StartForTest(t, WithNow(clock.Now))
	ctx := ctxT(t)
	adm := s.Admin()
	if _, err := adm.AddFault(ctx, Fault{Kind: FaultThrottle, Tenant: "contoso", User: "alice", RetryAfter: 3, Times: 1}); err != nil {
		t.Fatal(err)
	}
	alice, bob := userToken(t, s, "contoso", "alice"), userToken(t, s, "contoso", "bob")
	c := h2Client(s)
	me := s.GraphURL() + "/me"

	r := do(t, c, http.MethodGet, me, alice, nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "3" {
		t.Fatalf("first request: %d Retry-After %q, want 429 with 3", r.status, r.header.Get("Retry-After"))
	}
	if code, inner := graphError(t, r.body); code != "activityLimitReached" || inner != "throttledRequest" {
		t.Errorf("throttle body codes = %s/%s, want activityLimitReached/throttledRequest", code, inner)
	}
	if r.header.Get("RateLimit-Remaining") != "0" || r.header.Get("request-id") == "" {
		t.Errorf("throttle headers = %v", r.header)
	}
	if r := do(t, c, http.MethodGet, me, bob, nil); r.status != http.StatusOK {
		t.Errorf("bob during alice's throttling: %d, want 200", r.status)
	}

	// 2 s later is too early: throttled again, and the window restarts.
	clock.Advance(2 * time.Second)
	if r := do(t, c, http.MethodGet, me, alice, nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("early retry: %d, want 429", r.status)
	}
	clock.Advance(2 * time.Second) // 4 s after the first, 2 s after the early retry
	if r := do(t, c, http.MethodGet, me, alice, nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("retry inside the extended window: %d, want 429", r.status)
	}
	clock.Advance(3 * time.Second)
	if r := do(t, c, http.MethodGet, me, alice, nil); r.status != http.StatusOK {
		t.Fatalf("retry after Retry-After: %d %s, want 200", r.status, r.body)
	}

	cs, err := adm.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.EarlyRetries("contoso/alice"); got != 2 {
		t.Errorf("early retries of alice = %d, want 2", got)
	}
	st := cs.Throttle["contoso/alice"]
	if st == nil || st.Throttled != 3 || len(st.Events) != 4 || st.Events[3].Early || st.Events[3].Throttled {
		t.Errorf("alice's throttle stats = %+v", st)
	}
	if cs.EarlyRetries("contoso/bob") != 0 || cs.Throttle["contoso/bob"] != nil {
		t.Errorf("bob has throttle stats: %+v", cs.Throttle["contoso/bob"])
	}
	if n := cs.Count(RouteMetadata, http.MethodGet, http.StatusTooManyRequests, "contoso/alice"); n != 3 {
		t.Errorf("counted 429s of alice = %d, want 3", n)
	}
	fs, _ := adm.Faults(ctx)
	if len(fs.Faults) != 1 || fs.Faults[0].Fired != 1 {
		t.Errorf("faults after firing = %+v", fs.Faults)
	}
}

func TestThrottle503(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	if _, err := s.Admin().AddFault(ctx, Fault{Kind: FaultThrottle, Status: 503, RetryAfter: 7, Routes: []RouteClass{RouteChildren}}); err != nil {
		t.Fatal(err)
	}
	tok := userToken(t, s, "contoso", "alice")
	r := do(t, h1Client(s), http.MethodGet, s.GraphURL()+"/me/drive/root/children", tok, nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "7" {
		t.Errorf("children under a 503 throttle: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	// The window covers every Graph route of the user, not just children.
	if r := do(t, h1Client(s), http.MethodGet, s.GraphURL()+"/me", tok, nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("/me inside the window: %d, want 503", r.status)
	}
}

func TestErrorRateSeeded(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	tok := userToken(t, s, "contoso", "alice")
	c := h1Client(s)
	run := func() []int {
		if _, err := s.Admin().SetFaults(ctx, FaultSet{Seed: 42, Faults: []Fault{{Kind: FaultError, Status: 502, Rate: 0.3}}}); err != nil {
			t.Fatal(err)
		}
		var out []int
		for range 200 {
			out = append(out, do(t, c, http.MethodGet, s.GraphURL()+"/me", tok, nil).status)
		}
		return out
	}
	first := run()
	failed := 0
	for _, st := range first {
		switch st {
		case http.StatusBadGateway:
			failed++
		case http.StatusOK:
		default:
			t.Fatalf("status %d, want 200 or 502", st)
		}
	}
	if failed < 40 || failed > 80 {
		t.Errorf("%d of 200 failed at rate 0.3, want 40..80", failed)
	}
	second := run()
	if !slicesEqual(first, second) {
		t.Error("same seed gave a different failure sequence")
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLatency(t *testing.T) {
	const latency = 800 * time.Millisecond
	s := StartForTest(t)
	ctx := ctxT(t)
	if _, err := s.Admin().AddFault(ctx, Fault{Kind: FaultLatency, LatencyMS: latency.Milliseconds(), Methods: []string{"get"}}); err != nil {
		t.Fatal(err)
	}
	tok := userToken(t, s, "contoso", "alice")
	c := h1Client(s)
	do(t, c, http.MethodGet, s.GraphURL()+"/me", tok, nil) // warm the connection
	start := time.Now()
	if r := do(t, c, http.MethodGet, s.GraphURL()+"/me", tok, nil); r.status != http.StatusOK {
		t.Fatalf("GET /me = %d", r.status)
	}
	if d := time.Since(start); d < latency {
		t.Errorf("request with %v latency took %v", latency, d)
	}
	start = time.Now()
	do(t, c, http.MethodGet, s.BaseURL()+"/contoso/v2.0/.well-known/openid-configuration", "", nil)
	if d := time.Since(start); d >= latency {
		t.Errorf("Entra request delayed by a rule without the token route: %v", d)
	}
	fs, _ := s.Admin().Faults(ctx)
	if fs.Faults[0].Fired != 2 {
		t.Errorf("latency rule fired %d times, want 2 (the two Graph GETs)", fs.Faults[0].Fired)
	}
}

// uploadAndLocate uploads content for alice and returns the download URL
// /content redirects her to.
func uploadAndLocate(t *testing.T, s *Sim, c *http.Client, tok, name string, content []byte) string {
	t.Helper()
	if _, err := s.Admin().As("contoso", "alice").Upload(ctxT(t), "", name, content); err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	r := do(t, c, http.MethodGet, s.GraphURL()+"/"+ItemPath("", name)+"/content", tok, nil)
	if r.status != http.StatusFound || r.header.Get("Location") == "" {
		t.Fatalf("GET content of %s = %d %s, want 302 with Location", name, r.status, r.body)
	}
	return r.header.Get("Location")
}

func TestDropMidBody(t *testing.T) {
	for _, proto := range []string{"http1.1", "http2"} {
		t.Run(proto, func(t *testing.T) {
			s := StartForTest(t)
			ctx := ctxT(t)
			c := h1Client(s)
			if proto == "http2" {
				c = h2Client(s)
			}
			content := make([]byte, 1<<20)
			_, _ = rand.Read(content)
			alice := userToken(t, s, "contoso", "alice")
			loc := uploadAndLocate(t, s, c, alice, "drop.bin", content)
			if _, err := s.Admin().AddFault(ctx, Fault{Kind: FaultDrop, Tenant: "contoso", User: "alice", Routes: []RouteClass{RouteDownload}, AfterBytes: 100_000, Times: 1}); err != nil {
				t.Fatal(err)
			}
			// The download URL carries no token: the gate knows it was alice's.
			r := do(t, c, http.MethodGet, loc, "", nil)
			if r.err == nil {
				t.Fatalf("dropped download read %d bytes without error (status %d)", len(r.body), r.status)
			}
			if len(r.body) > 100_000 || !bytes.Equal(r.body, content[:len(r.body)]) {
				t.Errorf("dropped download delivered %d bytes, want a prefix of at most 100000", len(r.body))
			}
			if r := do(t, c, http.MethodGet, loc, "", nil); r.err != nil || !bytes.Equal(r.body, content) {
				t.Errorf("download after the one drop: %d bytes, %v", len(r.body), r.err)
			}
			// A rule for alice leaves bob's download URLs alone.
			if _, err := s.Admin().AddFault(ctx, Fault{Kind: FaultDrop, Tenant: "contoso", User: "alice", Routes: []RouteClass{RouteDownload}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Admin().As("contoso", "bob").Upload(ctx, "", "bob.bin", content); err != nil {
				t.Fatal(err)
			}
			bob := userToken(t, s, "contoso", "bob")
			rb := do(t, c, http.MethodGet, s.GraphURL()+"/"+ItemPath("", "bob.bin")+"/content", bob, nil)
			if r := do(t, c, http.MethodGet, rb.header.Get("Location"), "", nil); r.err != nil || !bytes.Equal(r.body, content) {
				t.Errorf("bob's download under alice's drop rule: %d bytes, %v", len(r.body), r.err)
			}
		})
	}
}

func TestDropUpload(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	tok := userToken(t, s, "contoso", "alice")
	if _, err := s.Admin().AddFault(ctx, Fault{Kind: FaultDrop, Routes: []RouteClass{RouteUpload}, AfterBytes: 1000, Times: 1}); err != nil {
		t.Fatal(err)
	}
	url := s.GraphURL() + "/" + ItemPath("", "up.bin") + "/content"
	r := do(t, h1Client(s), http.MethodPut, url, tok, bytes.NewReader(make([]byte, 200_000)))
	if r.err == nil {
		t.Fatalf("upload with a dropped connection answered %d", r.status)
	}
	if _, err := s.Admin().As("contoso", "alice").Get(ctx, "", "up.bin"); !IsStatus(err, http.StatusNotFound) {
		t.Errorf("file of the dropped upload: err = %v, want 404", err)
	}
}

func TestQuotaFull(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	if _, err := s.Admin().AddFault(ctx, Fault{Kind: FaultQuotaFull, Tenant: "contoso", User: "alice"}); err != nil {
		t.Fatal(err)
	}
	c := h1Client(s)
	alice := userToken(t, s, "contoso", "alice")
	url := s.GraphURL() + "/" + ItemPath("", "full.txt") + "/content"
	r := do(t, c, http.MethodPut, url, alice, strings.NewReader("x"))
	if r.status != http.StatusInsufficientStorage {
		t.Fatalf("PUT with a full quota = %d, want 507", r.status)
	}
	if code, _ := graphError(t, r.body); code != "quotaLimitReached" {
		t.Errorf("code = %s, want quotaLimitReached", code)
	}
	if r := do(t, c, http.MethodGet, s.GraphURL()+"/me", alice, nil); r.status != http.StatusOK {
		t.Errorf("a read with a full quota = %d, want 200", r.status)
	}
	bob := userToken(t, s, "contoso", "bob")
	if r := do(t, c, http.MethodPut, url, bob, strings.NewReader("x")); r.status/100 != 2 {
		t.Errorf("bob's PUT = %d %s, want 2xx", r.status, r.body)
	}
}

func TestOffline(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	adm := s.Admin()
	if _, err := adm.AddFault(ctx, Fault{Kind: FaultOffline}); err != nil {
		t.Fatal(err)
	}
	tok := userToken(t, s, "contoso", "alice")
	for _, c := range []*http.Client{h1Client(s), h2Client(s)} {
		for _, path := range []string{"/v1.0/me", "/contoso/oauth2/v2.0/token"} {
			if r := do(t, c, http.MethodGet, s.BaseURL()+path, tok, nil); r.err == nil {
				t.Errorf("offline: GET %s answered %d", path, r.status)
			}
		}
	}
	// The admin API stays reachable, so the test can bring it back.
	if err := adm.ClearFaults(ctx); err != nil {
		t.Fatalf("clear faults while offline: %v", err)
	}
	if r := do(t, h1Client(s), http.MethodGet, s.GraphURL()+"/me", tok, nil); r.status != http.StatusOK {
		t.Errorf("back online: %d %v", r.status, r.err)
	}
	cs, _ := adm.Counters(ctx)
	if n := cs.Count(RouteMetadata, http.MethodGet, 0, "contoso/alice"); n < 2 {
		t.Errorf("refused requests counted = %d, want at least 2", n)
	}
}

func TestTokenRouteFault(t *testing.T) {
	s := StartForTest(t)
	if _, err := s.Admin().AddFault(ctxT(t), Fault{Kind: FaultError, Status: 503, RetryAfter: 2, Routes: []RouteClass{RouteToken}}); err != nil {
		t.Fatal(err)
	}
	c := h1Client(s)
	r := do(t, c, http.MethodPost, s.AuthorityURL("contoso")+"/oauth2/v2.0/token", "", strings.NewReader("grant_type=refresh_token"))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "2" || !strings.Contains(string(r.body), `"temporarily_unavailable"`) {
		t.Errorf("token endpoint under a 503 fault = %d %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if r := do(t, c, http.MethodGet, s.GraphURL()+"/me", userToken(t, s, "contoso", "alice"), nil); r.status != http.StatusOK {
		t.Errorf("Graph under a token-only fault = %d", r.status)
	}
}

func TestRateLimitWarning(t *testing.T) {
	s := StartForTest(t)
	if _, err := s.Admin().AddFault(ctxT(t), Fault{Kind: FaultRateLimitWarning}); err != nil {
		t.Fatal(err)
	}
	r := do(t, h1Client(s), http.MethodGet, s.GraphURL()+"/me", userToken(t, s, "contoso", "alice"), nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /me = %d", r.status)
	}
	lim, _ := strconv.Atoi(r.header.Get("RateLimit-Limit"))
	rem, _ := strconv.Atoi(r.header.Get("RateLimit-Remaining"))
	if lim <= 0 || rem <= 0 || rem > lim/5 || r.header.Get("RateLimit-Reset") == "" {
		t.Errorf("RateLimit headers = %q %q %q", r.header.Get("RateLimit-Limit"), r.header.Get("RateLimit-Remaining"), r.header.Get("RateLimit-Reset"))
	}
}

func TestFaultValidation(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	tests := []struct {
		name string
		f    Fault
	}{
		{"unknown kind", Fault{Kind: "meteor"}},
		{"unknown route", Fault{Kind: FaultError, Routes: []RouteClass{"everything"}}},
		{"throttle 500", Fault{Kind: FaultThrottle, Status: 500}},
		{"error 404", Fault{Kind: FaultError, Status: 404}},
		{"rate above 1", Fault{Kind: FaultError, Rate: 1.5}},
		{"no latency", Fault{Kind: FaultLatency}},
		{"unknown tenant", Fault{Kind: FaultError, Tenant: "nowhere"}},
		{"unknown user", Fault{Kind: FaultError, Tenant: "contoso", User: "mallory"}},
		{"user without tenant", Fault{Kind: FaultError, User: "alice"}},
		{"negative bytes", Fault{Kind: FaultDrop, AfterBytes: -1}},
		{"retry after an hour", Fault{Kind: FaultThrottle, RetryAfter: 3601}},
		{"bad method", Fault{Kind: FaultError, Methods: []string{"GET /"}}},
		{"budget without units", Fault{Kind: FaultBudget}},
		{"budget window of a day", Fault{Kind: FaultBudget, Units: 5, WindowSec: 86400}},
		{"authentication context c100", Fault{Kind: FaultClaimsChallenge, Acrs: "c100"}},
		{"acrs on an error fault", Fault{Kind: FaultError, Acrs: "c1"}},
	}
	for _, tt := range tests {
		_, err := s.Admin().AddFault(ctx, tt.f)
		if !IsStatus(err, http.StatusBadRequest) {
			t.Errorf("%s: AddFault err = %v, want 400", tt.name, err)
		}
	}
	// A UPN names its tenant.
	f, err := s.Admin().AddFault(ctx, Fault{Kind: FaultError, User: "alice@contoso.com"})
	if err != nil || f.ID == "" || f.Status != 500 || f.Rate != 1 {
		t.Errorf("AddFault by UPN = %+v, %v", f, err)
	}
	if err := s.Admin().RemoveFault(ctx, f.ID); err != nil {
		t.Errorf("RemoveFault: %v", err)
	}
	if err := s.Admin().RemoveFault(ctx, f.ID); !IsStatus(err, http.StatusNotFound) {
		t.Errorf("RemoveFault twice: %v, want 404", err)
	}
	// A set with one bad rule changes nothing.
	if _, err := s.Admin().SetFaults(ctx, FaultSet{Faults: []Fault{{Kind: FaultOffline}, {Kind: "bad"}}}); !IsStatus(err, http.StatusBadRequest) {
		t.Errorf("SetFaults with a bad rule: %v", err)
	}
	if fs, _ := s.Admin().Faults(ctx); len(fs.Faults) != 0 {
		t.Errorf("faults after a refused set = %+v", fs.Faults)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		method, path string
		want         RouteClass
	}{
		{"GET", "/v1.0/me", RouteMetadata},
		{"GET", "/v1.0/me/drive/root/children", RouteChildren},
		{"POST", "/v1.0/drives/b!x/items/1/children", RouteChildren},
		{"GET", "/v1.0/drives/b!x/root:/a b/c:/children", RouteChildren},
		{"GET", "/v1.0/drives/b!x/root/delta", RouteDelta},
		{"GET", "/v1.0/me/drive/root/delta()", RouteDelta},
		{"GET", "/v1.0/drives/b!x/items/1/content", RouteContent},
		{"HEAD", "/v1.0/drives/b!x/root:/a.txt:/content", RouteContent},
		{"PUT", "/v1.0/drives/b!x/root:/a.txt:/content", RouteUpload},
		{"POST", "/v1.0/drives/b!x/root:/a.txt:/createUploadSession", RouteUpload},
		{"PUT", "/_upload/abc", RouteUpload},
		{"GET", "/_download/abc", RouteDownload},
		{"GET", "/_monitor/abc", RouteMetadata},
		{"POST", "/v1.0/$batch", RouteBatch},
		{"POST", "/contoso/oauth2/v2.0/token", RouteToken},
		{"GET", "/common/discovery/v2.0/keys", RouteToken},
		{"GET", "/v1.0", RouteMetadata},
		{"GET", "/v1.0/drives/b!x/root:/content", RouteMetadata},
		{"GET", "/v1.0/drives/b!x/root:/delta.txt", RouteMetadata},
		{"GET", "/v1.0/drives/b!x/root:/a/children:", RouteMetadata},
		{"GET", "/v1.0/drives/b!x/root:/a/children:/children", RouteChildren},
		{"GET", "/v1.0/drives/b!x/items/1:/sub/f.txt:/content", RouteContent},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(tt.method, "https://x"+strings.ReplaceAll(tt.path, " ", "%20"), nil)
		if got := Classify(r); got != tt.want {
			t.Errorf("Classify(%s %s) = %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestClaimsUser(t *testing.T) {
	s := StartForTest(t)
	tok := userToken(t, s, "contoso", "alice")
	u := claimsUser(tok)
	_, alice, _ := lookupUser(s.Directory(), "contoso", "alice")
	if u.oid != strings.ToLower(alice.ID) || u.tid == "" {
		t.Errorf("claimsUser = %+v, want alice %s", u, alice.ID)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a.e30.c", strings.Repeat("x", 100)} {
		if u := claimsUser(bad); u.known() {
			t.Errorf("claimsUser(%q) = %+v, want unknown", bad, u)
		}
	}
}

func TestJSONStringsAfter(t *testing.T) {
	doc := []byte(`{"value":[{"@microsoft.graph.downloadUrl":"https://h/_download/a?x=1\u0026y=2"},` +
		`{"@microsoft.graph.downloadUrl" : "https://h/_download/b\"q"}], "uploadUrl":"https://h/_upload/c", "uploadUrl":5, "uploadUrl":"unterminated`)
	got := jsonStringsAfter(doc, `"@microsoft.graph.downloadUrl"`, `"uploadUrl"`)
	want := []string{"https://h/_download/a?x=1&y=2", `https://h/_download/b"q`, "https://h/_upload/c"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("jsonStringsAfter = %q, want %q", got, want)
	}
}

func TestHintsEvictOldest(t *testing.T) {
	h := newHints(2)
	a, b, c := userKey{"t", "a"}, userKey{"t", "b"}, userKey{"t", "c"}
	h.add("https://h/_download/1", a)
	h.add("https://h/_download/2", b)
	h.add("https://h/v1.0/me", c) // not pre-authenticated: ignored
	h.add("https://h/_download/3", c)
	if h.get("/_download/1").known() || h.get("/_download/2") != b || h.get("/_download/3") != c || h.get("/v1.0/me").known() {
		t.Errorf("hints = %v", h.m)
	}
}

// A download URL handed out inside a listing (not by a 302) is attributed
// to the user who listed, so per-user faults reach it.
func TestDownloadURLFromListingAttributed(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	if _, err := s.Admin().As("contoso", "alice").Upload(ctx, "", "listed.txt", []byte("listed content")); err != nil {
		t.Fatal(err)
	}
	c := h1Client(s)
	r := do(t, c, http.MethodGet, s.GraphURL()+"/me/drive/root/children", userToken(t, s, "contoso", "alice"), nil)
	var page struct {
		Value []Item `json:"value"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	loc := ""
	for _, it := range page.Value {
		if it.Name == "listed.txt" {
			loc = it.DownloadURL
		}
	}
	if loc == "" {
		t.Fatalf("listing has no downloadUrl for listed.txt: %s", r.body)
	}
	if _, err := s.Admin().AddFault(ctx, Fault{Kind: FaultError, Status: 500, User: "alice@contoso.com", Routes: []RouteClass{RouteDownload}}); err != nil {
		t.Fatal(err)
	}
	if r := do(t, c, http.MethodGet, loc, "", nil); r.status != http.StatusInternalServerError {
		t.Errorf("alice's listed download URL under her error fault = %d, want 500", r.status)
	}
	cs, _ := s.Admin().Counters(ctx)
	if n := cs.Count(RouteDownload, http.MethodGet, 500, "contoso/alice"); n != 1 {
		t.Errorf("download attributed to alice = %d, want 1", n)
	}
}

func TestGateRecoversHandlerPanic(t *testing.T) {
	s := StartForTest(t)
	tests := []struct {
		name      string
		h         http.HandlerFunc
		wantCode  int
		wantAbort bool
	}{
		{"before writing", func(w http.ResponseWriter, r *http.Request) { panic("boom") }, 500, false},
		{"after writing", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200); panic("boom") }, 0, true},
		{"abort passes", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/v1.0/me", nil)
			var aborted bool
			func() {
				defer func() { aborted = recover() == http.ErrAbortHandler }()
				s.gate.wrap(tt.h).ServeHTTP(rec, req)
			}()
			if aborted != tt.wantAbort {
				t.Fatalf("aborted = %v, want %v", aborted, tt.wantAbort)
			}
			if !tt.wantAbort {
				if code, _ := graphError(t, rec.Body.Bytes()); rec.Code != tt.wantCode || code != "generalException" {
					t.Errorf("answer = %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// FuzzGateInputs feeds the gate's parsers of outside input (request paths,
// bearer tokens, JSON bodies scanned for URLs) arbitrary data: they must
// not panic and must return well-formed results.
func FuzzGateInputs(f *testing.F) {
	f.Add("/v1.0/drives/b!x/root:/a b:/children", "Bearer e30.eyJ0aWQiOiJ0Iiwib2lkIjoibyJ9.sig", []byte(`{"uploadUrl":"https://h/_upload/x"}`))
	f.Add("/v1.0/$batch", "bearer ..", []byte(`{"@microsoft.graph.downloadUrl":"https://h/_download/a?x=\u0026"}`))
	f.Add("/_download/%zz", "Basic abc", []byte(`"Location":"\`))
	f.Fuzz(func(t *testing.T, path, auth string, body []byte) {
		u, err := url.Parse("https://h" + path)
		if err != nil {
			return
		}
		r := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{"Authorization": {auth}}}
		if c := Classify(r); !c.valid() {
			t.Fatalf("Classify(%q) = %q", path, c)
		}
		if _, tok, ok := strings.Cut(auth, " "); ok {
			if k := claimsUser(tok); k.known() && k.oid == "" {
				t.Fatalf("claimsUser(%q) = %+v: tenant without user", tok, k)
			}
		}
		h := newHints(4)
		for _, s := range jsonStringsAfter(body, `"uploadUrl"`, `"@microsoft.graph.downloadUrl"`, `"Location"`) {
			h.add(s, userKey{"t", "o"})
		}
	})
}

func TestBudget(t *testing.T) {
	clock := newFakeClock()
	s := StartForTest(t, WithNow(clock.Now))
	ctx := ctxT(t)
	if _, err := s.Admin().AddFault(ctx, Fault{Kind: FaultBudget, Units: 10, WindowSec: 10}); err != nil {
		t.Fatal(err)
	}
	c := h1Client(s)
	alice, bob := userToken(t, s, "contoso", "alice"), userToken(t, s, "contoso", "bob")
	me, list := s.GraphURL()+"/me", s.GraphURL()+"/me/drive/root/children"
	tests := []struct {
		url, tok      string
		want          int
		wantRemaining string // "" = no RateLimit headers
	}{
		{me, alice, 200, ""},    // 1
		{list, alice, 200, ""},  // 3: a listing costs 2
		{list, alice, 200, ""},  // 5
		{me, alice, 200, ""},    // 6
		{me, alice, 200, ""},    // 7
		{me, alice, 200, "2"},   // 8: past 80%
		{list, alice, 200, "0"}, // 10
		{me, alice, 429, "0"},   // 11 > 10: throttled
		{me, bob, 200, ""},      // bob has his own budget
	}
	for i, tt := range tests {
		r := do(t, c, http.MethodGet, tt.url, tt.tok, nil)
		if r.status != tt.want || r.header.Get("RateLimit-Remaining") != tt.wantRemaining {
			t.Fatalf("request %d: %d RateLimit-Remaining %q, want %d %q", i, r.status, r.header.Get("RateLimit-Remaining"), tt.want, tt.wantRemaining)
		}
		if tt.wantRemaining != "" && r.header.Get("RateLimit-Limit") != "10" {
			t.Errorf("request %d: RateLimit-Limit %q, want 10", i, r.header.Get("RateLimit-Limit"))
		}
		if r.status == 429 && r.header.Get("Retry-After") != "10" {
			t.Errorf("Retry-After = %q, want 10 (the rest of the window)", r.header.Get("Retry-After"))
		}
	}
	clock.Advance(10 * time.Second)
	if r := do(t, c, http.MethodGet, me, alice, nil); r.status != 200 || r.header.Get("RateLimit-Remaining") != "" {
		t.Errorf("after the window: %d %q", r.status, r.header.Get("RateLimit-Remaining"))
	}
	cs, _ := s.Admin().Counters(ctx)
	if cs.EarlyRetries("contoso/alice") != 0 || cs.Throttle["contoso/alice"].Throttled != 1 {
		t.Errorf("alice's throttle stats = %+v", cs.Throttle["contoso/alice"])
	}
}

func TestBandwidth(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	c := h1Client(s)
	tok := userToken(t, s, "contoso", "alice")
	content := make([]byte, 200_000)
	_, _ = rand.Read(content)
	loc := uploadAndLocate(t, s, c, tok, "slow.bin", content)
	if _, err := s.Admin().AddFault(ctx, Fault{Kind: FaultBandwidth, BytesPerSec: 200_000, Routes: []RouteClass{RouteDownload, RouteUpload}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := do(t, c, http.MethodGet, loc, "", nil)
	if d := time.Since(start); r.err != nil || !bytes.Equal(r.body, content) || d < 800*time.Millisecond {
		t.Errorf("200 kB at 200 kB/s: %d bytes in %v, %v; want all of it in about 1 s", len(r.body), d, r.err)
	}
	start = time.Now()
	r = do(t, c, http.MethodPut, s.GraphURL()+"/"+ItemPath("", "slow-up.bin")+"/content", tok, bytes.NewReader(content))
	if d := time.Since(start); r.status != http.StatusCreated || d < 800*time.Millisecond {
		t.Errorf("upload of 200 kB at 200 kB/s = %d in %v, want 201 in about 1 s", r.status, d)
	}
}
