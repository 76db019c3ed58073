// Package authn validates the Entra ID access tokens that callers of the
// service API present, the way the identity platform documents it for a
// protected API: RS256 only, the signing key chosen by kid from the
// authority's JWKS (cached, refreshed on an unknown kid), exp/nbf with a
// small leeway, aud our API (client id or App ID URI), and the issuer
// exactly the one of the token's version and tenant. Both versions are
// accepted, because the API's registration, not the client, chooses it
// (v1.0 unless requestedAccessTokenVersion is 2):
//
//	v1.0: ver "1.0", iss "https://sts.windows.net/<tid>/", appid, upn
//	v2.0: ver "2.0", iss "<authority>/<tid>/v2.0", azp, preferred_username
//
// An ID token is not an access token and is refused here; the portal
// checks its own ID tokens with ValidateIDToken. The UPN is never kept: its
// domain is decided at parse time and only the domain goes further.
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

// DefaultV1IssuerHost is the host of the global cloud's v1.0 issuer.
const DefaultV1IssuerHost = "https://sts.windows.net"

// Config configures a Validator.
type Config struct {
	// AuthorityHost is the identity platform's base URL, without a
	// trailing slash: "https://login.microsoftonline.com", or m365sim's
	// "https://localhost:9443".
	AuthorityHost string
	// JWKSURL is where signing keys are published. Default:
	// AuthorityHost + "/common/discovery/v2.0/keys".
	JWKSURL string
	// V1IssuerHost is the host part of the v1.0 issuer,
	// "<V1IssuerHost>/<tid>/". Default DefaultV1IssuerHost, which Entra
	// uses whatever login host issued the token; national clouds have
	// their own.
	V1IssuerHost string
	// V2IssuerHost is the host part of the v2.0 issuer,
	// "<V2IssuerHost>/<tid>/v2.0". Default AuthorityHost; in China it is
	// another host (package shared/cloud).
	V2IssuerHost string
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
// A cached principal holds no token and no UPN (see Validate).
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
	cfg.V2IssuerHost = strings.TrimSuffix(cfg.V2IssuerHost, "/")
	if cfg.V2IssuerHost == "" {
		cfg.V2IssuerHost = cfg.AuthorityHost
	}
	cfg.V1IssuerHost = strings.TrimSuffix(cfg.V1IssuerHost, "/")
	if cfg.V1IssuerHost == "" {
		cfg.V1IssuerHost = DefaultV1IssuerHost
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
	TenantID string   // tid, lower case
	ObjectID string   // oid, lower case
	Scopes   []string // scp, split
	Roles    []string // app roles
	Groups   []string // group GUIDs, lower case; empty on overage
	// GroupsClaim reports whether the token carried a groups claim at
	// all: Entra sends none unless the API's registration asks for group
	// claims (groupMembershipClaims).
	GroupsClaim   bool
	GroupsOverage bool   // too many groups for the token: ask Graph
	ClientID      string // azp (v2.0) or appid (v1.0), the calling app
	// Domain is the lower-cased domain of the user's UPN, decided when the
	// token was parsed (see domainOf); "" when the token names none that
	// can be trusted. The UPN itself is not kept.
	Domain string
	// Version is the token's ver claim, "1.0" or "2.0".
	Version string
	// Token is the presented token, for the on-behalf-of exchange. It is
	// set on the copy Validate returns, never on the cached principal.
	Token logredact.Secret

	expires time.Time // the token's exp
}

// HasScope reports whether the token grants delegated scope s.
func (p *Principal) HasScope(s string) bool { return slices.Contains(p.Scopes, s) }

// HasRole reports whether the caller holds app role r.
func (p *Principal) HasRole(r string) bool { return slices.Contains(p.Roles, r) }

type claims struct {
	jwt.RegisteredClaims
	Ver               string            `json:"ver"`
	Tid               string            `json:"tid"`
	Oid               string            `json:"oid"`
	Scp               string            `json:"scp"`
	Roles             []string          `json:"roles"`
	Groups            *[]string         `json:"groups"`
	HasGroups         bool              `json:"hasgroups"`
	ClaimNames        map[string]string `json:"_claim_names"`
	PreferredUsername string            `json:"preferred_username"`
	UPN               string            `json:"upn"`
	Idp               string            `json:"idp"`
	Azp               string            `json:"azp"`
	AppID             string            `json:"appid"`
	Idtyp             string            `json:"idtyp"`
	Nonce             string            `json:"nonce"`
	AtHash            string            `json:"at_hash"`
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

// Validate checks that raw is an access token for this API and returns
// its principal. Refusals are *Error.
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
	if p == nil || !now.Before(p.expires.Add(v.cfg.Leeway)) {
		var err error
		if p, err = v.parse(ctx, raw); err != nil {
			return nil, err
		}
		v.store(key, p, now)
	}
	// The cache holds what authorization needs and nothing that names
	// the user or can be replayed; the token goes only to this caller.
	withToken := *p
	withToken.Token = logredact.Secret(raw)
	return &withToken, nil
}

// store caches p under key.
func (v *Validator) store(key [32]byte, p *Principal, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
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
}

// verify checks raw's signature, lifetime, version, issuer and audience,
// the checks an access token and an ID token share, and fills c.
func (v *Validator) verify(ctx context.Context, raw string, c *claims) error {
	var kid string
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithLeeway(v.cfg.Leeway),
		jwt.WithTimeFunc(v.cfg.Now),
		jwt.WithExpirationRequired(),
	)
	_, err := parser.ParseWithClaims(raw, c, func(t *jwt.Token) (any, error) {
		if kid, _ = t.Header["kid"].(string); kid == "" {
			return nil, errors.New("no kid")
		}
		return v.kf.KeyfuncCtx(ctx)(t)
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return &Error{Reason: "token expired", Expired: true}
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return refuse("token not valid yet")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse("malformed token")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return refuse("signature not verifiable with the authority's keys")
	case err != nil:
		return refuse("token rejected")
	}
	if !isGUID(strings.ToLower(c.Tid)) {
		return refuse("tid is not a GUID")
	}
	v2Issuer := v.cfg.V2IssuerHost + "/" + c.Tid + "/v2.0"
	switch c.Ver {
	case "2.0":
		if c.Issuer != v2Issuer {
			return refuse("wrong issuer for a v2.0 token")
		}
	case "1.0":
		if c.Issuer != v.cfg.V1IssuerHost+"/"+c.Tid+"/" {
			return refuse("wrong issuer for a v1.0 token")
		}
	default:
		return refuse("not a v1.0 or v2.0 token")
	}
	// Entra publishes its keys with the v2.0 issuer template; the same
	// keys sign v1.0 tokens, so bind the key to the tenant in that form.
	if !v.issuers.allows(kid, c.Tid, v2Issuer) {
		return refuse("signing key not valid for this tenant's issuer")
	}
	if len(c.Audience) != 1 || !slices.Contains(v.cfg.Audiences, c.Audience[0]) {
		return refuse("wrong audience")
	}
	if c.IssuedAt == nil || c.NotBefore == nil {
		return refuse("iat and nbf are required")
	}
	if !isGUID(strings.ToLower(c.Oid)) {
		return refuse("oid is not a GUID")
	}
	return nil
}

// parse verifies that raw is an access token and builds its principal.
func (v *Validator) parse(ctx context.Context, raw string) (*Principal, error) {
	var c claims
	if err := v.verify(ctx, raw, &c); err != nil {
		return nil, err
	}
	// An ID token has our audience too when the portal, which shares the
	// API's registration, signed someone in: tell them apart by what only
	// one of them carries.
	client := c.Azp
	if c.Ver == "1.0" {
		client = c.AppID
	}
	switch {
	case c.Nonce != "" || c.AtHash != "":
		return nil, refuse("an ID token is not an access token")
	case c.Idtyp != "" && c.Idtyp != "user" && c.Idtyp != "app":
		return nil, refuse("an ID token is not an access token")
	case c.Scp == "" && len(c.Roles) == 0:
		return nil, refuse("neither scp nor roles: not an access token")
	case client == "":
		return nil, refuse("no calling application (azp/appid): not an access token")
	}
	p := &Principal{
		TenantID: strings.ToLower(c.Tid), ObjectID: strings.ToLower(c.Oid), expires: c.ExpiresAt.Time,
		Scopes: strings.Fields(c.Scp), Roles: c.Roles, ClientID: client, Version: c.Ver,
		GroupsOverage: c.HasGroups || c.ClaimNames["groups"] != "",
		Domain:        domainOf(&c),
	}
	if c.Groups != nil {
		p.GroupsClaim = true
		for _, g := range *c.Groups {
			p.Groups = append(p.Groups, strings.ToLower(g))
		}
	}
	return p, nil
}

// domainOf decides the domain of the user's UPN. A v1.0 token names the
// user by upn (Entra leaves it out for guests, whose upn is not theirs).
// A v2.0 token carries upn only as an optional claim; without it,
// preferred_username is taken only for a user of the issuing tenant (no
// idp claim, or idp equal to the issuer: Entra sets idp to the home
// identity provider of guests), because for a guest it is a mutable email
// address in someone else's domain. The caller then checks the domain
// against the tenant's verified domains.
func domainOf(c *claims) string {
	name := c.UPN
	if name == "" && c.Ver == "2.0" && (c.Idp == "" || c.Idp == c.Issuer) {
		name = c.PreferredUsername
	}
	local, dom, ok := strings.Cut(name, "@")
	if !ok || local == "" || dom == "" || strings.ContainsAny(dom, "@ ") {
		return ""
	}
	return strings.ToLower(dom)
}

// ValidateIDToken checks an OpenID Connect ID token issued to one of the
// configured audiences: signature, lifetime, issuer, audience. The caller
// checks its nonce. For the portal's sign-in, never for API calls.
func (v *Validator) ValidateIDToken(ctx context.Context, raw string) (*Principal, error) {
	if raw == "" {
		return nil, ErrNoToken
	}
	if len(raw) > MaxTokenLen {
		return nil, refuse("token too large")
	}
	var c claims
	if err := v.verify(ctx, raw, &c); err != nil {
		return nil, err
	}
	if c.Scp != "" {
		return nil, refuse("an access token is not an ID token")
	}
	return &Principal{TenantID: strings.ToLower(c.Tid), ObjectID: strings.ToLower(c.Oid), Roles: c.Roles, Version: c.Ver, expires: c.ExpiresAt.Time}, nil
}

// Accepts describes what the validator accepts, for the start-up log:
// each token version with its issuer form, and the audiences.
func (v *Validator) Accepts() (versions, audiences []string) {
	return []string{
		"1.0 (iss " + v.cfg.V1IssuerHost + "/{tid}/)",
		"2.0 (iss " + v.cfg.AuthorityHost + "/{tid}/v2.0)",
	}, slices.Clone(v.cfg.Audiences)
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
