//go:build linux

package fusefs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestBenchmarksRun runs the mount benchmarks at tiny sizes, so that
// make test catches a benchmark that no longer runs: it fails only if a
// benchmark breaks or writes no report, never on a figure.
func TestBenchmarksRun(t *testing.T) {
	requireFUSE(t)
	dir := t.TempDir()
	runIssue4(t, issue4Sizes{size: 8 << 20, folder: 50, files: 20, items: 500, fioSeconds: 1}, dir)
	b, err := os.ReadFile(filepath.Join(dir, "vfs.json"))
	if err != nil {
		t.Fatalf("BenchmarkIssue4 wrote no report: %v", err)
	}
	var report struct {
		LoadAvg string     `json:"loadavg"`
		Rows    []benchRow `json:"rows"`
	}
	if err := json.Unmarshal(b, &report); err != nil {
		t.Fatalf("vfs.json: %v", err)
	}
	seen := map[int]bool{}
	for _, r := range report.Rows {
		seen[r.N] = true
		if r.Mount == "" {
			t.Errorf("row %d %q has no mount figure", r.N, r.Name)
		}
	}
	for n := 1; n <= 10; n++ {
		if !seen[n] {
			t.Errorf("the report has no row %d", n)
		}
	}
	if report.LoadAvg == "" {
		t.Error("the report does not say the load average")
	}
	if _, err := os.Stat(filepath.Join(dir, "vfs.md")); err != nil {
		t.Errorf("no markdown table: %v", err)
	}
	runColdReadDD(t, 4<<20, 1)
	runManySmallFiles(t, 20, 1)
}
