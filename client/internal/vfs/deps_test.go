package vfs_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering checks the house layering: the filesystem model, its
// metadata and its content cache never depend on FUSE (only fusefs
// imports cgofuse) nor on Graph.
func TestLayering(t *testing.T) {
	for _, pkg := range []string{".", "./meta", "./content"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.Contains(dep, "cgofuse") || strings.HasSuffix(dep, "/internal/fusefs") || strings.HasSuffix(dep, "/internal/graph") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
