// Package auth signs the user in to Microsoft Entra ID with MSAL Go as a
// public client (delegated permissions only, no secrets) and hands out
// access tokens per resource: Microsoft Graph and the Mapdrive service API.
//
// Sign-in is interactive by default (authorization code + PKCE in the
// system browser, redirect on http://localhost) or by device code on
// headless machines; afterwards tokens are refreshed silently. MSAL's token
// cache lives only in the OS keyring (package keyring), never in a file.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/mapdrive/mapdrive/client/internal/graph/transport"
	"github.com/mapdrive/mapdrive/client/internal/keyring"
	"github.com/mapdrive/mapdrive/shared/cloud"
)

// Defaults for real Microsoft 365.
const (
	DefaultAuthority = "https://login.microsoftonline.com/organizations"
	DefaultGraphBase = "https://graph.microsoft.com/v1.0"
)

// ClientCapabilities are the capabilities Mapdrive declares to Entra ID
// with every token request. cp1 says it handles claims challenges, so
// Microsoft Graph evaluates its tokens continuously (CAE): a revoked
// session or a Conditional Access change refuses a token before it
// expires, with a 401 the graph package answers by calling Claims.
// https://learn.microsoft.com/entra/identity-platform/claims-challenge
var ClientCapabilities = []string{"cp1"}

// DefaultGraphScopes are the delegated Graph permissions Mapdrive asks for.
// Team.ReadBasic.All is what GET /me/joinedTeams requires to list the
// user's Teams (their files are then reached with Files/Sites scopes); it
// is user-consentable. Without it, discovery still finds the Teams'
// libraries through their sites, as SharePoint drives.
var DefaultGraphScopes = []string{"Files.ReadWrite.All", "Sites.ReadWrite.All", "User.Read", "Team.ReadBasic.All", "offline_access"}

// Config says where and as what application to sign in. The caller (the
// agent) fills it from flags, environment, config file and policy.
type Config struct {
	// Authority is the Entra ID authority URL; https only. Default
	// DefaultAuthority. For m365sim: https://localhost:9443/organizations
	// or https://localhost:9443/<tenant>.
	Authority string
	// ClientID is the Mapdrive public client's application ID. Required.
	ClientID string
	// GraphScopes are the Graph permissions; default DefaultGraphScopes.
	GraphScopes []string
	// APIScopes are the Mapdrive service API's scopes, e.g.
	// "api://<service app id>/Mapdrive.Access". Empty when no service is used.
	APIScopes []string
	// CAFile is a PEM file of extra trusted roots, added to the system pool.
	CAFile string
	// InstanceDiscovery validates the authority against Microsoft's
	// instance discovery endpoint. Leave it off for m365sim and private
	// clouds; it is on by default for the public cloud authority.
	InstanceDiscovery *bool
	// Keyring holds MSAL's token cache. Required; keyring.New() in
	// production.
	Keyring *keyring.Store
	// OpenURL opens the sign-in page for the interactive flow. Nil opens
	// the system browser. Tests pass a function that plays the browser.
	OpenURL func(url string) error
	// HTTPClient overrides the client built from CAFile (tests).
	HTTPClient *http.Client
	// Logger receives sign-in events; never tokens or user names.
	Logger *slog.Logger
	// SignInLost, when set, is called (on its own goroutine) when a
	// claims challenge turns out to need a new sign-in, once until the
	// next sign-in: the agent shows it at once instead of at its next
	// refresh.
	SignInLost func()
}

// Account is the signed-in user as far as Mapdrive needs to know.
type Account struct {
	// HomeAccountID is MSAL's key for the account ("<oid>.<tid>").
	HomeAccountID string
	// Username is the user's sign-in name (UPN). Do not log it at info.
	Username string
	// TenantID and ObjectID identify the user (tid, oid).
	TenantID string
	ObjectID string
}

// DeviceCodePrompt is what the user must do to finish a device-code sign-in.
type DeviceCodePrompt struct {
	// Message is Entra ID's own instruction, e.g. "To sign in, use a web
	// browser to open the page https://microsoft.com/devicelogin and
	// enter the code ABCD-EFGH to authenticate."
	Message         string
	UserCode        string
	VerificationURL string
	ExpiresAt       time.Time
}

// Client signs in and hands out tokens. It is safe for concurrent use.
type Client struct {
	// Immutable after construction.
	cfg   Config
	pca   public.Client
	log   *slog.Logger
	cache *keyringCache

	mu      sync.Mutex
	account *public.Account // guarded by mu; cached result of Accounts
	// pending is a claims challenge a silent request could not satisfy,
	// guarded by mu: the next sign-in asks for it, as the claims
	// challenge page says ("passed as a part of all calls ... until a
	// token is successfully retrieved").
	pending string
}

