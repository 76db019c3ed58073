package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mapdrive/mapdrive/client/internal/keyring"
	"github.com/mapdrive/mapdrive/client/internal/vfs/content"
	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// Each account's drive caches and journals live apart, under
// <cache dir>/accounts/<account id>/drives/<drive id>, encrypted under the
// account's own key in the OS keyring ("cache-key-<account id>"). The
// account id is a hash of the tenant and object ids, so the folder names
// no user; another account signed in on this computer never opens the
// first one's journal, even for a drive both can reach.
//
// Sign-out (Logout) wipes the account's folder and key, except the
// drives whose journal still holds changes not uploaded: those stay,
// encrypted and their upload-session URLs sealed, and are sent when the
// same account signs in again (drainUnmounted).

// accountID is the non-reversible folder and key name of an account:
// hex of SHA-256 over its tenant and object ids, cut to 128 bits.
func accountID(acct Account) string {
	sum := sha256.Sum256([]byte("mapdrive-account-v1\x00" + acct.TenantID + "\x00" + acct.UserID))
	return hex.EncodeToString(sum[:16])
}

// accountDir is where account aid's drives are cached.
func (a *Agent) accountDir(aid string) string {
	return filepath.Join(a.o.Config.CacheDir, "accounts", aid)
}

// driveDir is where account aid caches drive driveID.
func (a *Agent) driveDir(aid, driveID string) string {
	return filepath.Join(a.accountDir(aid), "drives", safeName(driveID))
}

// cacheKeyName is the keyring entry of account aid's cache key.
func cacheKeyName(aid string) string { return "cache-key-" + aid }

// CacheKeyName is the keyring entry of acct's cache key (the system test
// reads it to look for the key on disk).
func CacheKeyName(acct Account) string { return cacheKeyName(accountID(acct)) }

// legacyCacheKeyName is the one cache key of versions before accounts
// were kept apart; their caches sit under <cache dir>/drives.
const legacyCacheKeyName = "cache-key"

// adoptLegacy moves the single-account layout of an older version under
// account aid, with its key: that is what the older version did with it
// (it kept one cache for whoever signed in), and it may hold changes not
// uploaded yet. Nothing is deleted: on any doubt the old layout stays.
func (a *Agent) adoptLegacy(aid string) {
	old := filepath.Join(a.o.Config.CacheDir, "drives")
	if a.o.Config.CacheDir == "" || a.o.Secrets == nil {
		return
	}
	if _, err := os.Stat(old); err != nil {
		return
	}
	dst := filepath.Join(a.accountDir(aid), "drives")
	if _, err := os.Stat(dst); err == nil {
		a.log.Warn("a cache of an older version is left in place: this account has a cache already", "dir", old)
		return
	}
	key, err := a.o.Secrets.Get(legacyCacheKeyName)
	switch {
	case err == nil:
		if err := a.o.Secrets.Set(cacheKeyName(aid), key); err != nil {
			a.log.Warn("could not move the cache key of an older version", "err", err)
			return
		}
	case errors.Is(err, keyring.ErrNotFound):
		// Without its key the old cache cannot be read; the move still
		// takes it out of the way and the sign-out wipe will remove it.
	default:
		a.log.Warn("could not read the cache key of an older version", "err", err)
		return
	}
	if err := os.MkdirAll(a.accountDir(aid), 0o700); err != nil {
		a.log.Warn("could not move the cache of an older version", "err", err)
		return
	}
	if err := os.Rename(old, dst); err != nil {
		a.log.Warn("could not move the cache of an older version", "err", err)
		return
	}
	if err := a.o.Secrets.Delete(legacyCacheKeyName); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		a.log.Warn("could not delete the cache key of an older version", "err", err)
	}
	a.log.Info("moved the cache of an older version under the signed-in account")
}

// wipeAccount deletes account aid's cached drives, except those in busy
// (still mounted) and those whose journal holds changes not uploaded. It
// deletes the account's key when nothing is kept. It returns the number
// of changes kept.
func (a *Agent) wipeAccount(aid string, busy map[string]bool) (int, error) {
	if a.o.Config.CacheDir == "" {
		return 0, nil
	}
	root := filepath.Join(a.accountDir(aid), "drives")
	ents, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("list the account's cache: %w", err)
	}
	kept, keptDrives := 0, 0
	var failed error
	for _, e := range ents {
		dir := filepath.Join(root, e.Name())
		if busy[e.Name()] {
			keptDrives++
			continue
		}
		n, err := meta.PendingJobs(filepath.Join(dir, "meta"))
		if err != nil {
			// Unreadable: it may hold changes, so it stays.
			a.log.Warn("could not read a drive's journal at sign-out; keeping its cache", "drive", e.Name(), "err", err)
			keptDrives++
			continue
		}
		if n > 0 {
			kept += n
			keptDrives++
			// Only the pending changes stay: the clean cached files go,
			// and the store is rewritten without what was deleted.
			if a.o.Secrets == nil {
				continue
			}
			if key, err := a.o.Secrets.Get(cacheKeyName(aid)); err != nil {
				a.log.Warn("could not read the cache key at sign-out; the drive's clean cached files stay until the next sign-in", "drive", e.Name(), "err", err)
			} else if _, err := content.DropClean(filepath.Join(dir, "meta"), filepath.Join(dir, "content"), key); err != nil {
				a.log.Warn("could not drop the clean cached files of a drive kept at sign-out", "drive", e.Name(), "err", err)
			}
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			failed = fmt.Errorf("delete a drive's cache: %w", err)
		}
	}
	if keptDrives > 0 || failed != nil {
		return kept, failed
	}
	if err := os.RemoveAll(a.accountDir(aid)); err != nil {
		return kept, fmt.Errorf("delete the account's cache: %w", err)
	}
	if a.o.Secrets != nil {
		if err := a.o.Secrets.Delete(cacheKeyName(aid)); err != nil && !errors.Is(err, keyring.ErrNotFound) {
			return kept, fmt.Errorf("%w: delete the cache key: %w", ErrKeyringUnavailable, err)
		}
	}
	return kept, nil
}

// forgetAccountState deletes what the state folder holds of the account
// that signs out: the drives it resolved (their names) and the drives it
// mounted by hand.
func (a *Agent) forgetAccountState() {
	if a.o.Config.StateDir == "" {
		return
	}
	a.rememberMu.Lock()
	defer a.rememberMu.Unlock()
	for _, p := range []string{a.knownPath(), a.rememberedPath()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			a.log.Warn("could not delete the account's drive list", "err", err)
		}
	}
}
