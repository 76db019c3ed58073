// Package authn validates the Entra ID access tokens that callers of the
// service API present, the way the identity platform documents it for a
// protected API: RS256 only, the signing key chosen by kid from the
// authority's JWKS (cached, refreshed on an unknown kid), ver 2.0, iss
// exactly "<authority>/<tid>/v2.0", aud our API, exp/nbf with a small
// leeway. The resulting Principal carries the UPN only in memory, as a
// logredact.Secret.
package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/mapdrive/mapdrive/shared/logredact"
)

// MaxTokenLen bounds the size of a token the validator parses.
const MaxTokenLen = 16 << 10

// Config configures a Validator.
type Config struct {
	// AuthorityHost is the identity platform's base URL, without a
	// trailing slash: "https://login.microsoftonline.com", or m365sim's
	// "https://localhost:9443".
	AuthorityHost string
	// JWKSURL is where signing keys are published. Default:
	// AuthorityHost + "/common/discovery/v2.0/keys".
	JWKSURL string
	// Audiences are the accepted aud values: the API's client ID GUID
	// and/or its App ID URI.
	Audiences []string
	// Leeway is the clock skew allowed on exp and nbf (default 1 minute).
	Leeway time.Duration
	// RefreshUnknownKID is the least time between JWKS refreshes caused by
	// tokens with an unknown kid (default 1 minute).
	RefreshUnknownKID time.Duration
	// HTTPClient fetches the JWKS (default http.DefaultClient).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives JWKS refresh failures.
	Log *slog.Logger
}

// Validator validates access tokens. Safe for concurrent use; its JWKS
// refresh goroutine stops when the context given to New ends.
type Validator struct {
	cfg Config // immutable
	kf  keyfunc.Keyfunc

	issuers *keyIssuers

	mu    sync.Mutex // guards cache
	cache map[[32]byte]*Principal
}

// maxCached bounds the verified-token cache. A client presents the same
// token for an hour (validate, mappings, retries); caching the verified
// principal until its exp saves the RSA verification and claim parsing.
const maxCached = 20000

// New starts a validator. The first JWKS fetch happens in the background,
// so New does not fail when the authority is briefly unreachable.
func New(ctx context.Context, cfg Config) (*Validator, error) {
	cfg.AuthorityHost = strings.TrimSuffix(cfg.AuthorityHost, "/")
	if cfg.AuthorityHost == "" || len(cfg.Audiences) == 0 {
		return nil, errors.New("authn: an authority host and at least one audience are required")
	}
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = cfg.AuthorityHost + "/common/discovery/v2.0/keys"
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = time.Minute
	}
	if cfg.RefreshUnknownKID == 0 {
		cfg.RefreshUnknownKID = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	log := cfg.Log
	issuers := &keyIssuers{iss: map[string]string{}}
	tapped := *hc
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	tapped.Transport = issuerTap{next: next, keys: issuers}
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:            &tapped,
		HTTPTimeout:       10 * time.Second,
		RefreshInterval:   time.Hour,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(cfg.RefreshUnknownKID), 1),
		// A token with an unknown kid must not hold a request while the
		// refresh limiter waits: fail fast instead.
		RateLimitWaitMax: 50 * time.Millisecond,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "JWKS refresh failed", "url", u, "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("authn: JWKS %s: %w", cfg.JWKSURL, err)
	}
	return &Validator{cfg: cfg, kf: kf, issuers: issuers, cache: map[[32]byte]*Principal{}}, nil
}

// Error is a refused token. Reason is safe to show and log: it never holds
// token contents.
type Error struct {
	Reason  string
	Expired bool // the client should refresh its token and retry
}

func (e *Error) Error() string { return "invalid token: " + e.Reason }

func refuse(reason string) error { return &Error{Reason: reason} }

// ErrNoToken is returned for a request without a bearer token.
var ErrNoToken = errors.New("no bearer token")

// Principal is a validated caller. It is shared between the requests
// that present the same token: treat it as read-only.
type Principal struct {
	TenantID      string // tid, lower case
	ObjectID      string // oid, lower case
	UPN           logredact.Secret
	Scopes        []string // scp, split
	Roles         []string // app roles
	Groups        []string // group GUIDs, lower case; empty on overage
	GroupsOverage bool     // too many groups for the token: ask Graph
	ClientID      string   // azp, the calling app
	Token         logredact.Secret

	expires time.Time // the token's exp
}

