package token

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestSignVerifyAndPersistence(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	raw, err := k1.Sign(jwt.MapClaims{"oid": "x", "exp": now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k2.KID() != k1.KID() {
		t.Fatalf("kid changed across restart: %s vs %s", k1.KID(), k2.KID())
	}
	c, err := k2.Verify(raw, now)
	if err != nil || c["oid"] != "x" {
		t.Fatalf("Verify = %v, %v", c, err)
	}
	if _, err := k2.Verify(raw, now.Add(2*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("Verify after exp = %v, want ErrExpired", err)
	}
	other, _ := NewEphemeral()
	forged, _ := other.Sign(jwt.MapClaims{"oid": "x", "exp": now.Add(time.Hour).Unix()})
	if _, err := k1.Verify(forged, now); err == nil {
		t.Error("a token from another key must not verify")
	}
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"oid": "x"})
	none.Header["kid"] = k1.KID()
	s, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if _, err := k1.Verify(s, now); err == nil {
		t.Error("alg none must not verify")
	}
}

func TestJWKSShape(t *testing.T) {
	k, _ := NewEphemeral()
	var doc struct{ Keys []JWK }
	if err := json.Unmarshal(k.JWKS("https://h/{tenantid}/v2.0"), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 || doc.Keys[0].Kid != k.KID() || doc.Keys[0].E != "AQAB" || doc.Keys[0].Issuer == "" {
		t.Errorf("JWKS = %+v", doc)
	}
}
