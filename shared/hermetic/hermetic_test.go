package hermetic

import (
	"os"
	"slices"
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
