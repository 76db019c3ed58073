package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/mapdrive/mapdrive/client/internal/svcclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// Sentinel errors the agent's parts wrap, so the agent can tell the user
// what happened and what to do. Adapters in wire.go map the auth, graph
// and vfs packages' errors onto them.
var (
	ErrNotSignedIn        = errors.New("not signed in")
	ErrSignInExpired      = errors.New("sign-in expired")
	ErrOffline            = errors.New("cannot reach Microsoft 365")
	ErrKeyringUnavailable = errors.New("the OS keyring is not available")
	ErrNotFound           = errors.New("not found")
	ErrUnsupported        = errors.New("not supported by this build")
)

// ConsentError is a tenant requiring an administrator to approve Mapdrive.
type ConsentError struct {
	AdminConsentURL string
	Err             error
}

func (e *ConsentError) Error() string { return e.Err.Error() }
func (e *ConsentError) Unwrap() error { return e.Err }

// problem turns any error from the agent's parts into a user-facing
// *apitype.Error: what happened and what to do. what names the operation.
func problem(what string, err error) *apitype.Error {
	var ae *apitype.Error
	if errors.As(err, &ae) {
		return ae
	}
	var ce *ConsentError
	var re *svcclient.RefusedError
	switch {
	case errors.As(err, &ce):
		e := apitype.NewError(apitype.CodeConsentRequired,
			"your organisation requires an administrator to approve Mapdrive before you can sign in",
			"Send your IT administrator this link to approve it, then run `mapdrive login` again: "+ce.AdminConsentURL)
		e.URL = ce.AdminConsentURL
		return e
	case errors.As(err, &re):
		return apitype.NewError(apitype.CodeLicenceRefused, re.Error(),
			"Ask your IT administrator to check your organisation's Mapdrive licence, then run `mapdrive status` again.")
	case errors.Is(err, ErrSignInExpired), errors.Is(err, svcclient.ErrUnauthenticated):
		return apitype.NewError(apitype.CodeSignInExpired, what+": your sign-in has expired",
			"Sign in again with `mapdrive login`.")
	case errors.Is(err, ErrNotSignedIn):
		return apitype.NewError(apitype.CodeNotSignedIn, what+": you are not signed in",
			"Sign in with `mapdrive login` (or `mapdrive login --device-code` on a machine without a browser).")
	case errors.Is(err, svcclient.ErrLeaseExpired):
		return apitype.NewError(apitype.CodeLicenceExpired,
			"the Mapdrive licence lease has expired and the Mapdrive service cannot be reached to renew it",
			"Connect to the network so Mapdrive can renew its licence with your organisation's Mapdrive service.")
	case errors.Is(err, svcclient.ErrLeaseInvalid):
		return apitype.NewError(apitype.CodeLeaseInvalid, "the licence lease failed verification and was rejected ("+err.Error()+")",
			"Check the service_url and lease_key settings with your IT administrator.")
	case errors.Is(err, svcclient.ErrNoLease):
		return apitype.NewError(apitype.CodeServiceUnreachable,
			"the Mapdrive service cannot be reached and no licence lease is stored yet",
			"Connect to the network (or check service_url), then Mapdrive retries on its own.")
	case errors.Is(err, ErrOffline), errors.Is(err, svcclient.ErrUnreachable):
		return apitype.NewError(apitype.CodeOffline, what+": Microsoft 365 or the Mapdrive service cannot be reached",
			"Check the network connection; Mapdrive retries on its own.")
	case errors.Is(err, ErrKeyringUnavailable):
		return apitype.NewError(apitype.CodeKeyringUnavailable, err.Error(),
			"Once the OS keyring runs, restart the agent and sign in again with `mapdrive login`.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apitype.NewError(apitype.CodeInternal, what+": the operation was cancelled or timed out", "Try again.")
	}
	return apitype.NewError(apitype.CodeInternal, fmt.Sprintf("%s: %v", what, err),
		"Try again; if it keeps failing, look at the agent's log.")
}
