package entra

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// claimsRequest is what the token endpoint takes from a "claims"
// parameter (OpenID Connect's claims request), as far as Entra documents
// it for access tokens ("Claims challenges, claims requests and client
// capabilities", learn.microsoft.com/entra/identity-platform/claims-challenge):
//
//	{"access_token":{"xms_cc":{"values":["cp1"]}}}                 the client handles claims challenges
//	{"access_token":{"acrs":{"essential":true,"value":"c25"}}}     a Conditional Access authentication context
//	{"access_token":{"nbf":{"essential":true,"value":"1604106651"}}} a token issued after that time (CAE)
//
// MSAL sends the capabilities with every token request and merges a
// challenge's claims into them.
type claimsRequest struct {
	capabilities []string // xms_cc values, lower-cased, known ones only
	acrs         []string // requested authentication context ids
	nbf          int64    // requested not-before, Unix seconds; 0 = none
}

// challenge reports whether the request answers a claims challenge:
// anything besides the client's capabilities.
func (c claimsRequest) challenge() bool { return len(c.acrs) > 0 || c.nbf != 0 }

// caeCapable reports whether the client declared cp1.
func (c claimsRequest) caeCapable() bool { return slices.Contains(c.capabilities, "cp1") }

// knownCapabilities are the xms_cc values Entra puts in tokens: "The only
// currently known value is cp1".
var knownCapabilities = []string{"cp1"}

// authContextID is an authentication context id: c1 to c99.
var authContextID = regexp.MustCompile(`^c([1-9]|[1-9][0-9])$`)

// parseClaims parses a claims parameter. Empty means none. A value that
// is not a JSON object, or whose access_token claims are not objects, is
// malformed; claims Entra does not know are ignored, as Entra ignores
// claims it cannot issue.
func parseClaims(raw string) (claimsRequest, *oauthError) {
	var out claimsRequest
	if strings.TrimSpace(raw) == "" {
		return out, nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &doc); err != nil || doc == nil {
		return out, errMalformed()
	}
	at, ok := doc["access_token"]
	if !ok || string(at) == "null" {
		return out, nil
	}
	var claims map[string]*struct {
		Essential bool            `json:"essential"`
		Value     json.RawMessage `json:"value"`
		Values    []string        `json:"values"`
	}
	if err := json.Unmarshal(at, &claims); err != nil {
		return out, errMalformed()
	}
	str := func(v json.RawMessage) (string, bool) {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s, true
		}
		var n json.Number
		if json.Unmarshal(v, &n) == nil {
			return n.String(), true
		}
		return "", false
	}
	for name, c := range claims {
		if c == nil {
			continue
		}
		switch name {
		case "xms_cc":
			vals := c.Values
			if v, ok := str(c.Value); ok && len(c.Value) > 0 {
				vals = append(vals, v)
			}
			for _, v := range vals {
				v = strings.ToLower(v) // "The values aren't case-sensitive"
				if slices.Contains(knownCapabilities, v) && !slices.Contains(out.capabilities, v) {
					out.capabilities = append(out.capabilities, v)
				}
			}
		case "acrs":
			vals := c.Values
			if v, ok := str(c.Value); ok && len(c.Value) > 0 {
				vals = append(vals, v)
			}
			for _, v := range vals {
				if !authContextID.MatchString(v) {
					return claimsRequest{}, errMalformed()
				}
				if !slices.Contains(out.acrs, v) {
					out.acrs = append(out.acrs, v)
				}
			}
		case "nbf":
			v, ok := str(c.Value)
			if !ok {
				return claimsRequest{}, errMalformed()
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return claimsRequest{}, errMalformed()
			}
			out.nbf = n
		}
	}
	return out, nil
}

// caeResource reports whether app is a resource that evaluates access
// continuously. Microsoft Graph does; a custom API would have to request
// xms_cc as an optional claim, which no registration of the directory does.
func caeResource(app *directory.App) bool { return app.ClientID == directory.GraphAppID }

// lifetime is how long g's access token lives: long-lived for a CAE
// session ("Token lifetime increases to long-lived, up to 28 hours, in
// CAE sessions"), the configured default otherwise ("If you aren't
// using CAE-capable clients, your default access token lifetime remains
// 1 hour").
func (s *Server) lifetime(g grant) time.Duration {
	if g.claims.caeCapable() && caeResource(g.q.resource) {
		return s.caeLife
	}
	return s.atLife
}

// revocationKey keys a user's revocation time.
func revocationKey(tid, oid string) string { return strings.ToLower(tid) + "/" + strings.ToLower(oid) }

// RevokedAt returns when the sessions of user oid of tenant tid were last
// revoked (RevokeUser), and whether they ever were. Graph refuses CAE
// tokens issued before it.
func (s *Server) RevokedAt(tid, oid string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.st.Revocations[revocationKey(tid, oid)]
	return at, ok
}
