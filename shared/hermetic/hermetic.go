// Package hermetic keeps a developer's shell out of the tests. A shell
// that sourced demo/env.sh holds the desktop client's MAPDRIVE_* settings
// (its client id, the demo's service URL, socket and state folders); a
// test that ran product code or started a binary under that environment
// would test the demo's configuration instead of its own. Every package
// whose tests run configuration loaders or start binaries calls Main from
// its TestMain, so neither `go test` nor `make test` depends on the shell.
//
// A test harness's own variables are MAPDRIVE_TEST_* (MAPDRIVE_TEST_BIN,
// MAPDRIVE_TEST_PG_DSN, ...): they are kept. Variables a test sets for a
// child it starts are set after the clearing and so reach the child.
package hermetic

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// KeepPrefix starts the names of the test harness's own variables.
const KeepPrefix = "MAPDRIVE_TEST_"

// Cleared reports whether name is a product setting that Clear removes:
// it starts with MAPDRIVE (the client's MAPDRIVE_, the service's
// MAPDRIVESVC_), in any case since Windows names are case-insensitive,
// and is not one of the harness's own.
func Cleared(name string) bool {
	up := strings.ToUpper(name)
	return strings.HasPrefix(up, "MAPDRIVE") && !strings.HasPrefix(up, KeepPrefix)
}

// Clear unsets every variable Cleared names and returns their names,
// sorted.
func Clear() []string {
	var gone []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != "" && Cleared(name) {
			os.Unsetenv(name)
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	return gone
}

// Main clears the inherited environment, then runs the tests. Use it as
// the whole TestMain, or call Clear first in a TestMain of one's own:
//
//	func TestMain(m *testing.M) { hermetic.Main(m) }
func Main(m *testing.M) {
	Clear()
	os.Exit(m.Run())
}

// pollutedEnv is what Check sets in the child: the desktop client's
// settings as demo/env.sh exports them, and the service's.
var pollutedEnv = []string{
	"MAPDRIVE_CLIENT_ID=bogus-client-id-from-the-shell",
	"MAPDRIVE_AUTHORITY=https://bogus.invalid/organizations",
	"MAPDRIVE_GRAPH_URL=https://bogus.invalid/v1.0",
	"MAPDRIVE_SERVICE_URL=https://bogus.invalid",
	"MAPDRIVE_LOG_LEVEL=bogus",
	"MAPDRIVESVC_CLIENT_ID=bogus-service-id-from-the-shell",
	"mapdrive_state_dir=/bogus",
}

const childEnv = KeepPrefix + "HERMETIC_CHILD"

// InChild reports whether this test binary is Check's child, which runs
// one test only: a TestMain may skip costly set-up (building binaries).
func InChild() bool { return os.Getenv(childEnv) == "1" }

// Check proves the package's TestMain clears the environment: it runs
// the test that calls it again, in a child test binary whose environment
// holds bogus MAPDRIVE_* and MAPDRIVESVC_* settings, and fails unless the
// child sees none of them. In the child, inChild (if not nil) then runs
// with the cleared environment, to show product code there reads its
// defaults; it should fail if a bogus value arrives.
func Check(t *testing.T, inChild func(t *testing.T)) {
	t.Helper()
	if InChild() {
		for _, kv := range os.Environ() {
			if name, _, _ := strings.Cut(kv, "="); Cleared(name) {
				t.Errorf("%s reached the test: TestMain must call hermetic.Main (or hermetic.Clear)", name)
			}
		}
		if inChild != nil {
			inChild(t)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), pollutedEnv...), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("with %s in the environment, %s failed: %v\n%s", strings.Join(pollutedEnv, " "), t.Name(), err, out)
	}
}
