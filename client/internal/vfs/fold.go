package vfs

import (
	"errors"
	"strings"

	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// CaseInsensitive reports whether names are looked up ignoring case
// (Options.CaseInsensitive): the mount must then say so to the OS.
func (fs *FS) CaseInsensitive() bool { return fs.opt.CaseInsensitive }

// lookup finds name in folder parentKey. Names are stored with the case
// they were created with (case-preserving); on a case-insensitive FS a
// name differing only in case finds the item too, as NTFS and SharePoint
// do. Windows sends the case the user typed (WinFsp passes it through),
// so the fold happens here, after the exact match missed.
func (fs *FS) lookup(tx *meta.Tx, parentKey, name string) (meta.Record, error) {
	r, err := tx.Child(parentKey, name)
	if err == nil || !fs.opt.CaseInsensitive || !errors.Is(err, meta.ErrNotFound) {
		return r, err
	}
	kids, kerr := tx.Children(parentKey)
	if kerr != nil {
		return r, kerr
	}
	for _, k := range kids {
		if strings.EqualFold(k.Name, name) {
			return k, nil
		}
	}
	return r, err
}
