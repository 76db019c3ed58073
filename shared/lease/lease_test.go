package lease

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	testSeed = []byte("0123456789abcdef0123456789abcdef")
	testPriv = ed25519.NewKeyFromSeed(testSeed)
	testPub  = testPriv.Public().(ed25519.PublicKey)
	t0       = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

func TestRoundTrip(t *testing.T) {
	l := New("7a1c9e52-3b4d-4f6a-8e2b-1c5d9f0a3e77", "seatkey", "digest", t0)
	l.UserHash = UserHash("7a1c9e52-3b4d-4f6a-8e2b-1c5d9f0a3e77", "0b3f7d2a-1111-4222-8333-944455556666")
	tok, err := Sign(testPriv, l)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "v1.") || strings.Count(tok, ".") != 2 {
		t.Fatalf("token shape %q", tok)
	}
	got, err := Verify(testPub, tok, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	l.KeyID = KeyID(testPub)
	if got != l {
		t.Errorf("Verify = %+v, want %+v", got, l)
	}
	if got.ExpiresAt.Sub(got.IssuedAt) != DefaultTTL {
		t.Errorf("ttl = %v", got.ExpiresAt.Sub(got.IssuedAt))
	}
}

// TestUserHash: the hash is the client's to compute from its account, so
// it ignores case, and it tells users apart.
func TestUserHash(t *testing.T) {
	if UserHash("T", "O") != UserHash("t", "o") {
		t.Error("UserHash is case sensitive")
	}
	if UserHash("t", "o1") == UserHash("t", "o2") || UserHash("t1", "o") == UserHash("t2", "o") || UserHash("ab", "c") == UserHash("a", "bc") {
		t.Error("UserHash collides")
	}
}

// TestVerifyAnyPicksTheKeyByID: with two pinned keys (a rotation), a lease
// of either verifies; one of a third key does not; a lease without a key
// id (signed before leases named their key) is tried against each.
func TestVerifyAnyPicksTheKeyByID(t *testing.T) {
	_, other, _ := ed25519.GenerateKey(nil)
	_, stranger, _ := ed25519.GenerateKey(nil)
	keys := []ed25519.PublicKey{other.Public().(ed25519.PublicKey), testPub}
	l := New("tid", "seat", "digest", t0)
	for _, priv := range []ed25519.PrivateKey{testPriv, other} {
		tok, err := Sign(priv, l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := VerifyAny(keys, tok, t0.Add(time.Minute))
		if err != nil || got.KeyID != KeyID(priv.Public().(ed25519.PublicKey)) {
			t.Errorf("VerifyAny = %+v, %v", got, err)
		}
	}
	tok, _ := Sign(stranger, l)
	if _, err := VerifyAny(keys, tok, t0.Add(time.Minute)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("VerifyAny of an unknown key's lease = %v, want ErrUnknownKey", err)
	}
	// Without a kid: the same signature, the payload rebuilt without it.
	body, _ := json.Marshal(payload{Tid: "tid", Sk: "seat", Iat: t0.Unix(), Exp: t0.Add(time.Hour).Unix(), Mdg: "digest"})
	signed := prefix + base64.RawURLEncoding.EncodeToString(body)
	old := signed + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(testPriv, []byte(signed)))
	if got, err := VerifyAny(keys, old, t0.Add(time.Minute)); err != nil || got.KeyID != "" {
		t.Errorf("VerifyAny of a lease without kid = %+v, %v", got, err)
	}
}

func TestVerifyErrors(t *testing.T) {
	good, err := Sign(testPriv, New("tid", "sk", "d", t0))
	if err != nil {
		t.Fatal(err)
	}
	otherPriv := ed25519.NewKeyFromSeed([]byte("fedcba9876543210fedcba9876543210"))
	otherTok, _ := Sign(otherPriv, New("tid", "sk", "d", t0))
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"tid":"other","sk":"sk","iat":1,"exp":99999999999}`)) + "." + parts[2]
	noFields, _ := signRaw(`{"tid":"","sk":"x","iat":1,"exp":2}`)
	notJSON, _ := signRaw(`not json`)
	for _, tc := range []struct {
		name  string
		token string
		now   time.Time
		want  error
	}{
		{"empty", "", t0, ErrMalformed},
		{"no prefix", "v2." + parts[1] + "." + parts[2], t0, ErrMalformed},
		{"two parts", "v1." + parts[1], t0, ErrMalformed},
		{"four parts", good + ".x", t0, ErrMalformed},
		{"bad base64 sig", parts[0] + "." + parts[1] + ".!!!", t0, ErrMalformed},
		{"short sig", parts[0] + "." + parts[1] + ".AAAA", t0, ErrMalformed},
		{"tampered payload", tampered, t0, ErrBadSignature},
		{"other key", otherTok, t0, ErrBadSignature},
		{"expired", good, t0.Add(DefaultTTL), ErrExpired},
		{"future", good, t0.Add(-time.Hour), ErrNotYetValid},
		{"missing fields", noFields, t0, ErrMalformed},
		{"not json", notJSON, t0, ErrMalformed},
		{"huge", "v1." + strings.Repeat("A", MaxTokenLen), t0, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(testPub, tc.token, tc.now)
			if !errors.Is(err, tc.want) {
				t.Errorf("Verify(%s) = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

func signRaw(body string) (string, error) {
	signed := "v1." + base64.RawURLEncoding.EncodeToString([]byte(body))
	return signed + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(testPriv, []byte(signed))), nil
}

func TestSignRejects(t *testing.T) {
	if _, err := Sign(testPriv, Lease{TenantID: "t"}); err == nil {
		t.Error("Sign without seat key succeeded")
	}
	if _, err := Sign(testPriv[:10], New("t", "s", "", t0)); err == nil {
		t.Error("Sign with short key succeeded")
	}
	l := New("t", "s", "", t0)
	l.ExpiresAt = l.IssuedAt
	if _, err := Sign(testPriv, l); err == nil {
		t.Error("Sign with exp == iat succeeded")
	}
}

func TestPublicKeyEncoding(t *testing.T) {
	got, err := ParsePublicKey(EncodePublicKey(testPub))
	if err != nil || !got.Equal(testPub) {
		t.Fatalf("ParsePublicKey(EncodePublicKey) = %v, %v", got, err)
	}
	if _, err := ParsePublicKey("AAAA"); err == nil {
		t.Error("short key accepted")
	}
	if KeyID(testPub) == "" || KeyID(testPub) == KeyID(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)) {
		t.Error("KeyID not distinct")
	}
}

// FuzzVerify feeds arbitrary tokens to Verify: it must never panic, and a
// token it accepts must carry a tenant and seat and re-verify identically.
func FuzzVerify(f *testing.F) {
	good, _ := Sign(testPriv, New("tid", "sk", "d", t0))
	f.Add(good)
	f.Add("v1..")
	f.Add("v1.e30.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		l, err := Verify(testPub, tok, t0.Add(time.Minute))
		if err != nil {
			return
		}
		if l.TenantID == "" || l.SeatKey == "" {
			t.Fatalf("accepted lease without tenant or seat: %+v", l)
		}
		again, err := Verify(testPub, tok, t0.Add(time.Minute))
		if err != nil || again != l {
			t.Fatalf("re-verify differs: %+v %v", again, err)
		}
	})
}
