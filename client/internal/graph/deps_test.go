package graph

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSDKConfined checks that msgraph-sdk-go (slow and memory-hungry to
// build) stays behind this package: the sign-in, keyring, transport and
// filesystem packages must build without it.
func TestSDKConfined(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
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
