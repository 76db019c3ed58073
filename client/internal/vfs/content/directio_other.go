//go:build !linux

package content

// directIO is 0: the data files go through the page cache. (Windows needs
// FILE_FLAG_NO_BUFFERING at CreateFile and macOS F_NOCACHE; neither has
// been measured.)
const directIO = 0
