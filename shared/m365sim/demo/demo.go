// Package demo is the Mapdrive demo's configuration, read from m365sim's
// demo seed: the identities of its app registrations and of tenant
// contoso, and the mapdrive-service operator commands that register
// contoso with its Finance mapping.
//
// The production binaries have no built-in identities (service/deps_test.go
// and client/deps_test.go keep every package under shared/m365sim out of
// them). The demo's values reach them only through the demo's own
// configuration, which scripts/demo.sh writes from `m365sim
// --print-demo-config` (Shell), and through the tests' explicit settings.
package demo

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// Config is what the demo configures Mapdrive with. The service API is
// the seed's v2.0 registration (api://mapdrive), the one `make demo` uses.
type Config struct {
	TenantID, TenantName, TenantDomain string
	// DesktopClientID is the public client the agent signs in with.
	DesktopClientID string
	// ServiceClientID is the service API's app id: mapdrive-service's
	// --client-id, and the audience of its v2.0 tokens.
	ServiceClientID string
	// ServiceAppIDURI is the API's Application ID URI, the audience of
	// v1.0 tokens; the desktop client's ServiceScope starts with it.
	ServiceAppIDURI string
	ServiceScope    string // the desktop client's service_scope
	ServiceSecret   string // the portal's client secret (dev only)
	// The Finance mapping: a SharePoint library assigned to a group.
	FinanceSiteURL, FinanceLibrary, FinanceGroupID string
	Seats                                          int
}

// Load reads the demo configuration from m365sim's demo seed.
func Load() (Config, error) {
	dir, err := directory.New(directory.DemoSeed())
	if err != nil {
		return Config{}, fmt.Errorf("m365sim demo seed: %w", err)
	}
	contoso := dir.Tenant("contoso")
	site, group := contoso.Site("Finance"), contoso.Group("Finance Team")
	if site == nil || group == nil {
		return Config{}, fmt.Errorf("m365sim demo seed: contoso has no Finance site or Finance Team group")
	}
	return Config{
		TenantID: contoso.ID, TenantName: contoso.DisplayName, TenantDomain: contoso.Domains[0],
		DesktopClientID: directory.DemoClientID,
		ServiceClientID: directory.DemoServiceAppID, ServiceAppIDURI: directory.DemoServiceAppURI,
		ServiceScope:   directory.DemoServiceAppURI + "/" + directory.DemoServiceScope,
		ServiceSecret:  directory.DemoServiceSecret,
		FinanceSiteURL: contoso.SiteURL(site), FinanceLibrary: "Documents", FinanceGroupID: group.ID,
		Seats: 25,
	}, nil
}

// MustLoad is Load for tests and commands, where the built-in seed
// failing to load is a bug.
func MustLoad() Config {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

// ServiceFlags are the mapdrive-service serve flags that name the demo's
// registrations: the API's client id, both audiences, and the desktop
// app the portal's deployment page shows.
func (c Config) ServiceFlags() []string {
	return []string{"--client-id", c.ServiceClientID, "--audience", c.ServiceClientID, "--audience", c.ServiceAppIDURI,
		"--desktop-client-id", c.DesktopClientID}
}

// RegisterCommands are the mapdrive-service operator commands that
// create the database and register contoso (Seats seats, one year) with
// the Finance library assigned to the Finance Team group: migrate, tenant
// add, mapping add. Append the common flags (--data-dir, --db) to each.
func (c Config) RegisterCommands() [][]string {
	return [][]string{
		{"migrate"},
		{"tenant", "add", "--id", c.TenantID, "--name", c.TenantName, "--domain", c.TenantDomain, "--seats", fmt.Sprint(c.Seats)},
		{"mapping", "add", "--tenant", c.TenantID, "--name", "Finance", "--letter", "F", "--mount", "Finance",
			"--kind", "sharepoint", "--site-url", c.FinanceSiteURL, "--library", c.FinanceLibrary, "--group", c.FinanceGroupID},
	}
}

// Register runs RegisterCommands with the mapdrive-service binary bin,
// each followed by the common flags (tests that run the built binary).
func (c Config) Register(ctx context.Context, bin string, common ...string) error {
	for _, cmd := range c.RegisterCommands() {
		args := append(slices.Clone(cmd), common...)
		if out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("mapdrive-service %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// Shell renders c as bash variable assignments (DEMO_*), one a line, for
// scripts/demo.sh to source: the values, and the RegisterCommands as the
// arrays DEMO_REGISTER_TENANT and DEMO_REGISTER_MAPPING.
func (c Config) Shell() string {
	var b strings.Builder
	b.WriteString("# m365sim demo seed (shared/m365sim/directory/demo.go): the identities the demo configures Mapdrive with\n")
	for _, kv := range [][2]string{
		{"DEMO_TENANT_ID", c.TenantID}, {"DEMO_TENANT_NAME", c.TenantName}, {"DEMO_TENANT_DOMAIN", c.TenantDomain},
		{"DEMO_DESKTOP_CLIENT_ID", c.DesktopClientID},
		{"DEMO_SERVICE_CLIENT_ID", c.ServiceClientID}, {"DEMO_SERVICE_APP_ID_URI", c.ServiceAppIDURI},
		{"DEMO_SERVICE_SCOPE", c.ServiceScope}, {"DEMO_SERVICE_SECRET", c.ServiceSecret},
		{"DEMO_FINANCE_SITE_URL", c.FinanceSiteURL}, {"DEMO_FINANCE_LIBRARY", c.FinanceLibrary},
		{"DEMO_FINANCE_GROUP_ID", c.FinanceGroupID}, {"DEMO_SEATS", fmt.Sprint(c.Seats)},
	} {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], shellQuote(kv[1]))
	}
	cmds := c.RegisterCommands()
	for i, name := range []string{"DEMO_REGISTER_TENANT", "DEMO_REGISTER_MAPPING"} {
		cmd := cmds[i+1] // after migrate, which the script runs itself
		q := make([]string, len(cmd))
		for j, a := range cmd {
			q[j] = shellQuote(a)
		}
		fmt.Fprintf(&b, "%s=(%s)\n", name, strings.Join(q, " "))
	}
	return b.String()
}

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
