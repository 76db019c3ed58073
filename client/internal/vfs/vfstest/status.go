package vfstest

import "github.com/mapdrive/mapdrive/client/internal/vfs"

// StatusCount counts the errors in fs's status at path whose message is
// msg, for tests of what the user is told.
func StatusCount(fs *vfs.FS, path, msg string) int {
	n := 0
	for _, e := range fs.Status().Errors {
		if e.Path == path && e.Err == msg {
			n++
		}
	}
	return n
}
