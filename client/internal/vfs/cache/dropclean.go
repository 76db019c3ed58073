package cache

import (
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// DropClean keeps only what a drive's upload journal still needs, for a
// drive whose changes are kept at sign-out: every cached file without
// local changes, and the first bytes kept of each, are deleted, and the
// metadata store is rewritten compactly, so the pages that held what was
// deleted (and any session URL stored in clear by an older version) are
// not left in the file. stateDir holds meta.db and contentDir the
// encrypted blocks; key is the drive's cache key. It returns how many
// cached files it deleted.
func DropClean(stateDir, contentDir string, key []byte) (int, error) {
	st, err := OpenStore(stateDir)
	if err != nil {
		return 0, err
	}
	c, err := OpenContent(ContentOptions{Dir: contentDir, Store: st, Key: key})
	if err != nil {
		st.Close()
		return 0, err
	}
	n := 0
	var failed error
	for _, k := range c.Keys() {
		if _, dirty := c.DirtySize(k); dirty {
			continue
		}
		if err := c.Remove(k); err != nil {
			failed = fmt.Errorf("delete cached content: %w", err)
			continue
		}
		n++
	}
	err = st.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHeads).ForEach(func(k, _ []byte) error {
			if _, dirty := c.DirtySize(string(k)); dirty {
				return nil
			}
			return tx.Bucket(bucketHeads).Delete(k)
		})
	})
	if err != nil && failed == nil {
		failed = fmt.Errorf("delete cached first bytes: %w", err)
	}
	if err := c.Close(); err != nil && failed == nil {
		failed = err
	}
	if err := compactStore(st); err != nil && failed == nil {
		failed = err
	}
	return n, failed
}

// compactStore rewrites st's database into a fresh file and closes it:
// bbolt reuses freed pages but never clears them.
func compactStore(st *Store) error {
	path := st.Path()
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, nil)
	if err != nil {
		st.Close()
		return fmt.Errorf("compact %s: %w", filepath.Base(path), err)
	}
	err = bolt.Compact(dst, st.db, 1<<20)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("compact %s: %w", filepath.Base(path), err)
	}
	return nil
}
