package service_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencyRules enforces the house layout: store is the only gorm
// importer, only crypto talks to Key Vault, and the shared module never
// depends on the service.
func TestDependencyRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		for _, imp := range imports {
			switch {
			case strings.HasPrefix(imp, "gorm.io/") || strings.HasPrefix(imp, "github.com/glebarez/"):
				if !strings.HasSuffix(pkg, "/internal/store") {
					t.Errorf("%s imports %s: only internal/store may use gorm", pkg, imp)
				}
			case strings.HasPrefix(imp, "github.com/Azure/azure-sdk-for-go/"):
				// crypto: Key Vault; authn: the on-behalf-of credential
				// for group lookup.
				if !strings.HasSuffix(pkg, "/internal/crypto") && !strings.HasSuffix(pkg, "/internal/authn") {
					t.Errorf("%s imports %s: only internal/crypto and internal/authn may use the Azure SDK", pkg, imp)
				}
			}
		}
	}
}

// TestPortalDoesNotImportCLI keeps the wiring one-way: the command line
// (serve) builds the portal from portal.Deps; the portal knows nothing of
// the command line, directly or through another package.
func TestPortalDoesNotImportCLI(t *testing.T) {
	const portal, cli = "github.com/mapdrive/mapdrive/service/internal/portal", "github.com/mapdrive/mapdrive/service/internal/cli"
	out, err := exec.Command("go", "list", "-deps", portal).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", portal, err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !slices.Contains(deps, "github.com/mapdrive/mapdrive/service/internal/store") {
		t.Fatalf("go list -deps %s = %d packages without internal/store: not a dependency list", portal, len(deps))
	}
	if slices.Contains(deps, cli) {
		t.Errorf("%s depends on %s; move what it needs into portal (portal.Deps) instead", portal, cli)
	}
}

// TestProductionBinariesLinkNoSimulator keeps m365sim, its demo seed and
// the demo's identities out of mapdrive-service: a production default that
// came from the simulator would point a real deployment at the demo's app
// registrations. Tests may use the simulator; the binary may not.
func TestProductionBinariesLinkNoSimulator(t *testing.T) {
	checkNoSimulator(t, "./cmd/mapdrive-service")
}

// checkNoSimulator fails if any package under shared/m365sim is in pkg's
// build (not test) dependencies.
func checkNoSimulator(t *testing.T, pkg string) {
	t.Helper()
	const sim = "github.com/mapdrive/mapdrive/shared/m365sim"
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !slices.Contains(deps, "github.com/mapdrive/mapdrive/shared/apitype") {
		t.Fatalf("go list -deps %s = %d packages without shared/apitype: not a dependency list", pkg, len(deps))
	}
	for _, d := range deps {
		if d == sim || strings.HasPrefix(d, sim+"/") {
			t.Errorf("%s links %s: production binaries must not carry the simulator or its demo identities", pkg, d)
		}
	}
}
