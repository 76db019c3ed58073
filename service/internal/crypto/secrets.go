package crypto

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Secrets holds the keys derived from the server secret, which is shared
// by every replica (it is stored wrapped by the KEK in the database).
// Immutable; safe for concurrent use.
type Secrets struct {
	seat, index, actor []byte
	lease              ed25519.PrivateKey
}

// NewSecrets derives the service's keys from the server secret.
func NewSecrets(serverSecret []byte) (*Secrets, error) {
	if len(serverSecret) != KeySize {
		return nil, fmt.Errorf("server secret: %d bytes, want %d", len(serverSecret), KeySize)
	}
	derive := func(label string) ([]byte, error) {
		k, err := hkdf.Key(sha256.New, serverSecret, nil, "mapdrive/"+label, KeySize)
		if err != nil {
			return nil, fmt.Errorf("derive %s key: %w", label, err)
		}
		return k, nil
	}
	s := &Secrets{}
	var err error
	if s.seat, err = derive("seat-key/v1"); err != nil {
		return nil, err
	}
	if s.index, err = derive("blind-index/v1"); err != nil {
		return nil, err
	}
	if s.actor, err = derive("audit-actor/v1"); err != nil {
		return nil, err
	}
	seed, err := derive("lease-signing/v1")
	if err != nil {
		return nil, err
	}
	s.lease = ed25519.NewKeyFromSeed(seed)
	return s, nil
}

// mac is HMAC-SHA256 over the parts joined by '|', each part escaped
// ('\' as "\\", '|' as "\|") so that no two lists of parts give the same
// input: ("a|b","c") and ("a","b|c") differ. Parts without '|' or '\'
// (tenant and object ids, domains, group ids) are fed exactly as before the
// escaping was added, so stored seat keys and indexes stay valid.
func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for i, p := range parts {
		if i > 0 {
			m.Write([]byte{'|'})
		}
		if strings.ContainsAny(p, `|\`) {
			p = strings.NewReplacer(`\`, `\\`, `|`, `\|`).Replace(p)
		}
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// SeatKey is the pseudonymous key of a user's seat: HMAC-SHA256 of
// "tid|oid" under the seat key, base64url.
func (s *Secrets) SeatKey(tid, oid string) string {
	return base64.RawURLEncoding.EncodeToString(mac(s.seat, strings.ToLower(tid), strings.ToLower(oid)))
}

// Actor is the pseudonym of an admin in the audit log. It differs from the
// seat key so the two tables cannot be joined without the server secret.
func (s *Secrets) Actor(tid, oid string) string {
	return "actor-" + base64.RawURLEncoding.EncodeToString(mac(s.actor, strings.ToLower(tid), strings.ToLower(oid))[:12])
}

// BlindIndex returns the equality-lookup index of a value of the given
// purpose (e.g. "domain"; see TenantBlindIndex): HMAC-SHA256 over the
// normalized (trimmed, lower-cased) value with a key derived for blind
// indexes, hex-free base64url so it fits a short indexed column.
func (s *Secrets) BlindIndex(purpose, value string) string {
	return base64.RawURLEncoding.EncodeToString(mac(s.index, purpose, Normalize(value)))
}

// TenantBlindIndex is BlindIndex for a value scoped to one tenant (e.g.
// the group ids of a tenant's mapping assignments).
func (s *Secrets) TenantBlindIndex(purpose, tid, value string) string {
	return base64.RawURLEncoding.EncodeToString(mac(s.index, purpose, tid, Normalize(value)))
}

// Normalize is the form blind indexes are computed over.
func Normalize(v string) string { return strings.ToLower(strings.TrimSpace(v)) }

// LeaseKey is the Ed25519 key that signs licence leases.
func (s *Secrets) LeaseKey() ed25519.PrivateKey { return s.lease }
