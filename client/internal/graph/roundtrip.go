package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// TokenSource hands out access tokens for the signed-in user. The auth
// package's *Client implements it.
type TokenSource interface {
	// Token returns a valid access token for scopes, cached or refreshed.
	Token(ctx context.Context, scopes []string) (string, error)
	// Renew returns a new access token, ignoring any cached one.
	Renew(ctx context.Context, scopes []string) (string, error)
	// Claims returns a new access token that satisfies claims, the
	// decoded claims request of a claims challenge; it fails with
	// failure.SignInExpired when only a new sign-in can.
	Claims(ctx context.Context, scopes []string, claims string) (string, error)
}

// meToken is how msgraph-sdk-go spells /me in request paths.
const meToken = "/users/me-token-to-replace"

type retrySafeKey struct{}

// withRetrySafe marks a non-idempotent request as safe to send again after
// a 5xx or a dropped connection (createUploadSession: a second session is
// harmless; simple PUT uploads: the same bytes again).
func withRetrySafe(ctx context.Context) context.Context {
	return context.WithValue(ctx, retrySafeKey{}, true)
}

func retrySafe(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	v, _ := r.Context().Value(retrySafeKey{}).(bool)
	return v
}

// pacedTransport is the one http.RoundTripper every Graph, download and
// upload request of a user goes through: the SDK's request adapter and the
// plain content requests alike. It adds the bearer token to Graph requests
// (and only to them: pre-authenticated URLs must not carry it), waits for
// the Pacer, and retries as shouldRetry allows.
type pacedTransport struct {
	// Immutable after construction.
	base      http.RoundTripper
	pacer     *Pacer
	tokens    TokenSource
	scopes    []string
	graphBase string // requests under this prefix get a bearer token
	log       *slog.Logger
}

// RoundTrip implements http.RoundTripper.
func (t *pacedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	getBody, err := replayableBody(req)
	if err != nil {
		return nil, err
	}
	authed := strings.HasPrefix(req.URL.String(), t.graphBase+"/")
	if authed && strings.Contains(req.URL.Path, meToken) {
		// The SDK addresses /me as /users/me-token-to-replace and relies on
		// its URL-replace middleware, which our client does not run.
		req = req.Clone(ctx)
		req.URL.Path = strings.Replace(req.URL.Path, meToken, "/me", 1)
		req.URL.RawPath = ""
	}
	safe := retrySafe(req)
	renewed, claimed := false, false
	claimsTok := "" // the token a claims request gave, for the next attempt
	throttles, failures := 0, 0
	for {
		release, probe, err := t.pacer.acquire(ctx)
		if err != nil {
			return nil, err
		}
		r := req.Clone(ctx)
		if getBody != nil {
			if r.Body, err = getBody(); err != nil {
				t.pacer.settle(probe, false)
				release()
				return nil, err
			}
		}
		if authed {
			tok := claimsTok
			claimsTok = ""
			if tok == "" {
				if tok, err = t.token(ctx, renewed); err != nil {
					t.pacer.settle(probe, false)
					release()
					return nil, authError(err)
				}
			}
			r.Header.Set("Authorization", "Bearer "+tok)
		} else {
			r.Header.Del("Authorization")
		}
		resp, err := t.base.RoundTrip(r)
		throttled := err == nil && isThrottle(resp)
		if throttled {
			// Pause everyone before the probe slot is given up, so that no
			// waiting request slips out in between.
			ra := parseRetryAfter(resp.Header.Get("Retry-After"), t.pacer.opts.Clock.Now())
			if ra <= 0 {
				ra = t.pacer.backoff(throttles)
			}
			t.pacer.throttle(ra)
			t.log.Info("throttled by Microsoft 365", "status", resp.StatusCode, "retry_after", ra)
		}
		t.pacer.settle(probe, throttled)
		if err != nil {
			release()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if safe && failures < t.pacer.opts.MaxErrorRetries {
				d := t.pacer.backoff(failures)
				failures++
				t.log.Debug("graph request failed, retrying", "method", req.Method, "err", err, "wait", d)
				if err := t.pacer.opts.Clock.Sleep(ctx, d); err != nil {
					return nil, err
				}
				continue
			}
			return nil, fmt.Errorf("%w: %w", vfs.ErrOffline, err)
		}
		if authed && resp.StatusCode == http.StatusUnauthorized {
			if claims, ok := claimsChallenge(resp.Header); ok {
				if claimed {
					// The token from the claims request was refused too:
					// final, rather than a loop.
					resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
					return resp, nil
				}
				claimed = true
				drain(resp)
				release()
				t.log.Info("Microsoft 365 refused the token before it expired (claims challenge); asking Entra ID for a new one")
				t.log.Debug("claims challenge", "claims", claims)
				if claimsTok, err = t.tokens.Claims(ctx, t.scopes, claims); err != nil {
					return nil, authError(err)
				}
				continue
			}
		}
		switch decision := t.shouldRetry(resp, authed, renewed, safe, throttles, failures); decision {
		case retryThrottled:
			throttles++
			drain(resp)
			release()
			continue
		case retryRenew:
			renewed = true
			drain(resp)
			release()
			continue
		case retryBackoff:
			d := t.pacer.backoff(failures)
			failures++
			drain(resp)
			release()
			t.log.Debug("graph server error, retrying", "status", resp.StatusCode, "wait", d)
			if err := t.pacer.opts.Clock.Sleep(ctx, d); err != nil {
				return nil, err
			}
			continue
		}
		resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
		return resp, nil
	}
}

