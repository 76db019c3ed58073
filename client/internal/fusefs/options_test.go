package fusefs

// The mount options and modes of every platform, built on any of them:
// WinFsp cannot run here, so what it is told is checked as data.

import (
	"slices"
	"testing"

	"github.com/winfsp/cgofuse/fuse"
)

func TestMountArgsWindows(t *testing.T) {
	got := mountArgs("windows", false, Options{VolumeName: "Finance"}, false)
	want := []string{"-o", "uid=-1,gid=-1,volname=Finance,FileSystemName=Mapdrive", `--VolumePrefix=\mapdrive\Finance`}
	if !slices.Equal(got, want) {
		t.Errorf("mountArgs(windows) =\n %q\nwant\n %q", got, want)
	}
	// WinFsp has no ro option: a read-only library is shown through the
	// file attributes instead.
	if ro := mountArgs("windows", false, Options{VolumeName: "Finance"}, true); !slices.Equal(ro, want) {
		t.Errorf("read-only mountArgs(windows) = %q, want %q", ro, want)
	}
	// A name with option separators and characters no share name may hold.
	got = mountArgs("windows", false, Options{VolumeName: `Sales, EMEA/UK: a very long library name`, Debug: true}, false)
	want = []string{"-o", "uid=-1,gid=-1,volname=Sales  EMEA/UK: a very long libr,FileSystemName=Mapdrive",
		`--VolumePrefix=\mapdrive\Sales- EMEA-UK- a very long library name`, "-d"}
	if !slices.Equal(got, want) {
		t.Errorf("mountArgs(windows, odd name) =\n %q\nwant\n %q", got, want)
	}
}

func TestMountArgsLinuxAndMac(t *testing.T) {
	for _, tc := range []struct {
		goos     string
		fuse3    bool
		o        Options
		readOnly bool
		want     []string
	}{
		{"linux", false, Options{}, false, []string{"-o", "fsname=mapdrive,subtype=mapdrive,big_writes,max_read=131072,attr_timeout=1,entry_timeout=1,negative_timeout=0"}},
		{"linux", false, Options{AllowOther: true}, true, []string{"-o", "fsname=mapdrive,subtype=mapdrive,big_writes,max_read=131072,attr_timeout=1,entry_timeout=1,negative_timeout=0,ro,allow_other"}},
		{"linux", true, Options{}, false, []string{"-o", "fsname=mapdrive,subtype=mapdrive,max_idle_threads=10,attr_timeout=1,entry_timeout=1,negative_timeout=0"}},
		{"linux", true, Options{AllowOther: true}, true, []string{"-o", "fsname=mapdrive,subtype=mapdrive,max_idle_threads=10,attr_timeout=1,entry_timeout=1,negative_timeout=0,ro,allow_other"}},
		{"darwin", false, Options{VolumeName: "Finance"}, true, []string{"-o", "fsname=mapdrive,volname=Finance,noappledouble,noapplexattr,rdonly"}},
	} {
		if got := mountArgs(tc.goos, tc.fuse3, tc.o, tc.readOnly); !slices.Equal(got, tc.want) {
			t.Errorf("mountArgs(%s, fuse3=%v, %+v, ro=%v) =\n %q\nwant\n %q", tc.goos, tc.fuse3, tc.o, tc.readOnly, got, tc.want)
		}
	}
}

func TestFileModes(t *testing.T) {
	for _, tc := range []struct {
		goos              string
		isDir, readOnly   bool
		wantMode, wantFlg uint32
	}{
		// Windows: owner-only, since WinFsp grants "other" to Everyone.
		{"windows", true, false, fuse.S_IFDIR | 0o700, 0},
		{"windows", false, false, fuse.S_IFREG | 0o600, 0},
		{"windows", true, true, fuse.S_IFDIR | 0o500, 0},
		{"windows", false, true, fuse.S_IFREG | 0o400, fuse.UF_READONLY},
		{"linux", true, false, fuse.S_IFDIR | 0o755, 0},
		{"linux", false, false, fuse.S_IFREG | 0o644, 0},
		{"linux", false, true, fuse.S_IFREG | 0o444, 0},
	} {
		mode, flags := fileMode(tc.goos, tc.isDir, tc.readOnly)
		if mode != tc.wantMode || flags != tc.wantFlg {
			t.Errorf("fileMode(%s, dir=%v, ro=%v) = %o, %#x; want %o, %#x", tc.goos, tc.isDir, tc.readOnly, mode, flags, tc.wantMode, tc.wantFlg)
		}
	}
}
