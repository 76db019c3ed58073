package content

import "syscall"

// directIO opens data files of the aligned layout for direct I/O: blocks
// go between the cache's buffers and the disk without a copy in the page
// cache. The kernel already keeps what a reader reads (the mount's own
// page cache), and a second, dirty copy of every downloaded block cost as
// much CPU as the download and pushed other files out of memory.
const directIO = syscall.O_DIRECT
