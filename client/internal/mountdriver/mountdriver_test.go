package mountdriver

import (
	"strings"
	"testing"
)

func TestMissingText(t *testing.T) {
	for _, tt := range []struct{ goos, prefix, url string }{
		{"windows", "WinFsp is not installed: install it from https://winfsp.dev/rel/ ", WinFspURL},
		{"darwin", "macFUSE is not installed: ", "https://osxfuse.github.io/"},
		{"linux", "FUSE is not available: install the packages " + strings.ReplaceAll(linuxPackages, " ", " and "), ""},
	} {
		if got := missingText(tt.goos); !strings.HasPrefix(got, tt.prefix) || !strings.HasSuffix(got, ", then mount the drive again") {
			t.Errorf("missingText(%s) = %q, want it to start with %q", tt.goos, got, tt.prefix)
		}
		if got := For(tt.goos).URL; got != tt.url {
			t.Errorf("For(%s).URL = %q, want %q", tt.goos, got, tt.url)
		}
	}
}
