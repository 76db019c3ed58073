package tray

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps checks the layering: the UI package never pulls in fyne's app
// package (so it runs headless) nor the agent's internals; the binary
// reaches the agent only through localclient.
func TestDeps(t *testing.T) {
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{"github.com/mapdrive/mapdrive/client/internal/tray", []string{
			"fyne.io/fyne/v2/app", "github.com/mapdrive/mapdrive/client/internal/agent",
			"github.com/mapdrive/mapdrive/client/internal/localapi", "github.com/mapdrive/mapdrive/client/localclient"}},
		{"github.com/mapdrive/mapdrive/client/cmd/mapdrive-tray", []string{
			"github.com/mapdrive/mapdrive/client/internal/agent", "github.com/mapdrive/mapdrive/client/internal/localapi",
			"github.com/mapdrive/mapdrive/client/internal/vfs", "github.com/mapdrive/mapdrive/client/internal/graph",
			"github.com/winfsp/cgofuse/fuse"}},
	}
	for _, tt := range tests {
		out, err := exec.Command("go", "list", "-deps", tt.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", tt.pkg, err, out)
		}
		deps := map[string]bool{}
		for _, l := range strings.Fields(string(out)) {
			deps[l] = true
		}
		for _, f := range tt.forbidden {
			if deps[f] {
				t.Errorf("%s depends on %s", tt.pkg, f)
			}
		}
	}
}
