package authn

import (
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/token"
)

// BenchmarkValidateUncached is the cost of a first sight of a token:
// RS256 verification and claim checks, without the verified-token cache.
func BenchmarkValidateUncached(b *testing.B) {
	keys, _ := token.NewEphemeral()
	j := newJWKSF(b, keys)
	now := time.Now()
	v, err := New(b.Context(), Config{AuthorityHost: authority, JWKSURL: j.srv.URL, Audiences: []string{"9f8e7d6c-5b4a-4392-8a1b-0c9d8e7f6a55"},
		HTTPClient: j.srv.Client(), Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := keys.Sign(goodClaims(now))
	if _, err := v.parse(b.Context(), tok); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.parse(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
