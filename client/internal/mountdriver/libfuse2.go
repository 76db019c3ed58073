//go:build !fuse3

package mountdriver

// The FUSE library cgofuse dlopens on Linux when built without the fuse3
// tag (host_cgo.go, FUSE_USE_VERSION < 30), and the Debian packages that
// provide it.
const (
	linuxLibfuse  = "libfuse.so.2"
	linuxPackages = "fuse libfuse2"
)
