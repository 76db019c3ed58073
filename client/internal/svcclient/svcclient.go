// Package svcclient is the agent's client of mapdrive-service: it validates
// the user's licence, receiving a signed lease and the user's drive
// mappings, and keeps the last good lease and mapping set on disk so that a
// service outage does not take users' drives away until the lease expires.
// Leases are verified with the service's pinned Ed25519 public key; a bad
// signature, from the service or on disk, is rejected.
package svcclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unicode"

	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/client/internal/privfile"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/lease"
)

// Errors; test with errors.Is. ErrUnreachable is a failure.Offline,
// ErrUnauthenticated a failure.SignInExpired, and RefusedError a
// failure.LicenceRefused.
var (
	// ErrUnreachable: the service could not be reached (network, 5xx, 429).
	ErrUnreachable = failure.Variant(failure.Offline, "the Mapdrive service is unreachable")
	// ErrUnauthenticated: the service refused the access token.
	ErrUnauthenticated = failure.Variant(failure.SignInExpired, "the Mapdrive service did not accept your sign-in")
	// ErrLeaseExpired: the service is unreachable and the stored lease expired.
	ErrLeaseExpired = errors.New("the Mapdrive licence lease has expired and the service cannot be reached to renew it")
	// ErrLeaseInvalid: a lease's signature or contents do not check out.
	ErrLeaseInvalid = errors.New("the Mapdrive licence lease is not valid")
	// ErrNoLease: the service is unreachable and no lease was ever stored.
	ErrNoLease = errors.New("no Mapdrive licence lease is stored yet")
)

// RefusedError is the service refusing the licence (no seats, tenant not
// registered, licence ended, domain not verified, client too old).
type RefusedError struct {
	Code   string // apitype.ServiceCode*
	Detail string // the service's words, safe to show
}

// Unwrap gives the refusal its failure kind.
func (e *RefusedError) Unwrap() error { return failure.LicenceRefused }

