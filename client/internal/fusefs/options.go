package fusefs

import (
	"strings"
	"unicode/utf8"

	"github.com/winfsp/cgofuse/fuse"
)

// mountArgs builds the command line cgofuse hands to the FUSE library of
// goos (runtime.GOOS in Mount); fuse3 says the binary links libfuse 3
// (libfuse3 in Mount). One OS-neutral function, so the options of every
// platform are unit-tested on any of them.
func mountArgs(goos string, fuse3 bool, o Options, readOnly bool) []string {
	var args []string
	switch goos {
	case "windows":
		args = windowsArgs(o)
	case "darwin":
		opts := []string{"fsname=mapdrive", "volname=" + optValue(o.VolumeName), "noappledouble", "noapplexattr"}
		if readOnly {
			opts = append(opts, "rdonly")
		}
		if o.AllowOther {
			opts = append(opts, "allow_other")
		}
		args = []string{"-o", strings.Join(opts, ",")}
	default:
		// libfuse 2 needs big_writes for writes larger than 4 KiB, and its
		// reads stop at 128 KiB however large max_read is. libfuse 3 writes
		// and reads up to 1 MiB (max_pages) unasked, refuses big_writes,
		// and refuses a max_read that its init did not also set. Its
		// max_idle_threads only quiets 3.14's warning about an unset value.
		opts := []string{"fsname=mapdrive", "subtype=mapdrive", "big_writes", "max_read=131072"}
		if fuse3 {
			opts = []string{"fsname=mapdrive", "subtype=mapdrive", "max_idle_threads=10"}
		}
		opts = append(opts, "attr_timeout=1", "entry_timeout=1", "negative_timeout=0")
		if readOnly {
			opts = append(opts, "ro")
		}
		if o.AllowOther {
			opts = append(opts, "allow_other")
		}
		args = []string{"-o", strings.Join(opts, ",")}
	}
	if o.Debug {
		args = append(args, "-d")
	}
	return args
}

// windowsArgs are WinFsp-FUSE's options (its fsp_fuse_core_opts):
//   - uid=-1,gid=-1: files belong to the mounting user. WinFsp turns the
//     owner, group and other bits into an ACL whose "other" is Everyone,
//     so the modes reported (fileMode) are owner-only.
//   - volname: the label Explorer shows, the mapping's name (WinFsp keeps
//     at most 32 characters).
//   - FileSystemName: what "Properties" shows as the file system.
//   - VolumePrefix: a UNC prefix makes WinFsp create the volume on its
//     network device (WinFsp.Net), so Explorer lists the drive under
//     "Network locations" like a mapped share, not as a local disk.
//
// WinFsp has no "ro" option; a read-only library is refused by the vfs
// (EROFS, which WinFsp turns into access denied) and its files carry the
// read-only attribute (fileMode). The drive letter is defined in the
// mounting user's logon session only (WinFsp's DefineDosDevice without a
// Global\ prefix), so other users of the machine do not see it.
func windowsArgs(o Options) []string {
	label := optValue(o.VolumeName)
	if utf8.RuneCountInString(label) > 32 {
		label = string([]rune(label)[:32])
	}
	return []string{
		"-o", "uid=-1,gid=-1,volname=" + label + ",FileSystemName=Mapdrive",
		`--VolumePrefix=\mapdrive\` + shareName(o.VolumeName),
	}
}

// optValue makes s safe inside a comma separated -o list.
func optValue(s string) string {
	return strings.NewReplacer(",", " ", "\\", " ", "=", " ").Replace(s)
}

// shareName turns a mapping name into the share part of a UNC prefix:
// characters Windows forbids in a share name become "-".
func shareName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`"*:<>?/\|,=;[]+`, r) {
			return '-'
		}
		return r
	}, strings.TrimSpace(s))
	if s == "" {
		return "drive"
	}
	return s
}

// fileMode returns the mode and BSD flags reported for an item on goos.
// On Windows the permissions are owner-only (WinFsp maps "other" to
// Everyone: 0755 would grant every user of the machine read access in
// the ACL Explorer shows) and a read-only library's files carry
// UF_READONLY, which WinFsp reports as FILE_ATTRIBUTE_READONLY.
func fileMode(goos string, isDir, readOnly bool) (mode, flags uint32) {
	win := goos == "windows"
	switch {
	case isDir && win:
		mode = fuse.S_IFDIR | 0o700
	case isDir:
		mode = fuse.S_IFDIR | 0o755
	case win:
		mode = fuse.S_IFREG | 0o600
	default:
		mode = fuse.S_IFREG | 0o644
	}
	if readOnly {
		mode &^= 0o222
		if win && !isDir {
			flags = fuse.UF_READONLY
		}
	}
	return mode, flags
}
