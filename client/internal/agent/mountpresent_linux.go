package agent

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// mountPresent reports whether something is mounted at mp, from the
// kernel's mount table (no file system call reaches the mount itself, so
// a hung FUSE server cannot block it). An unreadable table counts as
// mounted, the safe answer.
func mountPresent(mp string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return true
	}
	defer f.Close()
	want := resolveParent(mp)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if unescapeMountinfo(fields[4]) == want {
			return true
		}
	}
	return sc.Err() != nil
}

// resolveParent makes mp absolute and resolves symlinks in its parent
// (not in mp itself, which would stat the mount).
func resolveParent(mp string) string {
	if abs, err := filepath.Abs(mp); err == nil {
		mp = abs
	}
	mp = filepath.Clean(mp)
	if dir, err := filepath.EvalSymlinks(filepath.Dir(mp)); err == nil {
		return filepath.Join(dir, filepath.Base(mp))
	}
	return mp
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space,
// \011, \012, \134) in a mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
