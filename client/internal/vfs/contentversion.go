package vfs

import "strconv"

// ContentVersion identifies the content an open file holds, for a caller
// that caches it outside the vfs (the kernel's page cache behind FUSE):
// the remote content version and size the handle opened, and whether the
// content is exactly that version, with no local change pending. Two opens
// returning the same clean version hold the same bytes, so what was cached
// after the first is still right for the second.
func (h *Handle) ContentVersion() (version string, clean bool) {
	if h.file == nil {
		return "", false
	}
	e := h.file.Entry()
	if e.Dirty || e.Version == "" {
		return "", false
	}
	return e.Version + "/" + strconv.FormatInt(e.Size, 10), true
}
