package graph

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/token"
)

// call is the authenticated caller of one Graph request.
type call struct {
	tenant *directory.Tenant
	user   *directory.User
	scopes map[string]bool // lower-cased
	auth   string          // the Authorization header, for $batch
	app    string          // the calling application's client id (appid or azp)
}

func (c *call) hasAny(scopes ...string) bool {
	for _, sc := range scopes {
		if c.scopes[strings.ToLower(sc)] {
			return true
		}
	}
	return false
}

func (c *call) identity() (id, name, email string) {
	return c.user.ID, c.user.DisplayName, c.tenant.UPN(c.user)
}

// wwwAuthenticate is the challenge Graph sends with a 401. Graph's real
// header carries realm, authorization_uri and client_id; the error and
// error_description parameters (RFC 6750) let clients that look for
// "expired_token" refresh without guessing.
func wwwAuthenticate(errCode, desc string) string {
	h := `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="` + directory.GraphAppID + `"`
	if errCode != "" {
		h += `, error="` + errCode + `", error_description="` + desc + `"`
	}
	return h
}

// Challenge is a claims challenge: Graph refuses a token that has not
// expired and tells the client which claims a new one must carry
// ("Claims challenges, claims requests and client capabilities",
// learn.microsoft.com/entra/identity-platform/claims-challenge).
type Challenge struct {
	// Claims is the claims request, JSON, such as
	// {"access_token":{"nbf":{"essential":true,"value":"1604106651"}}}.
	Claims string
	// Code says why, in the error message: Graph names a revocation
	// TokenIssuedBeforeRevocationTimestamp (as reported in
	// microsoftgraph/msgraph-sdk-powershell#1741).
	Code string
}

// Challenger decides whether the verified token claims of user userID
// of tenant tenantID, presented with r, must be challenged; nil lets the
// request through. Graph asks it only for tokens of clients that
// declared the cp1 capability: "Your application receives claims
// challenges from popular services like Microsoft Graph only if it
// declares its client capabilities".
type Challenger func(r *http.Request, tenantID, userID string, claims map[string]any) *Challenge

// CAECapable reports whether token claims carry the cp1 client
// capability (xms_cc), the mark of a client that handles claims
// challenges and so gets continuous access evaluation.
func CAECapable(claims map[string]any) bool {
	switch v := claims["xms_cc"].(type) {
	case string:
		return strings.EqualFold(v, "cp1")
	case []any:
		for _, x := range v {
			if s, _ := x.(string); strings.EqualFold(s, "cp1") {
				return true
			}
		}
	}
	return false
}

// errClaimsChallenge is Graph's answer to a token continuous access
// evaluation refuses: 401 with the claims request, base64-encoded, in
// the WWW-Authenticate header ("How to use Continuous Access Evaluation
// enabled APIs in your applications").
func errClaimsChallenge(ch *Challenge) *apiError {
	h := `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="` +
		directory.GraphAppID + `", error="insufficient_claims", claims="` + base64.StdEncoding.EncodeToString([]byte(ch.Claims)) + `"`
	return errorf(http.StatusUnauthorized, "InvalidAuthenticationToken",
		"Continuous access evaluation resulted in claims challenge with result: InteractionRequired and code: %s", ch.Code).
		withHeader("WWW-Authenticate", h)
}

func errUnauthenticated(msg, challengeErr, desc string) *apiError {
	return errorf(http.StatusUnauthorized, "InvalidAuthenticationToken", "%s", msg).
		withHeader("WWW-Authenticate", wwwAuthenticate(challengeErr, desc))
}

