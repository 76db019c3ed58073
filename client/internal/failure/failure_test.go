package failure

import (
	"errors"
	"fmt"
	"testing"
)

func TestVariantKeepsItsKindAndMessage(t *testing.T) {
	v := Variant(Offline, "the Mapdrive service is unreachable")
	wrapped := fmt.Errorf("renew the lease: %w", v)
	for _, tc := range []struct {
		err  error
		kind error
		want bool
	}{
		{v, Offline, true},
		{wrapped, Offline, true},
		{wrapped, v, true},
		{wrapped, NotFound, false},
		{wrapped, SignInExpired, false},
	} {
		if got := errors.Is(tc.err, tc.kind); got != tc.want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", tc.err, tc.kind, got, tc.want)
		}
	}
	if got := wrapped.Error(); got != "renew the lease: the Mapdrive service is unreachable" {
		t.Errorf("message %q", got)
	}
}

// The kinds are distinct: none matches another.
func TestKindsAreDistinct(t *testing.T) {
	kinds := []error{SignedOut, SignInExpired, Offline, NotFound, LicenceRefused, Quota, InvalidName}
	for i, a := range kinds {
		for j, b := range kinds {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, errors.Is(a, b))
			}
		}
	}
}
