package crypto

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key, _ := NewKey()
	k1, err := NewDataKey(1, key)
	if err != nil {
		t.Fatal(err)
	}
	cell := Cell{Tenant: "t1", Table: "mappings", Column: "site_url", Row: "r1"}
	plain := []byte("https://contoso.sharepoint.com/sites/Finance")
	ct, err := k1.Seal(plain, cell)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, plain) || bytes.Contains(ct, []byte("contoso")) {
		t.Fatal("ciphertext contains plaintext")
	}
	ct2, _ := k1.Seal(plain, cell)
	if bytes.Equal(ct, ct2) {
		t.Error("two seals of one value are equal: nonce reuse")
	}
	got, err := k1.Open(ct, cell)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if v, _ := CiphertextVersion(ct); v != 1 {
		t.Errorf("CiphertextVersion = %d", v)
	}
	other, _ := NewKey()
	k1other, _ := NewDataKey(1, other)
	k2same, _ := NewDataKey(2, key)
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name string
		key  *DataKey
		ct   []byte
		cell Cell
	}{
		{"other tenant", k1, ct, Cell{"t2", "mappings", "site_url", "r1"}},
		{"other table", k1, ct, Cell{"t1", "tenants", "site_url", "r1"}},
		{"other column", k1, ct, Cell{"t1", "mappings", "library_name", "r1"}},
		{"other row", k1, ct, Cell{"t1", "mappings", "site_url", "r2"}},
		{"boundary shift", k1, ct, Cell{"t1m", "appings", "site_url", "r1"}},
		{"other key", k1other, ct, cell},
		{"other version", k2same, ct, cell},
		{"tampered", k1, tampered, cell},
		{"truncated", k1, ct[:10], cell},
		{"empty", k1, nil, cell},
	} {
		if _, err := tc.key.Open(tc.ct, tc.cell); err == nil {
			t.Errorf("%s: Open succeeded", tc.name)
		}
	}
}

func TestLocalKEK(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys", "kek.json")
	k, err := OpenLocalKEK(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", st.Mode().Perm())
	}
	dek, _ := NewKey()
	id1, w1, err := k.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(w1, dek) {
		t.Fatal("wrapped key contains the key")
	}
	if err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	id2, w2, _ := k.Wrap(ctx, dek)
	if id1 == id2 {
		t.Errorf("Rotate kept key id %s", id1)
	}
	// A fresh process loading the file unwraps both generations.
	k2, err := OpenLocalKEK(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id string
		w  []byte
	}{{id1, w1}, {id2, w2}} {
		got, err := k2.Unwrap(ctx, c.id, c.w)
		if err != nil || !bytes.Equal(got, dek) {
			t.Errorf("Unwrap(%s) = %x, %v", c.id, got, err)
		}
	}
	if _, err := k2.Unwrap(ctx, id1, w2); err == nil {
		t.Error("Unwrap with the wrong key id succeeded")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode after rotate = %v", st.Mode().Perm())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLocalKEK(path); err == nil {
		t.Error("OpenLocalKEK accepted a world-readable key file")
	}
}

func TestSecrets(t *testing.T) {
	s1, err := NewSecrets(bytes.Repeat([]byte{1}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := NewSecrets(bytes.Repeat([]byte{2}, KeySize))
	if s1.SeatKey("t", "o") == s2.SeatKey("t", "o") {
		t.Error("seat key ignores the server secret")
	}
	if s1.SeatKey("t", "o") != s1.SeatKey("T", "O") {
		t.Error("seat key is case sensitive")
	}
	if s1.SeatKey("t", "o1") == s1.SeatKey("t", "o2") || s1.SeatKey("t|o", "") == s1.SeatKey("t", "|o") ||
		s1.SeatKey(`t\`, "|o") == s1.SeatKey("t", `\|o`) || s1.SeatKey("a|b", "c") == s1.SeatKey("a", "b|c") {
		t.Error("seat keys collide")
	}
	if s1.TenantBlindIndex("group", "t", "v") == s1.BlindIndex("group", "t|v") || s1.TenantBlindIndex("group", "t|x", "v") == s1.TenantBlindIndex("group", "t", "x|v") {
		t.Error("blind indexes collide")
	}
	// Keys stored before the escaping stay valid: parts without '|' or
	// '\' are MACed as they always were, joined by '|'.
	old := hmac.New(sha256.New, s1.seat)
	old.Write([]byte("11111111-2222-3333-4444-555555555555|aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"))
	if got := s1.SeatKey("11111111-2222-3333-4444-555555555555", "AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee"); got != base64.RawURLEncoding.EncodeToString(old.Sum(nil)) {
		t.Errorf("seat key of GUIDs changed: %s", got)
	}
	oldIdx := hmac.New(sha256.New, s1.index)
	oldIdx.Write([]byte("group|t1|g1"))
	if got := s1.TenantBlindIndex("group", "t1", "G1"); got != base64.RawURLEncoding.EncodeToString(oldIdx.Sum(nil)) {
		t.Errorf("group index changed: %s", got)
	}
	if s1.BlindIndex("domain", " Contoso.COM ") != s1.BlindIndex("domain", "contoso.com") {
		t.Error("blind index does not normalize")
	}
	if s1.BlindIndex("domain", "contoso.com") == s1.BlindIndex("group|t", "contoso.com") {
		t.Error("blind index ignores purpose")
	}
	if s1.Actor("t", "o") == s1.SeatKey("t", "o") {
		t.Error("actor pseudonym equals seat key")
	}
	if !bytes.Equal(s1.LeaseKey(), must(NewSecrets(bytes.Repeat([]byte{1}, KeySize))).LeaseKey()) {
		t.Error("lease key not deterministic")
	}
	if _, err := NewSecrets([]byte("short")); err == nil {
		t.Error("short secret accepted")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

var _ = errors.Is
