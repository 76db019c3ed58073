package entra

import (
	"slices"
	"strings"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// oidcScopes are the OpenID Connect scopes, which may accompany the scopes
// of any one resource. In the order Entra lists them.
var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

// scopeRequest is a parsed scope parameter: OIDC scopes plus the scopes of
// exactly one resource (Entra issues a token for one resource at a time).
type scopeRequest struct {
	resource *directory.App // Graph when only OIDC scopes were asked
	prefix   string         // how the client named the resource; "" for Graph's short names
	scopes   []string       // resource scopes, as the resource registers them; empty with dflt
	dflt     bool           // "<resource>/.default": every consented scope
	oidc     []string       // subset of oidcScopes, in their order
}

func (q *scopeRequest) hasOIDC(name string) bool { return slices.Contains(q.oidc, name) }

// parseScope parses a scope parameter. tenantName is used in error texts.
func (s *Server) parseScope(raw, tenantName string) (*scopeRequest, *oauthError) {
	fields := strings.Fields(raw)
	if len(fields) == 0 {
		return nil, errMissingParam("scope")
	}
	q := &scopeRequest{}
	oidc := map[string]bool{}
	for _, f := range fields {
		if slices.Contains(oidcScopes, strings.ToLower(f)) {
			oidc[strings.ToLower(f)] = true
			continue
		}
		prefix, name := "", f
		app := s.dir.App(directory.GraphAppID)
		if i := strings.LastIndex(f, "/"); i >= 0 {
			prefix, name = f[:i], f[i+1:]
			app = s.lookupResource(prefix)
			if app == nil {
				return nil, errUnknownResource(prefix, tenantName)
			}
		}
		if name == "" {
			return nil, errInvalidScope("The scope '%s' is not valid.", f)
		}
		if q.resource != nil && q.resource.ClientID != app.ClientID {
			return nil, errTwoResources(f)
		}
		if q.resource == nil {
			q.resource, q.prefix = app, prefix
		}
		if name == ".default" {
			q.dflt = true
			continue
		}
		i := slices.IndexFunc(app.Scopes, func(x string) bool { return strings.EqualFold(x, name) })
		if i < 0 {
			return nil, errInvalidScope("The scope '%s' does not exist on the resource '%s'.", f, resourceName(app))
		}
		if !slices.Contains(q.scopes, app.Scopes[i]) {
			q.scopes = append(q.scopes, app.Scopes[i])
		}
	}
	if q.dflt && len(q.scopes) > 0 {
		return nil, errInvalidScope("The scope '.default' cannot be combined with other scopes of the same resource: '%s'.", raw)
	}
	for _, o := range oidcScopes {
		if oidc[o] {
			q.oidc = append(q.oidc, o)
		}
	}
	if q.resource == nil {
		// Only OIDC scopes: the access token is for Graph (its userinfo).
		q.resource = s.dir.App(directory.GraphAppID)
	}
	return q, nil
}

// lookupResource finds the app a scope prefix names: an App ID URI, a
// client ID, or "api://<client ID>".
func (s *Server) lookupResource(prefix string) *directory.App {
	if app := s.dir.App(prefix); app != nil {
		return app
	}
	low := strings.ToLower(prefix)
	if rest, ok := strings.CutPrefix(low, "api://"); ok {
		return s.dir.App(rest)
	}
	return nil
}

func resourceName(app *directory.App) string {
	if app.IdentifierURI != "" {
		return app.IdentifierURI
	}
	return app.ClientID
}

// grantedLocked returns the resource scopes client holds on res for user u
// of tenant t: the admin's tenant-wide consent plus the user's own, in the
// order res registers them.
func (s *Server) grantedLocked(t *directory.Tenant, u *directory.User, clientID string, res *directory.App) []string {
	if strings.EqualFold(clientID, res.ClientID) {
		// An app needs no consent to call its own API.
		return slices.Clone(res.Scopes)
	}
	have := map[string]bool{}
	for _, c := range t.Consents {
		if !strings.EqualFold(c.ClientID, clientID) {
			continue
		}
		if !strings.EqualFold(c.Resource, res.ClientID) && !(res.IdentifierURI != "" && strings.EqualFold(c.Resource, res.IdentifierURI)) {
			continue
		}
		for _, sc := range c.Scopes {
			have[strings.ToLower(sc)] = true
		}
	}
	for _, sc := range s.userConsentsLocked(t.ID, u.ID, clientID, res.ClientID) {
		have[strings.ToLower(sc)] = true
	}
	var out []string
	for _, sc := range res.Scopes {
		if have[strings.ToLower(sc)] {
			out = append(out, sc)
		}
	}
	return out
}

// adminOnlyGraphScopes are the Graph delegated permissions of the
// directory's list that need an admin's consent even where users may
// consent (https://learn.microsoft.com/graph/permissions-reference).
var adminOnlyGraphScopes = []string{"User.Read.All", "Group.Read.All", "GroupMember.Read.All"}

// userConsentable reports whether a user may consent to scope sc of res.
func userConsentable(res *directory.App, sc string) bool {
	return res.ClientID != directory.GraphAppID || !slices.ContainsFunc(adminOnlyGraphScopes, func(a string) bool { return strings.EqualFold(a, sc) })
}

// consentLocked checks that client may have the requested scopes for user
// u and returns the scopes that go into the token. At sign-in (the user
// is at a page) a tenant that lets users consent records the user's
// consent; a tenant that blocks it, or a scope only an admin may grant,
// answers AADSTS90094. Elsewhere a missing consent is AADSTS65001.
func (s *Server) consentLocked(t *directory.Tenant, u *directory.User, client *directory.App, q *scopeRequest, atSignIn bool) ([]string, *oauthError) {
	granted := s.grantedLocked(t, u, client.ClientID, q.resource)
	if q.dflt {
		if len(granted) == 0 {
			if atSignIn && t.UserConsentBlocked {
				return nil, errAdminApproval()
			}
			return nil, errConsentRequired(client.ClientID, client.DisplayName)
		}
		return granted, nil
	}
	var missing []string
	for _, sc := range q.scopes {
		if !slices.ContainsFunc(granted, func(g string) bool { return strings.EqualFold(g, sc) }) {
			missing = append(missing, sc)
		}
	}
	if len(missing) == 0 {
		return q.scopes, nil
	}
	adminOnly := slices.ContainsFunc(missing, func(sc string) bool { return !userConsentable(q.resource, sc) })
	switch {
	case atSignIn && (t.UserConsentBlocked || adminOnly):
		return nil, errAdminApproval()
	case atSignIn:
		s.recordConsentLocked(t.ID, u.ID, client.ClientID, q.resource.ClientID, missing)
		return q.scopes, nil
	default:
		return nil, errConsentRequired(client.ClientID, client.DisplayName)
	}
}

// scp is the scp claim: resource scopes plus, for Graph, the OIDC scopes
// other than offline_access (as Graph tokens carry them).
func scpClaim(q *scopeRequest, scopes []string) string {
	out := slices.Clone(scopes)
	if q.resource.ClientID == directory.GraphAppID {
		for _, o := range q.oidc {
			if o != "offline_access" {
				out = append(out, o)
			}
		}
	}
	return strings.Join(out, " ")
}

// responseScope is the token response's scope: the resource scopes named
// as the client named them, then the OIDC scopes other than offline_access.
func responseScope(q *scopeRequest, scopes []string) string {
	var out []string
	for _, sc := range scopes {
		if q.prefix == "" {
			out = append(out, sc)
		} else {
			out = append(out, q.prefix+"/"+sc)
		}
	}
	if q.dflt {
		// Entra names the .default request among the granted scopes, as
		// MSAL checks that nothing asked for was declined.
		if q.prefix == "" {
			out = append(out, ".default")
		} else {
			out = append(out, q.prefix+"/.default")
		}
	}
	for _, o := range q.oidc {
		if o != "offline_access" {
			out = append(out, o)
		}
	}
	return strings.Join(out, " ")
}
