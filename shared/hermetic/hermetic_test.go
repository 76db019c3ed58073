package hermetic

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// TestClear checks what Clear removes and what it keeps.
func TestClear(t *testing.T) {
	for name, want := range map[string]bool{
		"MAPDRIVE_CLIENT_ID": true, "MAPDRIVESVC_DB": true, "mapdrive_socket": true, "MAPDRIVE": true,
		"MAPDRIVE_TEST_BIN": false, "MAPDRIVE_TEST_PG_DSN": false, "PATH": false, "XMAPDRIVE_X": false,
	} {
		t.Setenv(name, "v")
		if got := Cleared(name); got != want {
			t.Errorf("Cleared(%q) = %v, want %v", name, got, want)
		}
	}
	gone := Clear()
	for _, name := range []string{"MAPDRIVE_CLIENT_ID", "MAPDRIVESVC_DB", "mapdrive_socket", "MAPDRIVE"} {
		if _, ok := os.LookupEnv(name); ok || !slices.Contains(gone, name) {
			t.Errorf("after Clear, %s is still set (or not reported: %v)", name, gone)
		}
	}
	for _, name := range []string{"MAPDRIVE_TEST_BIN", "PATH", "XMAPDRIVE_X"} {
		if _, ok := os.LookupEnv(name); !ok {
			t.Errorf("Clear removed %s", name)
		}
	}
}

// TestCheck runs Check on this package, whose TestMain clears.
func TestCheck(t *testing.T) { Check(t, nil) }

// TestEveryHarnessIsHermetic finds the packages whose tests start the
// project's binaries (they import shared/testbin) or run the service's
// command line in-process, across the workspace, and checks each one's
// tests import this package (for its TestMain and TestHermetic).
func TestEveryHarnessIsHermetic(t *testing.T) {
	const (
		self    = "github.com/mapdrive/mapdrive/shared/hermetic"
		testbin = "github.com/mapdrive/mapdrive/shared/testbin"
		svcCLI  = "github.com/mapdrive/mapdrive/service/internal/cli"
	)
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .TestImports \" \"}} {{join .XTestImports \" \"}}",
		"github.com/mapdrive/mapdrive/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var harnesses int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		if pkg == testbin || pkg == self {
			continue
		}
		if pkg != svcCLI && !slices.Contains(imports, testbin) && !slices.Contains(imports, svcCLI) {
			continue
		}
		harnesses++
		if !slices.Contains(imports, self) {
			t.Errorf("%s's tests start binaries or run the service, but do not use %s: add func TestMain(m *testing.M) { hermetic.Main(m) } and TestHermetic", pkg, self)
		}
	}
	if harnesses < 5 {
		t.Errorf("found %d harness packages; the go list pattern misses the workspace's modules", harnesses)
	}
}
