//go:build fuse3

package mountdriver

// The FUSE library cgofuse dlopens on Linux when built with the fuse3 tag
// (host_cgo.go, FUSE_USE_VERSION 39), as the Makefile and the release
// build do, and the Debian packages that provide it: fuse3 brings
// fusermount3, which mounts for a user who is not root.
const (
	linuxLibfuse  = "libfuse3.so.3"
	linuxPackages = "fuse3 libfuse3-3"
)
