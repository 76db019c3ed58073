package agent

import (
	"path/filepath"
	"strings"
	"unicode"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// mountName turns a display name into a directory name.
func mountName(name string) string {
	name = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`/\:*?"<>|`, r) || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(name))
	if name == "" || name == "." || name == ".." {
		name = "drive"
	}
	return name
}

// defaultMountpointLocked is where a drive mounts unless told otherwise:
// MountRoot/<name> on Linux and macOS; the mapping's letter or the last
// free letter on Windows.
func (a *Agent) defaultMountpointLocked(d *drive) string {
	name := d.info.Name
	letter := ""
	if d.mapping != nil {
		if d.mapping.MountName != "" {
			name = d.mapping.MountName
		}
		letter = d.mapping.DriveLetter
	}
	used := map[string]bool{}
	for _, o := range a.st.drives {
		if o != d && o.info.Mountpoint != "" && (o.mount != nil || o.info.State == apitype.DriveMounting) {
			used[strings.ToUpper(o.info.Mountpoint)] = true
		}
	}
	return defaultMountpoint(a.st.settings.MountRoot, mountName(name), letter, used)
}

// samePath reports whether two mountpoints name the same place.
func samePath(a, b string) bool {
	if isDriveLetter(a) || isDriveLetter(b) {
		return strings.EqualFold(strings.TrimSuffix(a, `\`), strings.TrimSuffix(b, `\`))
	}
	return filepath.Clean(a) == filepath.Clean(b)
}

func cleanMountpoint(mp string) string {
	if isDriveLetter(mp) {
		return strings.ToUpper(mp[:1]) + ":"
	}
	if abs, err := filepath.Abs(mp); err == nil {
		return abs
	}
	return filepath.Clean(mp)
}

// isDriveLetter reports whether s is "X:" or "X:\".
func isDriveLetter(s string) bool {
	s = strings.TrimSuffix(s, `\`)
	return len(s) == 2 && s[1] == ':' && unicode.IsLetter(rune(s[0])) && s[0] < 0x80
}

// letterInUse reports whether the drive letter of mp ("X:") is set in
// mask, a GetLogicalDrives bit mask (bit 0 is A:).
func letterInUse(mask uint32, mp string) bool {
	c := strings.ToUpper(mp)[0]
	return mask&(1<<uint(c-'A')) != 0
}

// freeLetter picks the last letter from Z: down to D: that is neither in
// mask nor in used ("X:" keys, upper case); "" when none is free.
func freeLetter(mask uint32, used map[string]bool) string {
	for c := 'Z'; c >= 'D'; c-- {
		l := string(c) + ":"
		if mask&(1<<uint(c-'A')) == 0 && !used[l] {
			return l
		}
	}
	return ""
}
