package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the CLI and localclient away from the agent's insides:
// they reach the agent only over the local API (house style), and the wire
// types stay standard-library only.
func TestDeps(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go tool")
	}
	const mod = "github.com/mapdrive/mapdrive/"
	forbidden := []string{
		mod + "client/internal/agent", mod + "client/internal/localapi", mod + "client/internal/auth",
		mod + "client/internal/graph", mod + "client/internal/vfs", mod + "client/internal/fusefs",
		mod + "client/internal/svcclient", "fyne.io/", "github.com/winfsp/cgofuse", "github.com/microsoftgraph/",
	}
	tests := []struct {
		pkg       string
		forbidden []string
		stdOnly   bool
	}{
		{mod + "client/internal/cli", forbidden, false},
		{mod + "client/localclient", forbidden, false},
		{mod + "shared/apitype", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", tt.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tt.pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				if tt.stdOnly && dep != tt.pkg {
					t.Errorf("%s imports %s; it must use the standard library only", tt.pkg, dep)
				}
				for _, f := range tt.forbidden {
					if strings.HasPrefix(dep, f) {
						t.Errorf("%s depends on %s", tt.pkg, dep)
					}
				}
			}
		})
	}
}
