package graph

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// goTool finds the go command; without it the dependency checks cannot
// run, which fails under CI and skips elsewhere.
func goTool(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("go tool not on PATH under CI: %v", err)
		}
		t.Skip("go tool not on PATH")
	}
	return goBin
}

// TestSDKRootNotLinked checks that the Graph layer names the SDK's request
// builders it uses (sdk.go) and not the SDK's root package, which imports
// a builder for every Graph resource and costs a third of the SDK's cold
// compile in every build variant.
func TestSDKRootNotLinked(t *testing.T) {
	const root = "github.com/microsoftgraph/msgraph-sdk-go"
	out, err := exec.Command(goTool(t), "list", "-deps", "github.com/mapdrive/mapdrive/client/cmd/mapdrive").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	if slices.Contains(strings.Fields(string(out)), root) {
		t.Errorf("mapdrive links %s; use the request builders in sdk.go", root)
	}
}

// TestSDKConfined checks that msgraph-sdk-go (slow and memory-hungry to
// build) stays behind this package: the sign-in, keyring, transport and
// filesystem packages must build without it.
func TestSDKConfined(t *testing.T) {
	goBin := goTool(t)
	pkgs := []string{
		"github.com/mapdrive/mapdrive/client/internal/auth",
		"github.com/mapdrive/mapdrive/client/internal/keyring",
		"github.com/mapdrive/mapdrive/client/internal/graph/transport",
		"github.com/mapdrive/mapdrive/client/internal/vfs",
	}
	for _, p := range pkgs {
		out, err := exec.Command(goBin, "list", "-deps", p).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", p, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/microsoftgraph/") || strings.HasPrefix(dep, "github.com/microsoft/kiota") {
				t.Errorf("%s depends on %s; only client/internal/graph may", p, dep)
			}
		}
	}
}
