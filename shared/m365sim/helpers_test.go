package m365sim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests advance by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// userToken mints a Graph access token of the demo client for a user.
func userToken(t testing.TB, s *Sim, tenant, user string) string {
	t.Helper()
	tok, err := s.AccessToken(tenant, user)
	if err != nil {
		t.Fatalf("mint token for %s/%s: %v", tenant, user, err)
	}
	return tok
}

// h1Client returns a client that trusts only the simulator's CA, speaks
// HTTP/1.1 and does not follow redirects.
func h1Client(s *Sim) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: s.CertPool()},
			// A non-nil empty map disables HTTP/2.
			TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// h2Client is like h1Client but speaks HTTP/2.
func h2Client(s *Sim) *http.Client {
	c := s.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

type result struct {
	status int
	header http.Header
	body   []byte
	err    error // transport or body read error
}

// do sends a request with an optional bearer token and reads the answer.
func do(t testing.TB, c *http.Client, method, url, tok string, body io.Reader) result {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: data, err: err}
}

// graphError decodes Graph's error body.
func graphError(t testing.TB, body []byte) (code, inner string) {
	t.Helper()
	var e struct {
		Error struct {
			Code       string `json:"code"`
			InnerError struct {
				Code string `json:"code"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	return e.Error.Code, e.Error.InnerError.Code
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
