package agent

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/config"
	"github.com/mapdrive/mapdrive/client/internal/keyring"
)

func TestAccountIDNamesNoUser(t *testing.T) {
	a := Account{Username: "alice@contoso.com", TenantID: "t-1", UserID: "o-1"}
	id := accountID(a)
	if len(id) != 32 || strings.Contains(id, "alice") || strings.Contains(id, "t-1") || strings.Contains(id, "o-1") {
		t.Errorf("accountID = %q, want 32 hex digits naming nobody", id)
	}
	b := a
	b.Username = "renamed@contoso.com"
	if accountID(b) != id {
		t.Error("accountID changes with the UPN; want tenant and object ids only")
	}
	for _, o := range []Account{{TenantID: "t-1", UserID: "o-2"}, {TenantID: "t-2", UserID: "o-1"}, {TenantID: "t-1\x00o", UserID: "-1"}} {
		if accountID(o) == id {
			t.Errorf("accountID(%+v) = accountID(%+v)", o, a)
		}
	}
}

// TestAdoptLegacyCache: an older version's single cache and key become
// the signing-in account's, so its pending uploads are not lost.
func TestAdoptLegacyCache(t *testing.T) {
	dir := t.TempDir()
	secrets := keyring.New(keyring.WithBackend(keyring.NewMemory()))
	a := &Agent{o: Options{Config: config.Config{CacheDir: dir}, Secrets: secrets}, log: slog.New(slog.DiscardHandler)}
	old := filepath.Join(dir, "drives", "b_drive", "meta")
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "meta.db"), []byte("journal"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	if err := secrets.Set(legacyCacheKeyName, key); err != nil {
		t.Fatal(err)
	}
	aid := accountID(Account{TenantID: "t", UserID: "o"})
	a.adoptLegacy(aid)
	if got, err := os.ReadFile(filepath.Join(a.driveDir(aid, "b_drive"), "meta", "meta.db")); err != nil || string(got) != "journal" {
		t.Errorf("adopted journal = %q, %v; want the old one", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "drives")); !os.IsNotExist(err) {
		t.Errorf("old layout after adoption: %v, want it moved", err)
	}
	if got, err := secrets.Get(cacheKeyName(aid)); err != nil || !bytes.Equal(got, key) {
		t.Errorf("account key = %x, %v; want the old key", got, err)
	}
	if _, err := secrets.Get(legacyCacheKeyName); err == nil {
		t.Error("the old key is still in the keyring")
	}
}
