package agent

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMountPresent(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink("/", link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/proc", true},
		{"/proc/", true},
		{filepath.Join(link, "proc"), true}, // a symlink in the parent is resolved
		{dir, false},
		{filepath.Join(dir, "missing"), false},
	}
	for _, tt := range tests {
		if got := mountPresent(tt.path); got != tt.want {
			t.Errorf("mountPresent(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/home/alice/Mapdrive/Finance", "/home/alice/Mapdrive/Finance"},
		{`/home/alice/Mapdrive/Team\040files`, "/home/alice/Mapdrive/Team files"},
		{`/a\134b\011c`, "/a\\b\tc"},
		{`/odd\04`, `/odd\04`}, // cut short: kept as is
		{`/not\999octal`, `/not\999octal`},
	}
	for _, tt := range tests {
		if got := unescapeMountinfo(tt.in); got != tt.want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
