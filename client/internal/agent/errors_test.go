package agent

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/auth"
	"github.com/mapdrive/mapdrive/client/internal/svcclient"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// Each failure kind reaches the user as one code, whichever part of the
// client reported it and however deeply it was wrapped: no part
// translates another's errors.
func TestProblemCodeForEachFailureKind(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("list children of 01ABC: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"auth signed out", auth.ErrNotSignedIn, apitype.CodeNotSignedIn},
		{"auth expired", wrap(auth.ErrSignInExpired), apitype.CodeSignInExpired},
		{"vfs unauthenticated", wrap(vfs.ErrUnauthenticated), apitype.CodeSignInExpired},
		{"service refused the token", svcclient.ErrUnauthenticated, apitype.CodeSignInExpired},
		{"auth offline", wrap(auth.ErrOffline), apitype.CodeOffline},
		{"graph offline", wrap(fmt.Errorf("%w: dial tcp: refused", vfs.ErrOffline)), apitype.CodeOffline},
		{"service unreachable", wrap(svcclient.ErrUnreachable), apitype.CodeOffline},
		{"licence refused", wrap(&svcclient.RefusedError{Code: apitype.ServiceCodeSeatsExhausted}), apitype.CodeLicenceRefused},
		{"not found", wrap(vfs.ErrNotFound), apitype.CodeNotFound},
		{"quota", wrap(vfs.ErrQuotaExceeded), apitype.CodeQuotaFull},
		{"invalid name", wrap(vfs.ErrInvalidName), apitype.CodeNameRefused},
		{"name too long", wrap(vfs.ErrNameTooLong), apitype.CodeNameRefused},
		{"anything else", errors.New("disk on fire"), apitype.CodeInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problem("do it", tc.err).Code; got != tc.want {
				t.Errorf("problem(%v).Code = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
