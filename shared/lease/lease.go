// Package lease is the licence lease the service hands a validated client:
// a compact token signed with Ed25519 that the client verifies offline, so
// that a service outage does not stop users for the lease's lifetime.
//
// A token is "v1.<payload>.<signature>", both parts base64url without
// padding; the payload is JSON and the signature covers the bytes
// "v1.<payload>".
package lease

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultTTL is a lease's lifetime unless the issuer says otherwise.
const DefaultTTL = 7 * 24 * time.Hour

// MaxTokenLen bounds the size of a token Verify accepts.
const MaxTokenLen = 4096

// Skew is how far in the future a lease's issue time may be, to allow for
// clocks that disagree.
const Skew = 5 * time.Minute

const prefix = "v1."

// Errors returned by Verify; test with errors.Is.
var (
	ErrMalformed    = errors.New("lease: malformed token")
	ErrBadSignature = errors.New("lease: bad signature")
	ErrExpired      = errors.New("lease: expired")
	ErrNotYetValid  = errors.New("lease: issued in the future")
)

// Lease is what the service grants: the right of one seat of a tenant to
// use Mapdrive until ExpiresAt, with the mappings whose digest it holds.
type Lease struct {
	TenantID       string    // Entra tenant GUID
	SeatKey        string    // pseudonymous seat key (HMAC of tid|oid), never the UPN
	IssuedAt       time.Time // second precision
	ExpiresAt      time.Time // second precision
	MappingsDigest string    // apitype.MappingsDigest of the user's mappings
	// UserHash is UserHash(tid, oid) of the user the lease was granted to:
	// the client checks it against its signed-in account, which it cannot
	// do with the seat key (keyed by the service's secret).
	UserHash string
	// KeyID is KeyID of the key that signed the lease (set by Sign), so a
	// client pinning several keys knows which one to check it with.
	KeyID string
}

type payload struct {
	Tid string `json:"tid"`
	Sk  string `json:"sk"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Mdg string `json:"mdg"`
	Sub string `json:"sub,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// UserHash is the lease's binding to a user that the client can compute
// from its own signed-in account: base64url of SHA-256 over the
// lower-cased tenant and object ids. They are the user's own ids, in a
// file of the user's own; the hash only keeps them from being read off
// it at a glance.
func UserHash(tenantID, objectID string) string {
	sum := sha256.Sum256([]byte("mapdrive-lease-user\x00" + strings.ToLower(tenantID) + "\x00" + strings.ToLower(objectID)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// New returns a lease issued at now for DefaultTTL.
func New(tenantID, seatKey, mappingsDigest string, now time.Time) Lease {
	now = now.UTC().Truncate(time.Second)
	return Lease{TenantID: tenantID, SeatKey: seatKey, IssuedAt: now, ExpiresAt: now.Add(DefaultTTL), MappingsDigest: mappingsDigest}
}

// Sign returns the token for l signed with priv.
func Sign(priv ed25519.PrivateKey, l Lease) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("sign lease: private key has %d bytes", len(priv))
	}
	if l.TenantID == "" || l.SeatKey == "" {
		return "", errors.New("sign lease: tenant and seat key are required")
	}
	if !l.ExpiresAt.After(l.IssuedAt) {
		return "", errors.New("sign lease: expiry must follow issue time")
	}
	kid := KeyID(priv.Public().(ed25519.PublicKey))
	body, err := json.Marshal(payload{Tid: l.TenantID, Sk: l.SeatKey, Iat: l.IssuedAt.Unix(), Exp: l.ExpiresAt.Unix(), Mdg: l.MappingsDigest,
		Sub: l.UserHash, Kid: kid})
	if err != nil {
		return "", fmt.Errorf("sign lease: %w", err)
	}
	signed := prefix + base64.RawURLEncoding.EncodeToString(body)
	sig := ed25519.Sign(priv, []byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Verify checks token's signature with pub and its validity at now, and
// returns the lease. Errors wrap ErrMalformed, ErrBadSignature, ErrExpired
// or ErrNotYetValid.
func Verify(pub ed25519.PublicKey, token string, now time.Time) (Lease, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Lease{}, fmt.Errorf("verify lease: public key has %d bytes", len(pub))
	}
	if len(token) > MaxTokenLen || !strings.HasPrefix(token, prefix) {
		return Lease{}, ErrMalformed
	}
	dot := strings.LastIndexByte(token, '.')
	if dot < len(prefix) {
		return Lease{}, ErrMalformed
	}
	signed, sigText := token[:dot], token[dot+1:]
	bodyText := signed[len(prefix):]
	if strings.Contains(bodyText, ".") {
		return Lease{}, ErrMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Lease{}, ErrMalformed
	}
	body, err := base64.RawURLEncoding.DecodeString(bodyText)
	if err != nil {
		return Lease{}, ErrMalformed
	}
	if !ed25519.Verify(pub, []byte(signed), sig) {
		return Lease{}, ErrBadSignature
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return Lease{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if p.Tid == "" || p.Sk == "" || p.Exp <= p.Iat {
		return Lease{}, fmt.Errorf("%w: missing fields", ErrMalformed)
	}
	l := Lease{TenantID: p.Tid, SeatKey: p.Sk, IssuedAt: time.Unix(p.Iat, 0).UTC(), ExpiresAt: time.Unix(p.Exp, 0).UTC(), MappingsDigest: p.Mdg,
		UserHash: p.Sub, KeyID: p.Kid}
	if !now.Before(l.ExpiresAt) {
		return l, fmt.Errorf("%w at %s", ErrExpired, l.ExpiresAt.Format(time.RFC3339))
	}
	if l.IssuedAt.After(now.Add(Skew)) {
		return l, ErrNotYetValid
	}
	return l, nil
}

// ErrUnknownKey means a lease was signed by none of the trusted keys.
var ErrUnknownKey = errors.New("lease: signed by a key that is not trusted")

// VerifyAny is Verify with a set of trusted keys (pinned while the
// service's key is rotated): the lease's key id picks the key; a lease
// without one is tried against each.
func VerifyAny(keys []ed25519.PublicKey, token string, now time.Time) (Lease, error) {
	var err error = ErrUnknownKey
	kid := TokenKeyID(token)
	for _, k := range keys {
		if kid != "" && KeyID(k) != kid {
			continue
		}
		var l Lease
		if l, err = Verify(k, token, now); !errors.Is(err, ErrBadSignature) {
			return l, err
		}
	}
	return Lease{}, err
}

// TokenKeyID reads the kid of token's payload without verifying it ("" if
// there is none or the token is malformed; Verify then says why). It is
// for choosing a key and for messages, never for trust.
func TokenKeyID(token string) string {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok || len(token) > MaxTokenLen {
		return ""
	}
	bodyText, _, _ := strings.Cut(rest, ".")
	body, err := base64.RawURLEncoding.DecodeString(bodyText)
	if err != nil {
		return ""
	}
	var p payload
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return p.Kid
}

// KeyID is a short, stable identifier of a public key, for pinning and
// display: base64url of the first 12 bytes of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// EncodePublicKey returns pub as base64url without padding, the form the
// service publishes and the client pins.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.RawURLEncoding.EncodeToString(pub)
}

// ParsePublicKey decodes a key written by EncodePublicKey.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("parse lease public key: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("parse lease public key: %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