// New builds a Client. It does not touch the network or the keyring.
func New(cfg Config) (*Client, error) {
	if cfg.ClientID == "" {
		return nil, errors.New("auth: no client ID configured")
	}
	if cfg.Keyring == nil {
		return nil, errors.New("auth: no keyring for the token cache")
	}
	if cfg.Authority == "" {
		cfg.Authority = DefaultAuthority
	}
	cfg.Authority = strings.TrimRight(cfg.Authority, "/")
	if len(cfg.GraphScopes) == 0 {
		cfg.GraphScopes = DefaultGraphScopes
	}
	cfg.GraphScopes = resourceScopes(cfg.GraphScopes)
	cfg.APIScopes = resourceScopes(cfg.APIScopes)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		var err error
		if hc, err = transport.NewClient(cfg.CAFile, false); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	discovery := cloud.Known(cfg.Authority)
	if cfg.InstanceDiscovery != nil {
		discovery = *cfg.InstanceDiscovery
	}
	cache := &keyringCache{store: cfg.Keyring, name: "msal-cache:" + cfg.ClientID}
	pca, err := public.New(cfg.ClientID,
		public.WithAuthority(cfg.Authority),
		public.WithCache(cache),
		public.WithHTTPClient(hc),
		public.WithInstanceDiscovery(discovery),
		public.WithClientCapabilities(ClientCapabilities),
	)
	if err != nil {
		return nil, fmt.Errorf("auth: configure MSAL for %s: %w", cfg.Authority, err)
	}
	return &Client{cfg: cfg, pca: pca, log: cfg.Logger, cache: cache}, nil
}

// Login signs the user in interactively: it opens the sign-in page in the
// browser and waits, until ctx ends, for Entra ID to redirect back to
// http://localhost. Any account signed in before is replaced.
func (c *Client) Login(ctx context.Context) (Account, error) {
	opts := []public.AcquireInteractiveOption{public.WithRedirectURI("http://localhost")}
	if c.cfg.OpenURL != nil {
		opts = append(opts, public.WithOpenURL(c.cfg.OpenURL))
	}
	if claims := c.pendingClaims(); claims != "" {
		opts = append(opts, public.WithClaims(claims))
	}
	res, err := c.pca.AcquireTokenInteractive(ctx, c.cfg.GraphScopes, opts...)
	if err != nil {
		return Account{}, c.classify("interactive sign-in", err)
	}
	return c.finishLogin(ctx, res)
}

// LoginDeviceCode signs the user in with the device-code flow: show is
// called once with the code to enter on another device, then LoginDeviceCode
// waits until the user has done so, the code expires, or ctx ends.
func (c *Client) LoginDeviceCode(ctx context.Context, show func(DeviceCodePrompt)) (Account, error) {
	var opts []public.AcquireByDeviceCodeOption
	if claims := c.pendingClaims(); claims != "" {
		opts = append(opts, public.WithClaims(claims))
	}
	dc, err := c.pca.AcquireTokenByDeviceCode(ctx, c.cfg.GraphScopes, opts...)
	if err != nil {
		return Account{}, c.classify("start device-code sign-in", err)
	}
	show(DeviceCodePrompt{
		Message:         dc.Result.Message,
		UserCode:        dc.Result.UserCode,
		VerificationURL: dc.Result.VerificationURL,
		ExpiresAt:       dc.Result.ExpiresOn,
	})
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		return Account{}, c.classify("device-code sign-in", err)
	}
	return c.finishLogin(ctx, res)
}

// finishLogin keeps the new account as the only one, and checks that the
// service API can be reached with it, so that a consent problem shows at
// sign-in rather than later.
func (c *Client) finishLogin(ctx context.Context, res public.AuthResult) (Account, error) {
	accounts, err := c.pca.Accounts(ctx)
	if err != nil {
		return Account{}, fmt.Errorf("read signed-in accounts: %w", err)
	}
	for _, a := range accounts {
		if a.HomeAccountID != res.Account.HomeAccountID {
			if err := c.pca.RemoveAccount(ctx, a); err != nil {
				return Account{}, fmt.Errorf("forget the previous account: %w", err)
			}
		}
	}
	acct := res.Account
	c.mu.Lock()
	c.account = &acct
	c.pending = ""
	c.mu.Unlock()
	c.log.Info("signed in", "tenant", acct.Realm)
	if len(c.cfg.APIScopes) > 0 {
		if _, err := c.Token(ctx, c.cfg.APIScopes); err != nil {
			return toAccount(acct), fmt.Errorf("signed in, but the Mapdrive service cannot be reached with this account: %w", err)
		}
	}
	return toAccount(acct), nil
}

// Account returns the signed-in account, or ErrNotSignedIn.
func (c *Client) Account(ctx context.Context) (Account, error) {
	a, err := c.msalAccount(ctx)
	if err != nil {
		return Account{}, err
	}
	return toAccount(a), nil
}

