//go:build !fuse3

package fusefs

// libfuse3 reports whether cgofuse was built for libfuse 3 (the fuse3
// build tag). Without the tag, Linux loads libfuse.so.2; the Makefile and
// scripts build Linux with the tag (readdirplus, 1 MiB reads and writes).
const libfuse3 = false
