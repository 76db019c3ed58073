package agent

import (
	"path/filepath"
	"runtime"
	"testing"
)

func TestMountpointHelpers(t *testing.T) {
	names := []struct{ in, want string }{
		{"Finance", "Finance"}, {" Sales: EMEA/2026 ", "Sales_ EMEA_2026"}, {"..", "drive"}, {"", "drive"}, {"a*b?c", "a_b_c"},
	}
	for _, tt := range names {
		if got := mountName(tt.in); got != tt.want {
			t.Errorf("mountName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	letters := []struct {
		in   string
		want bool
	}{{"X:", true}, {"x:", true}, {`F:\`, true}, {"XY:", false}, {"1:", false}, {"/mnt/x", false}, {":", false}}
	for _, tt := range letters {
		if got := isDriveLetter(tt.in); got != tt.want {
			t.Errorf("isDriveLetter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	same := []struct {
		a, b string
		want bool
	}{{"F:", `f:\`, true}, {"F:", "G:", false}, {"/a/b/", "/a/b", true}, {"/a/b", "/a/c", false}}
	for _, tt := range same {
		if got := samePath(tt.a, tt.b); got != tt.want {
			t.Errorf("samePath(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	const cAndF = 1<<2 | 1<<5 // C: and F: taken
	if !letterInUse(cAndF, "f:") || letterInUse(cAndF, "G:") {
		t.Errorf("letterInUse with C: and F: taken: F=%v G=%v", letterInUse(cAndF, "f:"), letterInUse(cAndF, "G:"))
	}
	if got := freeLetter(cAndF|1<<25, map[string]bool{"Y:": true}); got != "X:" {
		t.Errorf("freeLetter with Z: taken and Y: planned = %q, want X:", got)
	}
	if got := freeLetter(^uint32(0), nil); got != "" {
		t.Errorf("freeLetter with every letter taken = %q, want none", got)
	}
	if got := cleanMountpoint("m:"); got != "M:" {
		t.Errorf("cleanMountpoint(m:) = %q, want M:", got)
	}
	if runtime.GOOS != "windows" {
		if got, want := defaultMountpoint("/home/a/Mapdrive", "Finance", "F", nil), filepath.Join("/home/a/Mapdrive", "Finance"); got != want {
			t.Errorf("defaultMountpoint = %q, want %q", got, want)
		}
	}
}
