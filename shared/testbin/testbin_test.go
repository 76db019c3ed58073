package testbin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m365sim"), []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, bin, envDir, ci string
		want                  string // the path, or "" for an error
		errHas                string
	}{
		{name: "prebuilt", bin: "m365sim", envDir: dir, ci: "true", want: filepath.Join(dir, "m365sim")},
		{name: "prebuilt folder lacks it", bin: "mapdrive", envDir: dir, ci: "true", errHas: "has no mapdrive"},
		{name: "CI refuses to build in a test", bin: "mapdrive", ci: "true", errHas: "make test"},
		{name: "unknown binary", bin: "nope", envDir: dir, errHas: `unknown binary "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvDir, tt.envDir)
			t.Setenv("CI", tt.ci)
			var f Finder
			defer f.Close()
			got, err := f.Path(tt.bin)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("Path(%q) = %q, %v; want %q", tt.bin, got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("Path(%q) = %q, %v; want an error containing %q", tt.bin, got, err, tt.errHas)
			}
		})
	}
}
