// Package graph is Mapdrive's access layer to Microsoft Graph: drive
// discovery, the vfs.Remote implementation of one drive, and the request
// pacer every call of a user goes through.
//
// Metadata calls (me, drives, sites, teams, items, children, delta, create
// folder, move, delete, createUploadSession) use msgraph-sdk-go; this is
// the only package that imports it, because it is heavy to build. Content
// moves over plain net/http: ranged GETs from pre-authenticated download
// URLs, simple PUT uploads and upload-session fragments. Every request,
// SDK or plain, goes through one http.RoundTripper (pacedTransport) that
// enforces TLS 1.2+, adds the bearer token to Graph URLs only, honours
// Retry-After, answers a claims challenge (continuous access evaluation)
// with one new token, and retries what is safe to retry.
package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mapdrive/mapdrive/client/internal/bwlimit"
	"github.com/mapdrive/mapdrive/client/internal/graph/transport"
)

// DefaultBase is Microsoft Graph's v1.0 endpoint.
const DefaultBase = "https://graph.microsoft.com/v1.0"

// DefaultScopes are the Graph scopes tokens are requested for.
// It must match the scopes the token source signed in with (the auth
// package's DefaultGraphScopes).
var DefaultScopes = []string{"Files.ReadWrite.All", "Sites.ReadWrite.All", "User.Read", "Team.ReadBasic.All", "offline_access"}

// Config configures a Client.
type Config struct {
	// Base is the Graph endpoint; default DefaultBase. For m365sim:
	// https://localhost:9443/v1.0.
	Base string
	// Tokens hands out access tokens (the auth package's *Client). Required.
	Tokens TokenSource
	// Scopes are the Graph scopes to ask Tokens for; default DefaultScopes.
	Scopes []string
	// CAFile is a PEM file of extra trusted roots.
	CAFile string
	// Pacer tunes the request pacer.
	Pacer PacerOptions
	// Transport replaces the TLS transport built from CAFile (tests).
	Transport http.RoundTripper
	// Logger receives request-level events; never tokens or file names at
	// info.
	Logger *slog.Logger
	// Bandwidth caps file content moving in each direction (downloads
	// from download URLs, simple uploads and upload fragments); metadata
	// calls are not counted. nil: no limit.
	Bandwidth *bwlimit.Limiter
}

// Client is one signed-in user's access to Graph. Create one per user and
// share it between all of that user's drives: they share its Pacer.
// It is safe for concurrent use.
type Client struct {
	// Immutable after construction.
	base  string
	hc    *http.Client // paced; does not follow redirects
	sdk   *sdkClient
	pacer *Pacer
	log   *slog.Logger
	bw    *bwlimit.Limiter // nil: no limit
}

// New builds a Client. It does not touch the network.
func New(cfg Config) (*Client, error) {
	if cfg.Tokens == nil {
		return nil, errors.New("graph: no token source")
	}
	if cfg.Base == "" {
		cfg.Base = DefaultBase
	}
	cfg.Base = strings.TrimRight(cfg.Base, "/")
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	base := cfg.Transport
	if base == nil {
		t, err := transport.NewTransport(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("graph: %w", err)
		}
		base = t
	}
	pacer := NewPacer(cfg.Pacer)
	hc := &http.Client{
		Transport: &pacedTransport{
			base: base, pacer: pacer, tokens: cfg.Tokens, scopes: cfg.Scopes,
			graphBase: cfg.Base, log: cfg.Logger,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	sdk, err := newSDKClient(cfg.Base, hc)
	if err != nil {
		return nil, err
	}
	return &Client{
		base:  cfg.Base,
		hc:    hc,
		sdk:   sdk,
		pacer: pacer,
		log:   cfg.Logger,
		bw:    cfg.Bandwidth,
	}, nil
}

// Pacer returns the client's request pacer.
func (c *Client) Pacer() *Pacer { return c.pacer }

// HTTPClient returns the paced HTTP client (TLS 1.2+, bearer token on Graph
// URLs only, redirects not followed) for callers that need a raw request.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// User is the signed-in user as Graph reports it.
type User struct {
	ID                string
	DisplayName       string
	UserPrincipalName string
	Mail              string
}

// Me returns the signed-in user.
func (c *Client) Me(ctx context.Context) (User, error) {
	u, err := c.sdk.Me().Get(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("get signed-in user: %w", fromSDK(err))
	}
	return User{
		ID:                deref(u.GetId()),
		DisplayName:       deref(u.GetDisplayName()),
		UserPrincipalName: deref(u.GetUserPrincipalName()),
		Mail:              deref(u.GetMail()),
	}, nil
}

// pages GETs link and every @odata.nextLink after it (verbatim), handing
// each decoded page to fn, until fn returns false.
func (c *Client) pages(ctx context.Context, link string, fn func(*pageJSON) bool) error {
	for link != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := c.hc.Do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode >= 400 {
			return decodeError(resp)
		}
		var p pageJSON
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("decode page: %w", err)
		}
		if !fn(&p) {
			return nil
		}
		link = p.NextLink
	}
	return nil
}
