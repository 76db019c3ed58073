//go:build fuse3

package fusefs

// libfuse3 reports whether cgofuse was built for libfuse 3 (the fuse3
// build tag): cgofuse then loads libfuse3.so.3 on Linux.
const libfuse3 = true