// authenticate checks the bearer access token of a Graph request.
func (s *Server) authenticate(r *http.Request) (*call, error) {
	h := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return nil, errUnauthenticated("Access token is empty.", "", "")
	}
	claims, err := s.keys.Verify(strings.TrimSpace(raw), s.now())
	if errors.Is(err, token.ErrExpired) {
		return nil, errUnauthenticated("Lifetime validation failed, the token is expired.", "invalid_token", "The access token has expired (expired_token)")
	}
	if err != nil {
		return nil, errUnauthenticated("Access token validation failure. Invalid audience or signature.", "invalid_token", "The access token is invalid")
	}
	if !audienceIsGraph(claims["aud"]) {
		return nil, errUnauthenticated("Access token validation failure. Invalid audience.", "invalid_token", "The access token has the wrong audience")
	}
	tid, _ := claims["tid"].(string)
	oid, _ := claims["oid"].(string)
	t := s.dir.Tenant(tid)
	if t == nil || tid == "" || !strings.EqualFold(t.ID, tid) {
		return nil, errUnauthenticated("Access token validation failure. Unknown tenant.", "invalid_token", "The tenant is unknown")
	}
	u := t.User(oid)
	if u == nil || oid == "" || !strings.EqualFold(u.ID, oid) {
		return nil, errUnauthenticated("Access token validation failure. Unknown user.", "invalid_token", "The user is unknown")
	}
	if s.cfg.Challenger != nil && CAECapable(claims) {
		if ch := s.cfg.Challenger(r, t.ID, u.ID, claims); ch != nil {
			return nil, errClaimsChallenge(ch)
		}
	}
	c := &call{tenant: t, user: u, scopes: map[string]bool{}, auth: h}
	if c.app, _ = claims["azp"].(string); c.app == "" {
		c.app, _ = claims["appid"].(string)
	}
	scp, _ := claims["scp"].(string)
	for _, sc := range strings.Fields(scp) {
		c.scopes[strings.ToLower(sc)] = true
	}
	if len(c.scopes) == 0 {
		return nil, errorf(http.StatusForbidden, "accessDenied", "Either scp or roles claim need to be present in the token.")
	}
	return c, nil
}

func audienceIsGraph(aud any) bool {
	ok := func(s string) bool {
		s = strings.TrimSuffix(strings.ToLower(s), "/")
		return s == directory.GraphAppID || s == directory.GraphResource
	}
	switch a := aud.(type) {
	case string:
		return ok(a)
	case []any:
		for _, v := range a {
			if s, _ := v.(string); ok(s) {
				return true
			}
		}
	}
	return false
}

// Scope sets, least privileged first.
var (
	readAllScopes  = []string{"Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All", "Sites.ReadWrite.All", "Sites.Manage.All", "Sites.FullControl.All"}
	writeAllScopes = []string{"Files.ReadWrite.All", "Sites.ReadWrite.All", "Sites.Manage.All", "Sites.FullControl.All"}
	siteScopes     = []string{"Sites.Read.All", "Sites.ReadWrite.All", "Sites.Manage.All", "Sites.FullControl.All"}
	userScopes     = []string{"User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	memberScopes   = []string{"User.Read", "GroupMember.Read.All", "Group.Read.All", "Directory.Read.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}
	teamScopes     = []string{"Team.ReadBasic.All", "TeamSettings.Read.All", "TeamSettings.ReadWrite.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)

func errScope() *apiError {
	return errorf(http.StatusForbidden, "accessDenied", "Insufficient privileges to complete the operation.")
}

// drive is a drive the caller may reach, and how.
type drive struct {
	ref   directory.DriveRef
	write bool // the directory lets the caller write (the token may still not)
	own   bool // the caller's own OneDrive
}

// openDrive resolves a drive id for the caller. Drives of other tenants do
// not exist for the caller (404); drives of the same tenant that the
// caller may not reach give 403, as SharePoint does.
func (s *Server) openDrive(c *call, id string) (*drive, error) {
	ref, ok := s.dir.Drive(id)
	if !ok || ref.Tenant != c.tenant {
		return nil, errNotFound("drive")
	}
	acc := s.dir.Access(c.tenant, c.user, ref)
	if acc == directory.AccessNone {
		return nil, errDenied()
	}
	d := &drive{ref: ref, write: acc == directory.AccessWrite, own: ref.Kind == directory.KindBusiness && ref.Owner != nil && ref.Owner.ID == c.user.ID}
	if !c.hasAny(readAllScopes...) && !(d.own && c.hasAny("Files.Read", "Files.ReadWrite")) {
		return nil, errScope()
	}
	return d, nil
}

// checkWrite reports, as an error, whether the caller may change d.
func (d *drive) checkWrite(c *call) error {
	if !d.write {
		return errDenied()
	}
	if !c.hasAny(writeAllScopes...) && !(d.own && c.hasAny("Files.ReadWrite")) {
		return errScope()
	}
	return nil
}
