package meta

// The content cache keeps its per-file entries and its header cache here,
// as bytes meta does not interpret, so that an entry is written in the
// same transaction as the record or job it goes with.

// ForEachEntry calls fn with every content entry. raw is valid only
// during the call.
func (t *Tx) ForEachEntry(fn func(key string, raw []byte) error) error {
	return t.tx.Bucket(bucketEntries).ForEach(func(k, v []byte) error { return fn(string(k), v) })
}

// PutEntry stores key's content entry.
func (t *Tx) PutEntry(key string, raw []byte) error {
	return t.tx.Bucket(bucketEntries).Put([]byte(key), raw)
}

// DeleteEntry deletes key's content entry, if any.
func (t *Tx) DeleteEntry(key string) error {
	return t.tx.Bucket(bucketEntries).Delete([]byte(key))
}

// Head returns a copy of key's stored header bytes, or nil.
func (t *Tx) Head(key string) []byte {
	if v := t.tx.Bucket(bucketHeads).Get([]byte(key)); v != nil {
		return append([]byte(nil), v...)
	}
	return nil
}

// PutHead stores key's header bytes. When max headers are stored already,
// the first by key is dropped to make room: the header cache is a hint.
func (t *Tx) PutHead(key string, sealed []byte, max int) error {
	b := t.tx.Bucket(bucketHeads)
	if b.Stats().KeyN >= max {
		if k, _ := b.Cursor().First(); k != nil {
			_ = b.Delete(k)
		}
	}
	return b.Put([]byte(key), sealed)
}

// DeleteHead deletes key's header bytes, if any.
func (t *Tx) DeleteHead(key string) error {
	return t.tx.Bucket(bucketHeads).Delete([]byte(key))
}

// DeleteHeads deletes the header bytes of every key drop reports true for.
func (t *Tx) DeleteHeads(drop func(key string) bool) error {
	b := t.tx.Bucket(bucketHeads)
	return b.ForEach(func(k, _ []byte) error {
		if !drop(string(k)) {
			return nil
		}
		return b.Delete(k)
	})
}
