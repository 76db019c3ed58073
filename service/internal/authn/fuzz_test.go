package authn

import (
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/token"
)

// FuzzValidate feeds arbitrary strings to the token validator: it must
// never panic, and must accept nothing that the test key did not sign.
func FuzzValidate(f *testing.F) {
	keys, err := token.NewEphemeral()
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	good, _ := keys.Sign(goodClaims(now))
	f.Add(good)
	j := newJWKSF(f, keys)
	v, err := New(f.Context(), Config{AuthorityHost: authority, JWKSURL: j.srv.URL, Audiences: []string{"9f8e7d6c-5b4a-4392-8a1b-0c9d8e7f6a55"},
		HTTPClient: j.srv.Client(), Now: func() time.Time { return now }, RefreshUnknownKID: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Validate(t.Context(), raw)
		if err == nil && raw != good {
			t.Fatalf("accepted a token the key did not sign: %q → %+v", raw, p)
		}
	})
}
