package content

// DefaultFreshBytes holds a read-ahead window (32 MiB) for two streaming
// readers at once.
const DefaultFreshBytes = 64 << 20

// keepFreshLocked keeps a just downloaded block for its first reader,
// unless the cache's bound on such blocks is reached: then the reader
// reads it back from disk, as it would any cached block.
func (f *File) keepFreshLocked(idx int64, plain []byte) bool {
	if f.refs == 0 {
		return false
	}
	if f.c.fresh.Add(BlockSize) > f.c.freshMax {
		f.c.fresh.Add(-BlockSize)
		return false
	}
	if f.fresh == nil {
		f.fresh = map[int64][]byte{}
	}
	f.fresh[idx] = plain
	return true
}

// waitWriteLocked waits for block idx's disk write, if one is under way.
func (f *File) waitWriteLocked(idx int64) {
	if ch, ok := f.pending[idx]; ok {
		<-ch
		delete(f.pending, idx)
	}
}

// waitWritesLocked waits for every disk write under way.
func (f *File) waitWritesLocked() {
	for idx := range f.pending {
		f.waitWriteLocked(idx)
	}
}

func (f *File) forgetFreshLocked(idx int64) {
	if _, ok := f.fresh[idx]; ok {
		delete(f.fresh, idx)
		f.c.fresh.Add(-BlockSize)
	}
}

func (f *File) dropFreshLocked() {
	f.c.fresh.Add(-int64(len(f.fresh)) * BlockSize)
	f.fresh = nil
}
