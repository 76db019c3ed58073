package client_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestProductionBinariesLinkNoSimulator keeps m365sim, its demo seed and
// the demo's identities out of the desktop binaries, on every platform
// they ship for: a default taken from the simulator would point a real
// deployment at the demo's app registrations. Tests may use the
// simulator; the binaries may not.
func TestProductionBinariesLinkNoSimulator(t *testing.T) {
	const sim = "github.com/mapdrive/mapdrive/shared/m365sim"
	for _, goos := range []string{"linux", "windows", "darwin"} {
		for _, pkg := range []string{"./cmd/mapdrive", "./cmd/mapdrive-tray"} {
			t.Run(goos+"/"+pkg, func(t *testing.T) {
				cmd := exec.Command("go", "list", "-deps", pkg)
				cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=1") // cgo: the tray's GL driver
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("GOOS=%s go list -deps %s: %v", goos, pkg, err)
				}
				deps := strings.Fields(string(out))
				if !slices.Contains(deps, "github.com/mapdrive/mapdrive/shared/version") {
					t.Fatalf("go list -deps %s = %d packages without shared/version: not a dependency list", pkg, len(deps))
				}
				for _, d := range deps {
					if d == sim || strings.HasPrefix(d, sim+"/") {
						t.Errorf("%s links %s: production binaries must not carry the simulator or its demo identities", pkg, d)
					}
				}
			})
		}
	}
}
