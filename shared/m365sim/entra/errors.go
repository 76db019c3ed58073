package entra

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// oauthError is an error answered the way the Microsoft identity platform
// answers it: an OAuth error code, an AADSTS number and a description.
// See https://learn.microsoft.com/entra/identity-platform/reference-error-codes.
type oauthError struct {
	status   int    // HTTP status at the token endpoint
	code     string // OAuth error, such as "invalid_grant"
	aadsts   int    // AADSTS number
	msg      string // description without the AADSTS prefix
	suberror string // such as "consent_required"; optional
}

func (e *oauthError) Error() string { return fmt.Sprintf("%s: AADSTS%d: %s", e.code, e.aadsts, e.msg) }

// description is the error_description text, as Entra writes it: the
// AADSTS number first, then trace and correlation ids and a timestamp.
func (e *oauthError) description(trace, corr string, at time.Time) string {
	return fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
		e.aadsts, e.msg, trace, corr, at.UTC().Format("2006-01-02 15:04:05Z"))
}

func badRequest(code string, aadsts int, format string, args ...any) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: code, aadsts: aadsts, msg: fmt.Sprintf(format, args...)}
}

// The errors below are the ones this package answers; their numbers and
// texts follow Entra's error-code reference.

func errMissingParam(name string) *oauthError {
	return badRequest("invalid_request", 900144, "The request body must contain the following parameter: '%s'.", name)
}

func errMalformed() *oauthError {
	return badRequest("invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")
}

func errPostOnly(method string) *oauthError {
	return badRequest("invalid_request", 900561, "The endpoint only accepts POST requests. Received a %s request.", method)
}

func errUnknownTenant(tenant string) *oauthError {
	return badRequest("invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)
}

func errUnknownClient(clientID, tenant string) *oauthError {
	return badRequest("unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)
}

func errRedirectURI(uri, clientID string) *oauthError {
	return badRequest("invalid_request", 50011, "The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.", uri, clientID)
}

func errInvalidScope(format string, args ...any) *oauthError {
	return badRequest("invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. "+format, args...)
}

func errTwoResources(scope string) *oauthError {
	return badRequest("invalid_scope", 28000, "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", scope)
}

func errUnknownResource(resource, tenant string) *oauthError {
	return badRequest("invalid_resource", 500011, "The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, tenant)
}

func errConsentRequired(clientID, name string) *oauthError {
	e := badRequest("invalid_grant", 65001, "The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", clientID, name)
	e.suberror = "consent_required"
	return e
}

func errAdminApproval() *oauthError {
	return badRequest("access_denied", 90094, "The grant requires admin permission.")
}

func errBadVerifier() *oauthError {
	return badRequest("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
}

func errCodeRedeemed() *oauthError {
	return badRequest("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
}

func errCodeExpired() *oauthError {
	return badRequest("invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
}

func errGrantRevoked() *oauthError {
	return badRequest("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.")
}

func errRefreshInactive(issued time.Time, inactive time.Duration) *oauthError {
	days := inactive.Hours() / 24
	return badRequest("invalid_grant", 700082, "The refresh token has expired due to inactivity. The token was issued on %s and was inactive for %.2f days.", issued.UTC().Format(time.RFC3339), days)
}

func errGrantOtherClient(what string) *oauthError {
	return badRequest("invalid_grant", 70000, "The provided value for the '%s' parameter is not valid. The grant was issued to a different client or tenant.", what)
}

func errReplyMismatch(got, want string) *oauthError {
	return badRequest("invalid_grant", 500112, "The reply address '%s' does not match the reply address '%s' provided when requesting Authorization code.", got, want)
}

func errUnsupportedGrant(gt string) *oauthError {
	return badRequest("unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'.", gt)
}

func errDelegatedOnly(clientID string) *oauthError {
	return badRequest("unauthorized_client", 70003, "The application '%s' may not use the grant type 'client_credentials': this directory grants it delegated permissions only.", clientID)
}

func errMissingSecret() *oauthError {
	e := badRequest("invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	e.status = http.StatusUnauthorized
	return e
}

func errBadSecret(clientID string) *oauthError {
	e := badRequest("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)
	e.status = http.StatusUnauthorized
	return e
}

func errPublicWithSecret() *oauthError {
	e := badRequest("invalid_client", 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
	e.status = http.StatusUnauthorized
	return e
}

func errAuthPending() *oauthError {
	return badRequest("authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
}

func errSlowDown() *oauthError {
	return badRequest("slow_down", 70016, "OAuth 2.0 device flow error. The client polled faster than the interval; wait longer between polls.")
}

func errDeviceExpired() *oauthError {
	return badRequest("expired_token", 70019, "Verification code expired. Have the user retry the sign-in.")
}

func errDeviceDeclined() *oauthError {
	return badRequest("authorization_declined", 70000, "The user declined the authorization request.")
}

func errBadUserCode() *oauthError {
	return badRequest("bad_verification_code", 70018, "Invalid verification code due to User typing in wrong user code for device code flow. Authorization is not approved.")
}

func errLoginRequired() *oauthError {
	return badRequest("login_required", 50058, "A silent sign-in request was sent but no user is signed in.")
}

func errUnsupportedResponseType(rt string) *oauthError {
	return badRequest("unsupported_response_type", 700054, "response_type '%s' is not enabled for the application.", rt)
}

func errBadChallengeMethod(m string) *oauthError {
	return badRequest("invalid_request", 501491, "Invalid code_challenge_method '%s'. Use S256 or plain.", m)
}

func errUnknownUser(upn string) *oauthError {
	return badRequest("invalid_request", 50034, "The user account %s does not exist in the directory. To sign into this application, the account must be added to the directory.", upn)
}

// errorBody is Entra's JSON error document.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
	Suberror         string `json:"suberror,omitempty"`
}

// writeError answers e as Entra's token endpoint does.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *oauthError) {
	now := s.now()
	trace, corr := newGUID(), correlationID(r)
	body := errorBody{
		Error:            e.code,
		ErrorDescription: e.description(trace, corr, now),
		ErrorCodes:       []int{e.aadsts},
		Timestamp:        now.UTC().Format("2006-01-02 15:04:05Z"),
		TraceID:          trace,
		CorrelationID:    corr,
		ErrorURI:         fmt.Sprintf("%s/error?code=%d", s.base, e.aadsts),
		Suberror:         e.suberror,
	}
	s.log.Debug("entra error", "path", r.URL.Path, "error", e.code, "aadsts", e.aadsts)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, e.status, body)
}

// correlationID echoes the client's client-request-id, as Entra does, or
// makes one up.
func correlationID(r *http.Request) string {
	if id := strings.TrimSpace(r.Header.Get("client-request-id")); id != "" && len(id) <= 64 {
		return id
	}
	return newGUID()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}
