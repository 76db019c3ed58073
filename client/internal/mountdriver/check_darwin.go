package mountdriver

import (
	"errors"
	"fmt"
	"os"
)

// dylibs are the libraries cgofuse dlopens on macOS, in its order
// (host_cgo.go): macFUSE 4, older macFUSE/OSXFuse, FUSE-T.
var dylibs = []string{"/usr/local/lib/libfuse.2.dylib", "/usr/local/lib/libosxfuse.2.dylib", "/usr/local/lib/libfuse-t.dylib"}

func check() (Presence, error) {
	for _, p := range dylibs {
		_, err := os.Stat(p)
		if err == nil {
			return Installed, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return Unknown, fmt.Errorf("look for %s: %w", p, err)
		}
	}
	return Missing, nil
}