type retryDecision int

const (
	noRetry retryDecision = iota
	retryThrottled
	retryRenew
	retryBackoff
)

// shouldRetry is the one retry policy of the Graph layer.
//   - 429, and 503 with Retry-After: the server did not process the request,
//     so any method is sent again once the pause is over.
//   - 401 on a Graph request: renew the token once (it expired early or the
//     clock is off), then give up. A 401 with a claims challenge is
//     answered before this policy, in RoundTrip: one new token with the
//     challenge's claims, then the request again.
//   - 500, 502, 503, 504, 509: back off exponentially, only for requests
//     that are safe to repeat.
//
// 507 (quota) and everything else are final.
func (t *pacedTransport) shouldRetry(resp *http.Response, authed, renewed, safe bool, throttles, failures int) retryDecision {
	switch code := resp.StatusCode; {
	case isThrottle(resp):
		if throttles < t.pacer.opts.MaxThrottleRetries {
			return retryThrottled
		}
	case code == http.StatusUnauthorized:
		if authed && !renewed {
			return retryRenew
		}
	case code == http.StatusInternalServerError, code == http.StatusBadGateway,
		code == http.StatusServiceUnavailable, code == http.StatusGatewayTimeout, code == 509:
		if safe && failures < t.pacer.opts.MaxErrorRetries {
			return retryBackoff
		}
	}
	return noRetry
}

// isThrottle reports whether resp asks the client to slow down: 429, or
// 503 with Retry-After.
func isThrottle(resp *http.Response) bool {
	return resp.StatusCode == http.StatusTooManyRequests ||
		resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != ""
}

func (t *pacedTransport) token(ctx context.Context, renew bool) (string, error) {
	if renew {
		return t.tokens.Renew(ctx, t.scopes)
	}
	return t.tokens.Token(ctx, t.scopes)
}

// replayableBody returns a function giving a fresh copy of req's body for
// each attempt, buffering bodies that cannot be re-read (the SDK's).
func replayableBody(req *http.Request) (func() (io.ReadCloser, error), error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		return req.GetBody, nil
	}
	data, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("buffer request body: %w", err)
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, nil
}

// drain reads a little of a response we will not use, so the connection
// can be reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// releasingBody gives the pacer slot back when the body is closed.
type releasingBody struct {
	io.ReadCloser
	release func()
	once    sync.Once
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// isOffline reports whether err means the network or the server is gone.
func isOffline(err error) bool { return errors.Is(err, vfs.ErrOffline) }