// HasScope reports whether the token grants delegated scope s.
func (p *Principal) HasScope(s string) bool { return slices.Contains(p.Scopes, s) }

// HasRole reports whether the caller holds app role r.
func (p *Principal) HasRole(r string) bool { return slices.Contains(p.Roles, r) }

// UPNDomain returns the lower-cased domain part of the UPN, "" if none.
func (p *Principal) UPNDomain() string {
	_, dom, ok := strings.Cut(p.UPN.Reveal(), "@")
	if !ok {
		return ""
	}
	return strings.ToLower(dom)
}

type claims struct {
	jwt.RegisteredClaims
	Ver               string            `json:"ver"`
	Tid               string            `json:"tid"`
	Oid               string            `json:"oid"`
	Scp               string            `json:"scp"`
	Roles             []string          `json:"roles"`
	Groups            []string          `json:"groups"`
	HasGroups         bool              `json:"hasgroups"`
	ClaimNames        map[string]string `json:"_claim_names"`
	PreferredUsername string            `json:"preferred_username"`
	UPN               string            `json:"upn"`
	Azp               string            `json:"azp"`
}

// BearerToken extracts the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrNoToken
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", refuse("Authorization is not a bearer token")
	}
	return strings.TrimSpace(tok), nil
}

// Validate checks raw and returns its principal. Refusals are *Error.
func (v *Validator) Validate(ctx context.Context, raw string) (*Principal, error) {
	if raw == "" {
		return nil, ErrNoToken
	}
	if len(raw) > MaxTokenLen {
		return nil, refuse("token too large")
	}
	key := sha256.Sum256([]byte(raw))
	now := v.cfg.Now()
	v.mu.Lock()
	p := v.cache[key]
	v.mu.Unlock()
	if p != nil && now.Before(p.expires.Add(v.cfg.Leeway)) {
		return p, nil
	}
	p, err := v.parse(ctx, raw)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if len(v.cache) >= maxCached {
		for k, cp := range v.cache {
			if !now.Before(cp.expires) {
				delete(v.cache, k)
			}
		}
		if len(v.cache) >= maxCached {
			clear(v.cache)
		}
	}
	v.cache[key] = p
	v.mu.Unlock()
	return p, nil
}

// parse verifies raw and builds its principal.
func (v *Validator) parse(ctx context.Context, raw string) (*Principal, error) {
	var c claims
	var kid string
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithLeeway(v.cfg.Leeway),
		jwt.WithTimeFunc(v.cfg.Now),
		jwt.WithExpirationRequired(),
	)
	_, err := parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if kid, _ = t.Header["kid"].(string); kid == "" {
			return nil, errors.New("no kid")
		}
		return v.kf.KeyfuncCtx(ctx)(t)
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, &Error{Reason: "token expired", Expired: true}
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, refuse("token not valid yet")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, refuse("malformed token")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, refuse("signature not verifiable with the authority's keys")
	case err != nil:
		return nil, refuse("token rejected")
	}
	if c.Ver != "2.0" {
		return nil, refuse("not a v2.0 access token")
	}
	tid := strings.ToLower(c.Tid)
	if !isGUID(tid) {
		return nil, refuse("tid is not a GUID")
	}
	if c.Issuer != v.cfg.AuthorityHost+"/"+c.Tid+"/v2.0" {
		return nil, refuse("wrong issuer")
	}
	if !v.issuers.allows(kid, c.Tid, c.Issuer) {
		return nil, refuse("signing key not valid for this tenant's issuer")
	}
	if len(c.Audience) != 1 || !slices.Contains(v.cfg.Audiences, c.Audience[0]) {
		return nil, refuse("wrong audience")
	}
	if c.IssuedAt == nil || c.NotBefore == nil {
		return nil, refuse("iat and nbf are required")
	}
	if !isGUID(strings.ToLower(c.Oid)) {
		return nil, refuse("oid is not a GUID")
	}
	p := &Principal{
		TenantID: tid, ObjectID: strings.ToLower(c.Oid), expires: c.ExpiresAt.Time,
		Scopes: strings.Fields(c.Scp), Roles: c.Roles, ClientID: c.Azp,
		GroupsOverage: c.HasGroups || c.ClaimNames["groups"] != "",
		Token:         logredact.Secret(raw),
	}
	for _, g := range c.Groups {
		p.Groups = append(p.Groups, strings.ToLower(g))
	}
	upn := c.PreferredUsername
	if upn == "" {
		upn = c.UPN
	}
	p.UPN = logredact.Secret(upn)
	return p, nil
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}
