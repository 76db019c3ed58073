package agent

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/client/internal/mountdriver"
	"github.com/mapdrive/mapdrive/client/internal/svcclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// The agent's own sentinel errors. The failures its parts share (signed
// out, expired, offline, not found, licence refused, quota, invalid
// name) are the failure package's kinds, which every part returns as
// they are.
var (
	ErrKeyringUnavailable = errors.New("the OS keyring is not available")
	ErrUnsupported        = errors.New("not supported by this build")
	// ErrFolderMissing is a mapping targeted at a folder whose folder is
	// not in the library (deleted, renamed, moved, or never there), or is
	// a file.
	ErrFolderMissing = errors.New("the mapping's folder is missing")
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
	case errors.Is(err, failure.SignInExpired):
		return apitype.NewError(apitype.CodeSignInExpired, what+": your sign-in has expired",
			"Sign in again with `mapdrive login`.")
	case errors.Is(err, failure.SignedOut):
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
	case errors.Is(err, failure.Offline):
		return apitype.NewError(apitype.CodeOffline, what+": Microsoft 365 or the Mapdrive service cannot be reached",
			"Check the network connection; Mapdrive retries on its own.")
	case errors.Is(err, failure.NotFound):
		return apitype.NewError(apitype.CodeNotFound, fmt.Sprintf("%s: Microsoft 365 has no such item, or you may not see it", what),
			"Check the name, and ask the owner for access if it should be there.")
	case errors.Is(err, failure.Quota):
		return apitype.NewError(apitype.CodeQuotaFull, what+": the drive's storage quota is full",
			"Free some space in the drive (empty its recycle bin too), or ask your IT administrator for more.")
	case errors.Is(err, failure.InvalidName):
		return apitype.NewError(apitype.CodeNameRefused, fmt.Sprintf("%s: %v", what, err),
			"Rename it: SharePoint and OneDrive refuse some characters, names and lengths (see docs/posix.md).")
	case errors.Is(err, ErrKeyringUnavailable):
		return apitype.NewError(apitype.CodeKeyringUnavailable, err.Error(),
			"Once the OS keyring runs, restart the agent and sign in again with `mapdrive login`.")
	case errors.Is(err, mountdriver.ErrMissing):
		// fusefs.ErrNoFUSE: cgofuse could not load WinFsp, macFUSE or
		// libfuse. The code lets the tray explain how to install it.
		d := mountdriver.For(runtime.GOOS)
		e := apitype.NewError(apitype.CodeMountDriverMissing, d.Missing+": cannot "+what,
			strings.ToUpper(d.Install[:1])+d.Install[1:]+", then mount the drive again.")
		e.URL = d.URL
		return e
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apitype.NewError(apitype.CodeInternal, what+": the operation was cancelled or timed out", "Try again.")
	}
	return apitype.NewError(apitype.CodeInternal, fmt.Sprintf("%s: %v", what, err),
		"Try again; if it keeps failing, look at the agent's log.")
}
