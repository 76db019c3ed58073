package content

// Entry.Present is the presence bitmap: bit idx%8 of byte idx/8 is set
// when block idx is in the data file. It is persisted with the entry.

// has reports whether block idx is present.
func (e *Entry) has(idx int64) bool {
	i := idx / 8
	return i < int64(len(e.Present)) && e.Present[i]&(1<<(idx%8)) != 0
}

// set marks block idx present or absent, growing the bitmap as needed.
func (e *Entry) set(idx int64, on bool) {
	i := idx / 8
	for int64(len(e.Present)) <= i {
		e.Present = append(e.Present, 0)
	}
	if on {
		e.Present[i] |= 1 << (idx % 8)
	} else {
		e.Present[i] &^= 1 << (idx % 8)
	}
}

// count returns how many blocks are present.
func (e *Entry) count() int64 {
	var n int64
	for _, b := range e.Present {
		for ; b != 0; b &= b - 1 {
			n++
		}
	}
	return n
}
