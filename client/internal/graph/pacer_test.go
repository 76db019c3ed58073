package graph

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// fakeClock is a Clock whose Sleep advances time at once.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

// step is one scripted answer of the fake server.
type step struct {
	status     int
	retryAfter string
	wwwAuth    string
	err        error // a dropped connection
}

// script is an http.RoundTripper that answers from a list and records what
// it was sent and when.
type script struct {
	clock *fakeClock
	mu    sync.Mutex
	steps []step
	sent  []sentReq
}

type sentReq struct {
	at     time.Duration // since the start of the test clock
	method string
	auth   string
	path   string
	body   string
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (s *script) RoundTrip(r *http.Request) (*http.Response, error) {
	var body string
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}
	s.mu.Lock()
	s.sent = append(s.sent, sentReq{at: s.clock.Now().Sub(epoch), method: r.Method, auth: r.Header.Get("Authorization"), path: r.URL.Path, body: body})
	st := step{status: 200}
	if len(s.steps) > 0 {
		st, s.steps = s.steps[0], s.steps[1:]
	}
	s.mu.Unlock()
	if st.err != nil {
		return nil, st.err
	}
	h := http.Header{}
	if st.retryAfter != "" {
		h.Set("Retry-After", st.retryAfter)
	}
	if st.wwwAuth != "" {
		h.Set("WWW-Authenticate", st.wwwAuth)
	}
	return &http.Response{StatusCode: st.status, Header: h, Body: io.NopCloser(strings.NewReader(`{}`)), Request: r}, nil
}

// fakeTokens counts token requests.
type fakeTokens struct{ token, renew, claims atomic.Int32 }

func (f *fakeTokens) Token(context.Context, []string) (string, error) {
	f.token.Add(1)
	return "cached", nil
}

func (f *fakeTokens) Renew(context.Context, []string) (string, error) {
	f.renew.Add(1)
	return "renewed", nil
}

func (f *fakeTokens) Claims(context.Context, []string, string) (string, error) {
	f.claims.Add(1)
	return "claimed", nil
}

const testBase = "https://graph.test/v1.0"

func newTestTransport(steps ...step) (*pacedTransport, *script, *fakeTokens) {
	clock := newFakeClock()
	s := &script{clock: clock, steps: steps}
	tok := &fakeTokens{}
	p := NewPacer(PacerOptions{Clock: clock, Jitter: func() float64 { return 0.5 }, BaseBackoff: time.Second, MaxBackoff: 8 * time.Second})
	return &pacedTransport{base: s, pacer: p, tokens: tok, scopes: []string{"x"}, graphBase: testBase, log: discardLogger()}, s, tok
}

func do(t *testing.T, rt http.RoundTripper, method, url, body string) (*http.Response, error) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.GetBody = nil // like the SDK: a body that cannot be re-read
		req.Body = io.NopCloser(strings.NewReader(body))
	}
	resp, err := rt.RoundTrip(req)
	if resp != nil {
		resp.Body.Close()
	}
	return resp, err
}

