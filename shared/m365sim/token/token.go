// Package token owns the simulator's token-signing key and the RS256 JWTs
// it issues and checks. The key is created once and kept in the data
// directory so that tokens and JWKS survive a restart.
package token

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Keys holds the signing key. Immutable after LoadKeys; safe for concurrent use.
type Keys struct {
	priv *rsa.PrivateKey
	kid  string
}

const keyFile = "signing-key.pem"

// LoadKeys loads the signing key from dataDir, creating it (0600) on first start.
func LoadKeys(dataDir string) (*Keys, error) {
	path := filepath.Join(dataDir, keyFile)
	data, err := os.ReadFile(path)
	var priv *rsa.PrivateKey
	switch {
	case err == nil:
		blk, _ := pem.Decode(data)
		if blk == nil {
			return nil, fmt.Errorf("read %s: not PEM", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: not an RSA key", path)
		}
		priv = rk
	case errors.Is(err, os.ErrNotExist):
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate signing key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return newKeys(priv), nil
}

// NewEphemeral returns keys that are never stored, for tests that need a
// second, unknown signer.
func NewEphemeral() (*Keys, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return newKeys(priv), nil
}

func newKeys(priv *rsa.PrivateKey) *Keys {
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	sum := sha256.Sum256(der)
	return &Keys{priv: priv, kid: base64.RawURLEncoding.EncodeToString(sum[:20])}
}

// KID is the key id put in every token header and in the JWKS.
func (k *Keys) KID() string { return k.kid }

// Public returns the verification key.
func (k *Keys) Public() *rsa.PublicKey { return &k.priv.PublicKey }

// JWK is one key of a JSON Web Key Set as Entra publishes it.
type JWK struct {
	Kty    string `json:"kty"`
	Use    string `json:"use"`
	Kid    string `json:"kid"`
	X5t    string `json:"x5t,omitempty"`
	N      string `json:"n"`
	E      string `json:"e"`
	Issuer string `json:"issuer,omitempty"`
}

// JWKS returns the key set document. issuer is the issuer the key may sign
// for; Entra's multi-tenant keys carry the "{tenantid}" template.
func (k *Keys) JWKS(issuer string) []byte {
	pub := k.priv.PublicKey
	doc := struct {
		Keys []JWK `json:"keys"`
	}{Keys: []JWK{{
		Kty: "RSA", Use: "sig", Kid: k.kid, X5t: k.kid,
		N:      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		Issuer: issuer,
	}}}
	out, _ := json.Marshal(doc)
	return out
}

// Sign returns an RS256 JWT of claims with this key's kid.
func (k *Keys) Sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = k.kid
	t.Header["x5t"] = k.kid
	s, err := t.SignedString(k.priv)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// ErrExpired is returned by Verify for a token past its exp.
var ErrExpired = errors.New("token expired")

// Verify checks an RS256 JWT signed by this key, including exp and nbf, and
// returns its claims.
func (k *Keys) Verify(raw string, now time.Time) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != k.kid {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return &k.priv.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithLeeway(0))
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, ErrExpired
		}
		return nil, fmt.Errorf("verify token: %w", err)
	}
	return claims, nil
}
