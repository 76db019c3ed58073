package entra

import (
	"net/url"
	"strings"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// grantJWTBearer is the on-behalf-of grant's grant_type.
const grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// redeemOnBehalfOf is the on-behalf-of flow (Microsoft identity platform,
// "OAuth 2.0 On-Behalf-Of flow"): a confidential web API trades the
// delegated access token it received (assertion) for a token to another
// resource, for the same user. The assertion must be a user token issued
// here, unexpired, whose audience is the calling API; the API's consent
// to the downstream resource decides the scopes.
func (s *Server) redeemOnBehalfOf(form url.Values, t *directory.Tenant, multi bool, client *directory.App, secret bool) (grant, *oauthError) {
	if !secret {
		return grant{}, errMissingSecret()
	}
	if form.Get("requested_token_use") != "on_behalf_of" {
		return grant{}, badRequest("invalid_request", 900144, "The request body must contain the following parameter: 'requested_token_use' with the value 'on_behalf_of'.")
	}
	assertion := form.Get("assertion")
	if assertion == "" {
		return grant{}, errMissingParam("assertion")
	}
	claims, err := s.keys.Verify(assertion, s.now())
	if err != nil {
		if strings.Contains(err.Error(), "expired") {
			return grant{}, badRequest("invalid_grant", 500133, "The assertion is not within its valid time range.")
		}
		return grant{}, badRequest("invalid_grant", 50013, "Assertion failed signature validation.")
	}
	aud, _ := claims["aud"].(string)
	if !strings.EqualFold(aud, client.ClientID) && (client.IdentifierURI == "" || !strings.EqualFold(aud, client.IdentifierURI)) {
		return grant{}, badRequest("invalid_grant", 50013, "Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '%s' and the expected audience is '%s'.", aud, client.ClientID)
	}
	if scp, _ := claims["scp"].(string); scp == "" {
		return grant{}, badRequest("invalid_grant", 50013, "Assertion is not a delegated user token: on-behalf-of needs one with scp.")
	}
	tid, _ := claims["tid"].(string)
	oid, _ := claims["oid"].(string)
	ut := s.dir.Tenant(tid)
	if ut == nil || !sameTenant(t, multi, ut.ID) {
		return grant{}, errGrantOtherClient("assertion")
	}
	u := ut.User(oid)
	if u == nil {
		return grant{}, errGrantOtherClient("assertion")
	}
	q, oe := s.parseScope(form.Get("scope"), ut.Name)
	if oe != nil {
		return grant{}, oe
	}
	s.mu.Lock()
	scopes, oe := s.consentLocked(ut, u, client, q, false)
	s.mu.Unlock()
	if oe != nil {
		return grant{}, oe
	}
	return grant{t: ut, u: u, client: client, q: q, scopes: scopes, signedIn: s.now()}, nil
}
