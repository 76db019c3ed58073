package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mapdrive/mapdrive/service/internal/authn"
	"github.com/mapdrive/mapdrive/service/internal/httpx"
	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/lease"
)

// licensed checks what every client call needs: a registered tenant, an
// active licence, a UPN in one of the tenant's verified domains. The
// validator decided the UPN's domain when it parsed the token (from upn,
// or preferred_username only for a home-tenant user) and kept no UPN.
func (s *Server) licensed(ctx context.Context, p *authn.Principal) (*store.Config, error) {
	cfg, err := s.st.Config(ctx, p.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpx.Errorf(http.StatusForbidden, apitype.ServiceCodeTenantNotRegistered,
			"your organisation has no Mapdrive licence; ask your IT administrator to register it")
	}
	if err != nil {
		return nil, err
	}
	if !cfg.Tenant.LicenceActive(s.cfg.Now()) {
		return nil, httpx.Errorf(http.StatusForbidden, apitype.ServiceCodeLicenceExpired,
			"your organisation's Mapdrive licence has expired; ask your IT administrator to renew it")
	}
	if dom := p.Domain; dom == "" || !cfg.HasDomain(dom) {
		return nil, httpx.Errorf(http.StatusForbidden, apitype.ServiceCodeDomainNotVerified,
			"your account's domain is not one of your organisation's verified domains for Mapdrive")
	}
	return cfg, nil
}

// groupsOf returns the caller's groups: from the token's groups claim
// when it has one, else from Graph (a token without the claim, as Entra
// issues by default, or with the overage form). Graph's answers are
// cached per user for groupCacheTTL, keyed by the pseudonymous seat key.
func (s *Server) groupsOf(ctx context.Context, p *authn.Principal) ([]string, error) {
	if p.GroupsClaim && !p.GroupsOverage {
		return p.Groups, nil
	}
	if s.cfg.Groups == nil {
		if !p.GroupsOverage {
			// No lookup configured: only mappings for everyone apply.
			return nil, nil
		}
		return nil, &httpx.Error{Status: http.StatusServiceUnavailable, Code: apitype.ServiceCodeInternal,
			Detail: "your account is in too many groups for the token, and group lookup is not configured", RetryAfter: 60e9}
	}
	seat := s.st.Secrets().SeatKey(p.TenantID, p.ObjectID)
	if gs, ok := s.groups.Get(seat); ok {
		return gs, nil
	}
	gs, err := s.cfg.Groups.MemberOf(ctx, p)
	if err != nil {
		s.cfg.Log.WarnContext(ctx, "group lookup failed", "tenant", p.TenantID, "err", err)
		return nil, &httpx.Error{Status: http.StatusServiceUnavailable, Code: apitype.ServiceCodeInternal,
			Detail: "could not look up your groups; retry later", RetryAfter: 30e9}
	}
	s.groups.Add(seat, gs)
	return gs, nil
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request, p *authn.Principal) (err error) {
	defer func() { s.valid.WithLabelValues(resultCode(err)).Inc() }()
	var req apitype.ValidateRequest
	if r.ContentLength != 0 {
		if err := httpx.DecodeJSON(w, r, &req, s.cfg.MaxBody); err != nil {
			return err
		}
	}
	ctx := r.Context()
	cfg, err := s.licensed(ctx, p)
	if err != nil {
		return err
	}
	// A client that does not say its version is treated as too old:
	// leaving the field out must not bypass the tenant's minimum.
	if min := cfg.Tenant.Policies.MinClientVersion; min != "" && (req.ClientVersion == "" || versionLess(req.ClientVersion, min)) {
		return httpx.Errorf(http.StatusForbidden, apitype.ServiceCodeClientTooOld, "Mapdrive %s or newer is required; please update", min)
	}
	sec := s.st.Secrets()
	seat := sec.SeatKey(p.TenantID, p.ObjectID)
	if err := s.st.TouchSeat(ctx, p.TenantID, seat, cfg.Tenant.Seats); err != nil {
		if errors.Is(err, store.ErrSeatsExhausted) {
			return httpx.Errorf(http.StatusForbidden, apitype.ServiceCodeSeatsExhausted,
				"all %d seats of your organisation's Mapdrive licence are in use; ask your IT administrator for more seats", cfg.Tenant.Seats)
		}
		return err
	}
	groups, err := s.groupsOf(ctx, p)
	if err != nil {
		return err
	}
	ms := s.supported(ctx, p, cfg.MappingsFor(groups), req.Features)
	digest := apitype.MappingsDigest(ms)
	l := lease.New(p.TenantID, seat, digest, s.cfg.Now())
	l.UserHash = lease.UserHash(p.TenantID, p.ObjectID)
	l.ExpiresAt = l.IssuedAt.Add(s.cfg.LeaseTTL)
	tok, err := lease.Sign(sec.LeaseKey(), l)
	if err != nil {
		return fmt.Errorf("sign lease: %w", err)
	}
	return httpx.WriteJSON(w, http.StatusOK, apitype.ValidateResponse{
		Lease: tok, LeaseExpires: l.ExpiresAt, TenantID: p.TenantID, Mappings: ms, MappingsDigest: digest, Policies: cfg.Tenant.Policies,
	})
}

func (s *Server) myMappings(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	ctx := r.Context()
	cfg, err := s.licensed(ctx, p)
	if err != nil {
		return err
	}
	groups, err := s.groupsOf(ctx, p)
	if err != nil {
		return err
	}
	var features []string
	if f := r.URL.Query().Get("features"); f != "" {
		features = strings.Split(f, ",")
	}
	ms := s.supported(ctx, p, cfg.MappingsFor(groups), features)
	return httpx.WriteJSON(w, http.StatusOK, apitype.MappingList{Mappings: ms, MappingsDigest: apitype.MappingsDigest(ms), Policies: cfg.Tenant.Policies})
}

// supported leaves out the mappings that need a feature the client did
// not declare (apitype.Mapping.Requires): an older client is given the
// mappings it can mount as the admin meant them, and its lease stays
// valid, instead of refusing the whole lease or mounting a whole library
// where the admin mapped one folder.
func (s *Server) supported(ctx context.Context, p *authn.Principal, ms []apitype.Mapping, features []string) []apitype.Mapping {
	kept, withheld := apitype.SupportedMappings(ms, features)
	if withheld > 0 {
		s.cfg.Log.InfoContext(ctx, "mappings withheld from a client that predates their features: it should be updated",
			"tenant", p.TenantID, "withheld", withheld)
	}
	return kept
}

// resultCode is the metric label of a validation outcome: a fixed code,
// never request data.
func resultCode(err error) string {
	if err == nil {
		return "ok"
	}
	var he *httpx.Error
	if errors.As(err, &he) {
		return he.Code
	}
	return apitype.ServiceCodeInternal
}

// versionLess reports whether dotted version a is older than b; non-numeric
// parts compare as 0.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(strings.SplitN(pa[i], "-", 2)[0])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(strings.SplitN(pb[i], "-", 2)[0])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