func (e *RefusedError) Error() string {
	msg := map[string]string{
		apitype.ServiceCodeTenantNotRegistered: "your organisation has no Mapdrive licence",
		apitype.ServiceCodeLicenceExpired:      "your organisation's Mapdrive licence has ended",
		apitype.ServiceCodeSeatsExhausted:      "every Mapdrive seat of your organisation is in use",
		apitype.ServiceCodeDomainNotVerified:   "your account's domain is not registered for your organisation's Mapdrive licence",
		apitype.ServiceCodeClientTooOld:        "this version of Mapdrive is too old for your organisation",
	}[e.Code]
	if msg == "" {
		msg = "the Mapdrive service refused the licence"
	}
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// TokenSource returns an access token for the service's API. It should
// wrap ErrUnreachable when the sign-in service cannot be reached, so the
// stored lease is used.
type TokenSource func(ctx context.Context) (string, error)

// Options configure a Client.
type Options struct {
	BaseURL string       // e.g. https://localhost:8443; required
	HTTP    *http.Client // TLS 1.2+ client; required
	Token   TokenSource  // required
	// LeaseKey is the pinned key (lease.EncodePublicKey), or several
	// separated by commas, semicolons or spaces while the service's key is rotated;
	// "" pins the service's key at first use.
	LeaseKey string
	// Account returns the signed-in user's tenant and object ids; a lease
	// granted to anyone else is refused. nil skips the check.
	Account       func(ctx context.Context) (tenantID, objectID string, err error)
	StateDir      string // where the lease, mappings and pinned key are kept; required
	ClientVersion string
	Now           func() time.Time // nil: time.Now
	Log           *slog.Logger
}

// Client talks to the service. It is safe for concurrent use; Fetch calls
// are serialised by the caller (the agent's refresh loop).
type Client struct {
	o Options // constant after construction
}

// New returns a Client.
func New(o Options) (*Client, error) {
	if o.BaseURL == "" || o.HTTP == nil || o.Token == nil || o.StateDir == "" {
		return nil, errors.New("svcclient: BaseURL, HTTP, Token and StateDir are required")
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Client{o: o}, nil
}

// Result is a verified lease with the user's mappings.
type Result struct {
	Lease    lease.Lease
	Mappings []apitype.Mapping
	Policies apitype.Policies
	// Cached reports whether the result came from disk because the
	// service was unreachable; Reason says why.
	Cached bool
	Reason error
}

// stored is the on-disk form of the last good validation.
type stored struct {
	Lease    string            `json:"lease"`
	Mappings []apitype.Mapping `json:"mappings"`
	Policies apitype.Policies  `json:"policies"`
	SavedAt  time.Time         `json:"saved_at"`
}

func (c *Client) leasePath() string { return filepath.Join(c.o.StateDir, "lease.json") }
func (c *Client) keyPath() string   { return filepath.Join(c.o.StateDir, "lease-key.pub") }

// Fetch validates with the service and returns the fresh lease and
// mappings, saving them. When the service is unreachable it returns the
// stored ones while their lease is valid (Cached), ErrLeaseExpired after,
// and ErrNoLease if there are none. A refusal is a *RefusedError and
// deletes the stored lease.
func (c *Client) Fetch(ctx context.Context) (Result, error) {
	res, err := c.fetchFresh(ctx)
	if err == nil {
		return res, nil
	}
	if !errors.Is(err, ErrUnreachable) {
		var re *RefusedError
		if errors.As(err, &re) {
			if rmErr := os.Remove(c.leasePath()); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
				c.o.Log.Warn("could not delete the stored lease after a refusal", "err", rmErr)
			}
		}
		return Result{}, err
	}
	c.o.Log.Warn("Mapdrive service unreachable; using the stored lease", "err", err)
	cached, cerr := c.Cached()
	if cerr != nil {
		return Result{}, fmt.Errorf("%w; %w", cerr, err)
	}
	cached.Reason = err
	return cached, nil
}

// Cached returns the stored lease and mappings, verified now.
func (c *Client) Cached() (Result, error) {
	data, err := os.ReadFile(c.leasePath())
	if errors.Is(err, fs.ErrNotExist) {
		return Result{}, ErrNoLease
	}
	if err != nil {
		return Result{}, fmt.Errorf("read stored lease: %w", err)
	}
	var s stored
	if err := json.Unmarshal(data, &s); err != nil {
		return Result{}, fmt.Errorf("%w: stored lease file is corrupt: %v", ErrLeaseInvalid, err)
	}
	keys, err := c.pinnedKeys(context.Background(), false)
	if err != nil {
		return Result{}, err
	}
	l, err := c.verify(context.Background(), keys, s.Lease, s.Mappings)
	if err != nil {
		return Result{}, err
	}
	return Result{Lease: l, Mappings: s.Mappings, Policies: s.Policies, Cached: true}, nil
}

func (c *Client) verify(ctx context.Context, keys []ed25519.PublicKey, token string, ms []apitype.Mapping) (lease.Lease, error) {
	l, err := lease.VerifyAny(keys, token, c.o.Now())
	switch {
	case errors.Is(err, lease.ErrExpired):
		return l, fmt.Errorf("%w (it expired at %s)", ErrLeaseExpired, l.ExpiresAt.Local().Format(time.DateTime))
	case errors.Is(err, lease.ErrUnknownKey):
		// Name both sides by key id, so an administrator can tell a
		// rotated service key from a mistyped lease_key at a glance.
		kids := make([]string, len(keys))
		for i, k := range keys {
			kids[i] = lease.KeyID(k)
		}
		signer := lease.TokenKeyID(token)
		if signer == "" {
			signer = "(unnamed)"
		}
		return l, fmt.Errorf("%w: %w: the lease names key %s, the pinned lease_key is %s; if the service's key was rotated, set lease_key to the new key (or both)",
			ErrLeaseInvalid, err, signer, strings.Join(kids, ", "))
	case err != nil:
		return l, fmt.Errorf("%w: %w", ErrLeaseInvalid, err)
	}
	if got := apitype.MappingsDigest(ms); got != l.MappingsDigest {
		return l, fmt.Errorf("%w: the mappings do not match the lease's digest", ErrLeaseInvalid)
	}
	if c.o.Account != nil {
		tid, oid, err := c.o.Account(ctx)
		if err != nil {
			return l, fmt.Errorf("%w: cannot tell who is signed in: %w", ErrLeaseInvalid, err)
		}
		// Leases from before the user binding carry no hash; the tenant
		// still has to match, and the next validation replaces them.
		if !strings.EqualFold(l.TenantID, tid) || (l.UserHash != "" && l.UserHash != lease.UserHash(tid, oid)) {
			return l, fmt.Errorf("%w: the lease was granted to another account than the one signed in", ErrLeaseInvalid)
		}
	}
	return l, nil
}

func (c *Client) fetchFresh(ctx context.Context) (Result, error) {
	tok, err := c.o.Token(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("get a token for the Mapdrive service: %w", err)
	}
	var vr apitype.ValidateResponse
	body := apitype.ValidateRequest{ClientVersion: c.o.ClientVersion, OS: runtime.GOOS, Features: apitype.ClientFeatures()}
	if err := c.call(ctx, http.MethodPost, apitype.RouteServiceValidate, tok, body, &vr); err != nil {
		return Result{}, err
	}
	if vr.Mappings == nil {
		vr.Mappings = []apitype.Mapping{}
	}
	keys, err := c.pinnedKeys(ctx, true)
	if err != nil {
		return Result{}, err
	}
	l, err := c.verify(ctx, keys, vr.Lease, vr.Mappings)
	if err != nil {
		return Result{}, fmt.Errorf("lease from %s: %w", c.o.BaseURL, err)
	}
	if err := c.save(stored{Lease: vr.Lease, Mappings: vr.Mappings, Policies: vr.Policies, SavedAt: c.o.Now().UTC()}); err != nil {
		c.o.Log.Warn("could not store the lease for offline use", "err", err)
	}
	return Result{Lease: l, Mappings: vr.Mappings, Policies: vr.Policies}, nil
}

// pinnedKeys returns the configured keys, else the ones pinned on disk,
// else (when fetch is set) the service's current key, which it pins.
func (c *Client) pinnedKeys(ctx context.Context, fetch bool) ([]ed25519.PublicKey, error) {
	if c.o.LeaseKey != "" {
		keys, err := parseKeys(c.o.LeaseKey)
		if err != nil {
			return nil, fmt.Errorf("configured lease_key: %w", err)
		}
		return keys, nil
	}
	data, err := os.ReadFile(c.keyPath())
	if err == nil {
		return parseKeys(string(data))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read pinned lease key: %w", err)
	}
	if !fetch {
		return nil, fmt.Errorf("%w: no lease key is pinned", ErrLeaseInvalid)
	}
	var k apitype.LeaseKey
	if err := c.call(ctx, http.MethodGet, apitype.RouteServiceLeaseKey, "", nil, &k); err != nil {
		return nil, fmt.Errorf("fetch the lease key: %w", err)
	}
	pub, err := lease.ParsePublicKey(k.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := privfile.Write(c.keyPath(), []byte(k.PublicKey+"\n")); err != nil {
		return nil, fmt.Errorf("pin the lease key: %w", err)
	}
	c.o.Log.Info("pinned the service's lease key", "kid", lease.KeyID(pub))
	return []ed25519.PublicKey{pub}, nil
}

// parseKeys parses one or more keys separated by commas, semicolons (the
// list separator Windows administrators reach for, e.g. in the MSI's
// LEASEKEY) or white space.
func parseKeys(s string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) }) {
		k, err := lease.ParsePublicKey(f)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no key")
	}
	return keys, nil
}

