package meta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Compact rewrites s's database into a fresh file and closes s:
// bbolt reuses freed pages but never clears them.
func (s *Store) Compact() error {
	path := s.Path()
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, nil)
	if err != nil {
		s.Close()
		return fmt.Errorf("compact %s: %w", filepath.Base(path), err)
	}
	err = bolt.Compact(dst, s.db, 1<<20)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if cerr := s.Close(); err == nil {
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

// PruneForJournal deletes every record that is neither a job's item nor
// a folder above one, the pins, and the delta token. Kept folders are
// marked never listed.
func (t *Tx) PruneForJournal() error {
	keep := map[string]bool{}
	err := t.tx.Bucket(bucketJobs).ForEach(func(k, _ []byte) error {
		for key := string(k); key != "" && !keep[key]; {
			r, err := t.Get(key)
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
	err = t.ForEach(func(r Record) error {
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
		if err := t.Delete(k); err != nil {
			return err
		}
	}
	for _, r := range folders {
		r.ListedAt = time.Time{}
		if err := t.Put(r); err != nil {
			return err
		}
	}
	if err := t.tx.DeleteBucket(bucketPins); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return err
	}
	if _, err := t.tx.CreateBucket(bucketPins); err != nil {
		return err
	}
	return t.SetKV(KVDeltaToken, "")
}