func (c *Client) msalAccount(ctx context.Context) (public.Account, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.account != nil {
		return *c.account, nil
	}
	accounts, err := c.pca.Accounts(ctx)
	if err != nil {
		return public.Account{}, fmt.Errorf("read signed-in accounts: %w", err)
	}
	if len(accounts) == 0 {
		return public.Account{}, ErrNotSignedIn
	}
	c.account = &accounts[0]
	return accounts[0], nil
}

// Logout forgets the account and deletes the token cache from the keyring.
func (c *Client) Logout(ctx context.Context) error {
	accounts, err := c.pca.Accounts(ctx)
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("sign out: %w", err)
	}
	for _, a := range accounts {
		if err := c.pca.RemoveAccount(ctx, a); err != nil {
			return fmt.Errorf("sign out: %w", err)
		}
	}
	c.mu.Lock()
	c.account = nil
	c.mu.Unlock()
	if err := c.cache.remove(); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	c.log.Info("signed out")
	return nil
}

// GraphScopes returns the Graph scopes this client acquires tokens for.
func (c *Client) GraphScopes() []string { return append([]string(nil), c.cfg.GraphScopes...) }

// APIScopes returns the service API scopes, if any.
func (c *Client) APIScopes() []string { return append([]string(nil), c.cfg.APIScopes...) }

// Token returns an access token for scopes (all of one resource) for the
// signed-in account, from the cache or by redeeming the refresh token.
func (c *Client) Token(ctx context.Context, scopes []string) (string, error) {
	return c.token(ctx, scopes, false)
}

// Renew returns a fresh access token for scopes, ignoring a cached one.
// Callers use it once after a resource rejected the cached token as
// expired (HTTP 401 with error="invalid_token" ... expired_token), e.g.
// after the clock moved or the token was revoked early.
func (c *Client) Renew(ctx context.Context, scopes []string) (string, error) {
	return c.token(ctx, scopes, true)
}

// Claims returns a new access token for scopes that satisfies claims, the
// decoded claims request of a resource's claims challenge (HTTP 401 with
// error="insufficient_claims"). MSAL skips the cached access token and
// redeems the refresh token with the claims and the client capabilities.
// When that cannot work silently (the session was revoked, or the
// policy needs the user), it fails with ErrSignInExpired and the next
// Login or LoginDeviceCode asks for the claims.
// https://learn.microsoft.com/entra/identity-platform/app-resilience-continuous-access-evaluation
func (c *Client) Claims(ctx context.Context, scopes []string, claims string) (string, error) {
	tok, err := c.silent(ctx, scopes, claims)
	if err != nil && errors.Is(err, ErrSignInExpired) {
		c.mu.Lock()
		first := c.pending == ""
		c.pending = claims
		c.mu.Unlock()
		if first {
			c.log.Warn("Microsoft 365 requires signing in again (claims challenge)")
			if c.cfg.SignInLost != nil {
				go c.cfg.SignInLost()
			}
		}
	}
	return tok, err
}

// pendingClaims returns the claims challenge the next sign-in must
// satisfy, if any.
func (c *Client) pendingClaims() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending
}

func (c *Client) token(ctx context.Context, scopes []string, fresh bool) (string, error) {
	claims := ""
	if fresh {
		// MSAL Go's public client has no force-refresh option; a claims
		// request makes it skip the cached access token and redeem the
		// refresh token. "nbf" in the past is the form Entra ID uses for
		// its own claims challenges, and is satisfied by any new token.
		// https://learn.microsoft.com/entra/identity-platform/claims-challenge
		claims = fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, time.Now().Add(-time.Minute).Unix())
	}
	return c.silent(ctx, scopes, claims)
}

// silent gets a token for scopes without the user, asking for claims
// ("" for none) besides the client capabilities.
func (c *Client) silent(ctx context.Context, scopes []string, claims string) (string, error) {
	acct, err := c.msalAccount(ctx)
	if err != nil {
		return "", err
	}
	opts := []public.AcquireSilentOption{public.WithSilentAccount(acct)}
	if claims != "" {
		opts = append(opts, public.WithClaims(claims))
	}
	res, err := c.pca.AcquireTokenSilent(ctx, resourceScopes(scopes), opts...)
	if err != nil {
		return "", c.classify("get a token", err)
	}
	return res.AccessToken, nil
}

// resourceScopes drops the OpenID Connect scopes (openid, profile,
// offline_access): MSAL always asks for them itself, and Entra ID does not
// list them among the granted scopes, which MSAL Go would report as
// "declined" if they were requested explicitly.
func resourceScopes(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		switch strings.ToLower(s) {
		case "openid", "profile", "offline_access":
		default:
			out = append(out, s)
		}
	}
	return out
}

func toAccount(a public.Account) Account {
	out := Account{HomeAccountID: a.HomeAccountID, Username: a.PreferredUsername, TenantID: a.Realm}
	if oid, _, ok := strings.Cut(a.HomeAccountID, "."); ok {
		out.ObjectID = oid
	}
	return out
}