func TestPacerRetryPolicy(t *testing.T) {
	dropped := errors.New("connection reset by peer")
	tests := []struct {
		name       string
		method     string
		steps      []step
		wantStatus int // 0: want an error
		wantAt     []time.Duration
	}{
		{"429 waits Retry-After plus jitter", "GET", []step{{status: 429, retryAfter: "3"}}, 200,
			[]time.Duration{0, 3*time.Second + 150*time.Millisecond}},
		{"503 with Retry-After is throttling, even for POST", "POST", []step{{status: 503, retryAfter: "2"}}, 200,
			[]time.Duration{0, 2*time.Second + 100*time.Millisecond}},
		{"429 retried for PATCH (not processed)", "PATCH", []step{{status: 429, retryAfter: "1"}, {status: 429, retryAfter: "1"}}, 200,
			[]time.Duration{0, 1050 * time.Millisecond, 2100 * time.Millisecond}},
		{"500 backs off exponentially for GET", "GET", []step{{status: 500}, {status: 502}, {status: 504}}, 200,
			[]time.Duration{0, 750 * time.Millisecond, 750*time.Millisecond + 1500*time.Millisecond, 750*time.Millisecond + 1500*time.Millisecond + 3*time.Second}},
		{"500 is final for POST", "POST", []step{{status: 500}}, 500, []time.Duration{0}},
		{"503 without Retry-After is final for DELETE", "DELETE", []step{{status: 503}}, 503, []time.Duration{0}},
		{"dropped connection retried for GET", "GET", []step{{err: dropped}}, 200, []time.Duration{0, 750 * time.Millisecond}},
		{"dropped connection is final for POST", "POST", []step{{err: dropped}}, 0, []time.Duration{0}},
		{"507 is final", "GET", []step{{status: 507}}, 507, []time.Duration{0}},
		{"GET gives up after MaxErrorRetries", "GET", []step{{status: 500}, {status: 500}, {status: 500}, {status: 500}, {status: 500}}, 500,
			[]time.Duration{0, 750 * time.Millisecond, 2250 * time.Millisecond, 5250 * time.Millisecond, 11250 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, s, _ := newTestTransport(tt.steps...)
			resp, err := do(t, rt, tt.method, testBase+"/drives/d/items/i", "{}")
			switch {
			case tt.wantStatus == 0 && err == nil:
				t.Fatalf("%s: got status %d, want an error", tt.method, resp.StatusCode)
			case tt.wantStatus == 0 && !errors.Is(err, vfs.ErrOffline):
				t.Fatalf("%s: err = %v, want one matching vfs.ErrOffline", tt.method, err)
			case tt.wantStatus != 0 && err != nil:
				t.Fatalf("%s: err = %v, want status %d", tt.method, err, tt.wantStatus)
			case tt.wantStatus != 0 && resp.StatusCode != tt.wantStatus:
				t.Fatalf("%s: status = %d, want %d", tt.method, resp.StatusCode, tt.wantStatus)
			}
			var at []time.Duration
			for _, r := range s.sent {
				at = append(at, r.at)
				if r.method == "POST" || r.method == "PATCH" {
					if r.body != "{}" {
						t.Errorf("attempt at %v sent body %q, want the original body again", r.at, r.body)
					}
				}
			}
			if diff := cmp.Diff(tt.wantAt, at); diff != "" {
				t.Errorf("send times (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPacerPauseIsSharedAndNeverShortened(t *testing.T) {
	rt, s, _ := newTestTransport()
	rt.pacer.throttle(10 * time.Second)
	rt.pacer.throttle(2 * time.Second) // must not shorten the pause
	if _, err := do(t, rt, "GET", testBase+"/me/drive", ""); err != nil {
		t.Fatal(err)
	}
	// A second drive of the same user shares the pacer.
	other := &pacedTransport{base: s, pacer: rt.pacer, tokens: rt.tokens, scopes: rt.scopes, graphBase: testBase, log: discardLogger()}
	if _, err := do(t, other, "GET", testBase+"/drives/x/root", ""); err != nil {
		t.Fatal(err)
	}
	want := 10*time.Second + 500*time.Millisecond // 10 s + jitter 0.5 × min(1 s, 2 s)
	for _, r := range s.sent {
		if r.at < want {
			t.Errorf("request to %s sent at %v, before the pause ended at %v", r.path, r.at, want)
		}
	}
}

func TestPacerRenewsTokenOnceOn401(t *testing.T) {
	expired := `Bearer error="invalid_token", error_description="expired_token"`
	tests := []struct {
		name       string
		steps      []step
		wantStatus int
		wantAuth   []string
	}{
		{"renews and succeeds", []step{{status: 401, wwwAuth: expired}}, 200, []string{"Bearer cached", "Bearer renewed"}},
		{"renews only once", []step{{status: 401, wwwAuth: expired}, {status: 401, wwwAuth: expired}}, 401, []string{"Bearer cached", "Bearer renewed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := checkAuths(t, tt.steps, "DELETE", "", tt.wantStatus, tt.wantAuth)
			if tok.renew.Load() != 1 {
				t.Errorf("Renew called %d times, want 1", tok.renew.Load())
			}
		})
	}
}

// checkAuths sends one request with body through a transport answering
// steps and checks the final status and the Authorization header of each
// attempt; every attempt must carry body again.
func checkAuths(t *testing.T, steps []step, method, body string, wantStatus int, wantAuth []string) *fakeTokens {
	t.Helper()
	rt, s, tok := newTestTransport(steps...)
	resp, err := do(t, rt, method, testBase+"/drives/d/items/i", body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Errorf("status = %d, want %d", resp.StatusCode, wantStatus)
	}
	var auths []string
	for _, r := range s.sent {
		auths = append(auths, r.auth)
		if r.body != body {
			t.Errorf("attempt sent body %q, want %q again", r.body, body)
		}
	}
	if diff := cmp.Diff(wantAuth, auths); diff != "" {
		t.Errorf("Authorization headers (-want +got):\n%s", diff)
	}
	return tok
}

func TestTokenOnlyOnGraphURLs(t *testing.T) {
	rt, s, _ := newTestTransport()
	urls := []string{
		testBase + "/users/me-token-to-replace/drive",
		"https://graph.test/_download/abc?sig=1",
		"https://contoso.sharepoint.test/upload/session/1",
		"https://graph.test/v1.0evil/x",
	}
	for _, u := range urls {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer leaked")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []struct{ auth, path string }{
		{"Bearer cached", "/v1.0/me/drive"},
		{"", "/_download/abc"},
		{"", "/upload/session/1"},
		{"", "/v1.0evil/x"},
	}
	for i, w := range want {
		if s.sent[i].auth != w.auth || s.sent[i].path != w.path {
			t.Errorf("request %d: sent %q with Authorization %q, want %q with %q", i, s.sent[i].path, s.sent[i].auth, w.path, w.auth)
		}
	}
}

// blockingRT holds every request until release is closed.
type blockingRT struct {
	inFlight, peak atomic.Int32
	release        chan struct{}
}

func (b *blockingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	n := b.inFlight.Add(1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	<-b.release
	b.inFlight.Add(-1)
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

func TestPacerCapsConcurrency(t *testing.T) {
	b := &blockingRT{release: make(chan struct{})}
	rt := &pacedTransport{base: b, pacer: NewPacer(PacerOptions{MaxConcurrent: 3}), tokens: &fakeTokens{}, graphBase: testBase, log: discardLogger()}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", testBase+"/me", nil)
			resp, err := rt.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.inFlight.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // would let a fourth request through if the cap leaked
	close(b.release)
	wg.Wait()
	if got := b.peak.Load(); got != 3 {
		t.Errorf("peak concurrent requests = %d, want 3", got)
	}
}

func TestPacerHonoursContext(t *testing.T) {
	p := NewPacer(PacerOptions{MaxConcurrent: 1})
	release, _, err := p.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, _, err := p.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("acquire with every slot taken: err = %v, want DeadlineExceeded", err)
	}
}

func TestBackoffBounds(t *testing.T) {
	p := NewPacer(PacerOptions{BaseBackoff: time.Second, MaxBackoff: 10 * time.Second, Jitter: func() float64 { return 0.999 }})
	for attempt, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		got := p.backoff(attempt + 0)
		if got > want || got < want/2 {
			t.Errorf("backoff(%d) = %v, want in [%v, %v]", attempt, got, want/2, want)
		}
	}
	if got := p.backoff(100); got > 10*time.Second {
		t.Errorf("backoff(100) = %v, want at most MaxBackoff", got)
	}
}

// TestPacerProbesAfterPause checks that after a pause one request goes out
// alone, and the rest follow only once it was answered unthrottled.
func TestPacerProbesAfterPause(t *testing.T) {
	clock := newFakeClock()
	p := NewPacer(PacerOptions{Clock: clock, Jitter: func() float64 { return 0 }})
	p.throttle(time.Second)
	rel1, probe1, err := p.acquire(context.Background())
	if err != nil || !probe1 {
		t.Fatalf("first acquire after the pause: probe=%v err=%v, want the probe", probe1, err)
	}
	if clock.Now().Sub(epoch) < time.Second {
		t.Errorf("probe sent at %v, before the 1 s pause ended", clock.Now().Sub(epoch))
	}
	// waiter starts a request that waits behind the probe; its result
	// arrives on the returned channel.
	type result struct {
		probe bool
		err   error
	}
	waiter := func(ctx context.Context) <-chan result {
		ch := make(chan result, 1)
		go func() {
			rel, probe, err := p.acquire(ctx)
			if err == nil {
				rel()
			}
			ch <- result{probe, err}
		}()
		return ch
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	second := waiter(ctx2)
	select {
	case <-second:
		t.Fatal("a second request went out while the probe was unanswered")
	case <-time.After(30 * time.Millisecond):
	}
	// Withdraw that waiter: otherwise it and the next acquire below race
	// for the next probe, and the test could not say which one wins.
	cancel2()
	if r := <-second; r.err == nil {
		t.Fatalf("the withdrawn waiter went out (probe=%v)", r.probe)
	}
	// The probe is throttled again: the pause is extended, nobody goes.
	p.throttle(time.Second)
	p.settle(true, true)
	rel1()
	rel2, probe2, err := p.acquire(context.Background())
	if err != nil || !probe2 {
		t.Fatalf("acquire after the probe was throttled: probe=%v err=%v, want a new probe", probe2, err)
	}
	third := waiter(context.Background())
	select {
	case <-third:
		t.Fatal("a waiting request went out while the second probe was unanswered")
	case <-time.After(30 * time.Millisecond):
	}
	p.settle(true, false)
	rel2()
	select {
	case r := <-third:
		if r.err != nil || r.probe {
			t.Errorf("the waiting request after recovery: probe=%v err=%v, want a plain request", r.probe, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting request never went out after the probe succeeded")
	}
}
