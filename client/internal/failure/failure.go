// Package failure owns the client's vocabulary of failure kinds: signed
// out, sign-in expired, offline, not found, licence refused, quota full
// and invalid name. Each kind is defined here once. The auth, graph, vfs,
// svcclient and agent packages return these kinds (or a Variant of one,
// with a message of its own) and test for them with errors.Is, so an
// error keeps its kind across package lines without being translated.
package failure

import "errors"

// The kinds. Their messages are short because callers wrap them with
// what failed ("list children of X: offline").
var (
	// SignedOut: no account is signed in.
	SignedOut = errors.New("not signed in")
	// SignInExpired: the account's sign-in no longer works (expired,
	// revoked, refused by Microsoft 365 or the Mapdrive service); the user
	// must sign in again.
	SignInExpired = errors.New("sign-in expired")
	// Offline: Microsoft 365, its sign-in service or the Mapdrive service
	// cannot be reached; the work is retried when it can be.
	Offline = errors.New("offline")
	// NotFound: the item, drive or site does not exist, or the user may
	// not see it (a 403 on a lookup means not found to the user).
	NotFound = errors.New("not found")
	// LicenceRefused: the Mapdrive service refused the user a licence.
	LicenceRefused = errors.New("licence refused")
	// Quota: the drive's storage quota is full.
	Quota = errors.New("storage quota is full")
	// InvalidName: SharePoint or OneDrive does not allow the name or path.
	InvalidName = errors.New("name not allowed in SharePoint or OneDrive")
)

// Variant returns an error of the given kind with its own message:
// errors.Is(v, kind) holds, and v prints as msg alone.
func Variant(kind error, msg string) error { return &variant{kind: kind, msg: msg} }

type variant struct {
	kind error
	msg  string
}

func (v *variant) Error() string { return v.msg }
func (v *variant) Unwrap() error { return v.kind }
