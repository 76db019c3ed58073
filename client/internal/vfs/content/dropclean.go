package content

import (
	"fmt"

	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
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
	st, err := meta.OpenStore(stateDir)
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
	err = st.Update(func(tx *meta.Tx) error {
		return tx.DeleteHeads(func(k string) bool {
			_, dirty := c.DirtySize(k)
			return !dirty
		})
	})
	if err != nil && failed == nil {
		failed = fmt.Errorf("delete cached first bytes: %w", err)
	}
	if err := c.Close(); err != nil && failed == nil {
		failed = err
	}
	if err := st.Update((*meta.Tx).PruneForJournal); err != nil && failed == nil {
		failed = fmt.Errorf("delete the records the journal does not need: %w", err)
	}
	if err := st.Compact(); err != nil && failed == nil {
		failed = err
	}
	return n, failed
}