func (c *Client) save(s stored) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return privfile.Write(c.leasePath(), data)
}

// call does one JSON request and maps failures to this package's errors.
func (c *Client) call(ctx context.Context, method, route, token string, in, out any) error {
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.o.BaseURL+route, rd)
	if err != nil {
		return fmt.Errorf("build request to %s: %w", route, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %s %s: %v", ErrUnreachable, method, c.o.BaseURL+route, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%w: read answer of %s: %v", ErrUnreachable, route, err)
	}
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode answer of %s: %w", route, err)
		}
		return nil
	}
	var p apitype.ServiceProblem
	json.Unmarshal(b, &p)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w (%s)", ErrUnauthenticated, p.Detail)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("%w: %s answered %s", ErrUnreachable, route, resp.Status)
	case p.Code == apitype.ServiceCodeTenantNotRegistered, p.Code == apitype.ServiceCodeLicenceExpired,
		p.Code == apitype.ServiceCodeSeatsExhausted, p.Code == apitype.ServiceCodeDomainNotVerified,
		p.Code == apitype.ServiceCodeClientTooOld, resp.StatusCode == http.StatusForbidden:
		return &RefusedError{Code: p.Code, Detail: p.Detail}
	}
	return fmt.Errorf("%s %s: the service answered %s: %s", method, route, resp.Status, p.Detail)
}

// Forget deletes the stored lease and mappings (at sign-out). The pinned
// key stays.
func (c *Client) Forget() error {
	if err := os.Remove(c.leasePath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete the stored lease: %w", err)
	}
	return nil
}
