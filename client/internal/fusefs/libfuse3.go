//go:build fuse3

package fusefs

// libfuse3 reports whether cgofuse was built for libfuse 3 (the fuse3
// build tag): cgofuse then loads libfuse3.so.3 on Linux.
const libfuse3 = true

// ioSize is the st_blksize files report: cp and cat size their buffers by
// it, and libfuse 3 passes writes of up to 1 MiB (max_pages 256), so
// a larger buffer means fewer round trips through the kernel.
const ioSize = 1 << 20
