package demo

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// TestShellRoundTrip sources Shell's output in bash, as scripts/demo.sh
// does, and reads every value and both commands back unchanged.
func TestShellRoundTrip(t *testing.T) {
	c := MustLoad()
	if c.TenantID != directory.DemoContosoID || c.ServiceClientID != directory.DemoServiceAppID || c.FinanceGroupID == "" ||
		!strings.HasPrefix(c.FinanceSiteURL, "https://") || c.ServiceScope != "api://mapdrive/Mapdrive.Access" {
		t.Fatalf("Load = %+v", c)
	}
	script := c.Shell() + `
printf '%s\n' "$DEMO_TENANT_ID" "$DEMO_TENANT_NAME" "$DEMO_SERVICE_SCOPE" "$DEMO_FINANCE_SITE_URL"
printf '[%s]' "${DEMO_REGISTER_TENANT[@]}"; echo
printf '[%s]' "${DEMO_REGISTER_MAPPING[@]}"; echo
`
	out, err := exec.Command("bash", "-euc", script).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	bracket := func(args []string) string { return "[" + strings.Join(args, "][") + "]" }
	cmds := c.RegisterCommands()
	want := strings.Join([]string{c.TenantID, c.TenantName, c.ServiceScope, c.FinanceSiteURL, bracket(cmds[1]), bracket(cmds[2])}, "\n") + "\n"
	if string(out) != want {
		t.Errorf("bash read back\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(c.TenantName, " ") {
		t.Errorf("tenant name %q has no space: the round trip does not exercise quoting", c.TenantName)
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", "a b", `$(x) "y" \z`} {
		out, err := exec.Command("bash", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("shellQuote(%q) read back as %q (%v)", s, out, err)
		}
	}
}
