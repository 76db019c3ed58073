package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DropClean keeps only what a drive's upload journal still needs, for a
// drive whose changes are kept at sign-out: every cached file without
// local changes, and the first bytes kept of each, are deleted; so are
// the records of every item that is neither a job's nor a folder above
// one (names included), the pins and the delta token (the next mount
// enumerates the drive again); and the metadata store is rewritten
// compactly, so the pages that held what was
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
	if err := st.Update(pruneForJournal); err != nil && failed == nil {
		failed = fmt.Errorf("delete the records the journal does not need: %w", err)
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

// KVDeltaToken names the delta token in the store's settings. DropClean
// forgets it with the records it deletes, so the drive is enumerated
// afresh at its next mount.
const KVDeltaToken = "deltaToken"

// pruneForJournal deletes every record that is neither a job's item nor
// a folder above one, the pins, and the delta token. Kept folders are
// marked never listed.
func pruneForJournal(tx *Tx) error {
	keep := map[string]bool{}
	err := tx.tx.Bucket(bucketJobs).ForEach(func(k, _ []byte) error {
		for key := string(k); key != "" && !keep[key]; {
			r, err := tx.Get(key)
			if err != nil {
				break // a delete's job: its record is gone already
			}
			keep[key] = true
			key = r.ParentKey
		}
		return nil
	})
	if err != nil {
		return err
	}
	var drop []string
	var folders []Record
	err = tx.ForEach(func(r Record) error {
		switch {
		case !keep[r.Key]:
			drop = append(drop, r.Key)
		case r.IsDir:
			folders = append(folders, r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range drop {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	for _, r := range folders {
		r.ListedAt = time.Time{}
		if err := tx.Put(r); err != nil {
			return err
		}
	}
	if err := tx.tx.DeleteBucket(bucketPins); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return err
	}
	if _, err := tx.tx.CreateBucket(bucketPins); err != nil {
		return err
	}
	return tx.SetKV(KVDeltaToken, "")
}
