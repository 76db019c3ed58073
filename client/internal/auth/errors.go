package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/client/internal/keyring"
)

// Sentinel errors. Typed errors below match them with errors.Is. The
// failure kinds they belong to (failure.SignedOut, SignInExpired, Offline)
// are what other packages test for.
var (
	// ErrNotSignedIn reports that no account is signed in.
	ErrNotSignedIn = failure.Variant(failure.SignedOut, "not signed in: sign in with `mapdrive login`")
	// ErrSignInExpired reports that the refresh token no longer works
	// (expired, revoked, password changed, MFA required): the user must
	// sign in again.
	ErrSignInExpired = failure.SignInExpired
	// ErrConsentRequired reports that the tenant requires an administrator
	// to approve Mapdrive before users can sign in.
	ErrConsentRequired = errors.New("administrator approval required")
	// ErrOffline reports that the sign-in service could not be reached.
	ErrOffline = failure.Variant(failure.Offline, "cannot reach the Microsoft sign-in service")
	// ErrDeviceCodeExpired reports that nobody entered the device code in time.
	ErrDeviceCodeExpired = errors.New("the sign-in code expired before it was used; run `mapdrive login --device-code` again")
	// ErrDeclined reports that the user declined the sign-in.
	ErrDeclined = errors.New("sign-in was declined")
)

// ConsentError is returned when Entra ID refuses a token because nobody
// consented to Mapdrive's permissions and users may not (AADSTS65001), or
// an administrator must approve the app (AADSTS90094).
type ConsentError struct {
	// Code is the AADSTS error number, e.g. 65001.
	Code int
	// AdminConsentURL is the page an administrator opens to approve
	// Mapdrive for the whole organisation.
	AdminConsentURL string
	// Description is Entra ID's own message.
	Description string
}

func (e *ConsentError) Error() string {
	return fmt.Sprintf("your organisation requires an administrator to approve Mapdrive (AADSTS%d). "+
		"Ask your IT administrator to open %s and grant consent, then run `mapdrive login` again", e.Code, e.AdminConsentURL)
}

// Is reports whether target is ErrConsentRequired.
func (e *ConsentError) Is(target error) bool { return target == ErrConsentRequired }

// SignInExpiredError is returned when the stored sign-in can no longer be
// used silently.
type SignInExpiredError struct {
	// Reason is Entra ID's error code and description, for the log.
	Reason string
}

func (e *SignInExpiredError) Error() string {
	return "your sign-in has expired: sign in again with `mapdrive login` (" + e.Reason + ")"
}

// Is reports whether target is ErrSignInExpired.
func (e *SignInExpiredError) Is(target error) bool { return target == ErrSignInExpired }

// oauthError is the JSON body of an error from the token endpoint.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
}

// describe extracts what Entra ID said from an MSAL error: the JSON body of
// a failed token request, or the error and description posted back to the
// redirect URI in the interactive flow (MSAL keeps only the description).
func describe(err error) oauthError {
	var ce msalerrors.CallErr
	if errors.As(err, &ce) && ce.Resp != nil && ce.Resp.Body != nil {
		body, _ := io.ReadAll(ce.Resp.Body)
		ce.Resp.Body = io.NopCloser(bytes.NewReader(body)) // leave it readable for others
		var oe oauthError
		if json.Unmarshal(body, &oe) == nil && oe.Error != "" {
			return oe
		}
	}
	msg := err.Error()
	oe := oauthError{Description: msg}
	for _, code := range []string{"invalid_grant", "interaction_required", "consent_required", "expired_token", "authorization_declined", "access_denied"} {
		if strings.Contains(msg, code) {
			oe.Error = code
			break
		}
	}
	return oe
}

// aadsts reports the first AADSTS code of interest in oe.
func (oe oauthError) has(code int) bool {
	for _, c := range oe.Codes {
		if c == code {
			return true
		}
	}
	return strings.Contains(oe.Description, fmt.Sprintf("AADSTS%d", code))
}

// classify turns an MSAL failure into one of this package's errors,
// wrapped with what was being done.
func (c *Client) classify(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, keyring.ErrUnavailable) || errors.Is(err, ErrNotSignedIn) {
		return fmt.Errorf("%s: %w", what, err)
	}
	oe := describe(err)
	for _, code := range []int{65001, 90094, 90095} {
		if oe.has(code) {
			return fmt.Errorf("%s: %w", what, &ConsentError{Code: code, AdminConsentURL: c.AdminConsentURL(), Description: oe.Description})
		}
	}
	switch {
	case oe.Error == "consent_required":
		return fmt.Errorf("%s: %w", what, &ConsentError{Code: 65001, AdminConsentURL: c.AdminConsentURL(), Description: oe.Description})
	case oe.Error == "expired_token":
		return fmt.Errorf("%s: %w", what, ErrDeviceCodeExpired)
	case oe.Error == "authorization_declined", oe.Error == "access_denied":
		return fmt.Errorf("%s: %w: %s", what, ErrDeclined, oe.Description)
	case oe.Error == "invalid_grant", oe.Error == "interaction_required",
		strings.Contains(err.Error(), "no token found"):
		reason := oe.Error
		if reason == "" {
			reason = "no refresh token in the cache"
		}
		return fmt.Errorf("%s: %w", what, &SignInExpiredError{Reason: reason})
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return fmt.Errorf("%s: %w: %w", what, ErrOffline, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// AdminConsentURL returns the page where a tenant administrator approves
// Mapdrive for the organisation: <authority>/adminconsent?client_id=...
// https://learn.microsoft.com/entra/identity-platform/v2-admin-consent
func (c *Client) AdminConsentURL() string {
	return c.cfg.Authority + "/adminconsent?client_id=" + url.QueryEscape(c.cfg.ClientID)
}
