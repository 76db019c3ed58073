//go:build !fuse3

package fusefs

// libfuse3 reports whether cgofuse was built for libfuse 3 (the fuse3
// build tag). Without the tag, Linux loads libfuse.so.2; the Makefile and
// scripts build Linux with the tag (readdirplus, 1 MiB reads and writes).
const libfuse3 = false

// ioSize is the st_blksize files report: cp and cat size their buffers by
// it, and libfuse 2 passes reads and writes of at most 128 KiB, so
// a larger buffer means fewer round trips through the kernel.
const ioSize = 128 << 10
