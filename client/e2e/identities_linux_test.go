//go:build linux

package e2e

// The two identity configurations TestSystem runs with: the simulator's
// demo seed with its fixed ids, and a tenant registered the way
// docs/entra-app-registration.md tells an admin, with fresh ids, v1.0
// tokens and no groups claim.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// identities is one configuration of the system test: the directory
// m365sim starts with and the ids the service and the agent are given.
type identities struct {
	name string // the subtest's
	// seedArg is m365sim's --seed: "demo", or the file the run wrote.
	seedArg string
	// tenant is the tenant of the run, from the seed (its ids, domains,
	// site URLs and groups).
	tenant *directory.Tenant
	// authTenant is how the authority names the tenant: the demo signs in
	// through /organizations and the simulator's tokens are asked for by
	// the tenant's short name; a real deployment names its tenant id.
	authTenant string
	// pinTenant is the client's tenant_id setting; "" leaves it unset.
	pinTenant string

	desktopClientID string // the Mapdrive (public client) registration
	serviceClientID string // the Mapdrive Service registration
	serviceAppURI   string // its App ID URI
	serviceScope    string // the agent's service_scope
	// serviceIDs are serve's identity settings; serviceEnv gives every
	// setting of the service as its MAPDRIVESVC_ variable instead of a
	// flag, as deploy-service.md documents both.
	serviceIDs []svcSetting
	serviceEnv bool
	// audiences are the token audiences serve should say it accepts.
	audiences []string

	// v1Tokens and groupsClaim are what the service's registration asks
	// Entra for (requestedAccessTokenVersion, groupMembershipClaims).
	v1Tokens, groupsClaim bool
	// outsider is a user of the tenant outside the Marketing group.
	outsider string
	// copyMB sizes the chaos copy from MAPDRIVE_TEST_E2E_COPY_MB.
	copyMB func(int) int

	seen recorder // what the run handed the processes
}

// upn is user's sign-in name in the run's tenant.
func (id *identities) upn(user string) string { return user + "@" + id.tenant.Domains[0] }

// svcSetting is one mapdrive-service setting, by its flag's name.
type svcSetting struct{ name, value string }

// demoIdentities is the configuration the demo runs with: m365sim's
// built-in seed, whose service API asks for v2.0 tokens with groups.
func demoIdentities(t *testing.T) *identities {
	t.Helper()
	d, err := directory.New(directory.DemoSeed())
	if err != nil {
		t.Fatal(err)
	}
	return &identities{
		name: "demo", seedArg: "demo", tenant: d.Tenant("contoso"), authTenant: "organizations",
		desktopClientID: directory.DemoClientID,
		serviceClientID: directory.DemoServiceAppID, serviceAppURI: directory.DemoServiceAppURI,
		serviceScope: directory.DemoServiceAppURI + "/" + directory.DemoServiceScope,
		// The demo seed's v2.0 API, named explicitly: serve has no built-in ids.
		serviceIDs: []svcSetting{{"client-id", directory.DemoServiceAppID},
			{"audience", directory.DemoServiceAppID}, {"audience", directory.DemoServiceAppURI}},
		audiences:   []string{directory.DemoServiceAppID, directory.DemoServiceAppURI},
		groupsClaim: true, outsider: "admin",
		copyMB: func(mb int) int { return mb },
	}
}

// realTenantIdentities registers Mapdrive in a new tenant exactly as
// docs/entra-app-registration.md says, with fresh ids, writes it as a seed
// file for m365sim, and configures the service (deploy-service.md, by
// MAPDRIVESVC_ variables) and the agent (client-settings.md) from it.
// What the docs leave at Entra's defaults stays unset: no
// requestedAccessTokenVersion (v1.0 tokens) and no groupMembershipClaims
// (no groups claim: the service looks groups up on the user's behalf).
func realTenantIdentities(t *testing.T, dir string) *identities {
	t.Helper()
	tid, desktop, svcID := newGUID(t), newGUID(t), newGUID(t)
	// Step 1.2: the Application ID URI Entra proposes.
	appURI := "api://" + svcID
	const scope, adminRole = "Mapdrive.Access", "Mapdrive.Admin"
	secret := randomSecret(t)
	drive := func(files ...directory.File) *directory.Drive {
		return &directory.Drive{Name: "OneDrive", Files: files}
	}
	seed := &directory.Seed{
		Apps: []directory.App{
			// Step 2: a public client, loopback redirect, public client
			// flows allowed (device code), no secret.
			{ClientID: desktop, DisplayName: "Mapdrive", PublicClient: true, RedirectURIs: []string{"http://localhost"}},
			// Step 1: the API: scope, app role, a secret. Steps 1.7's
			// settings are left at Entra's defaults.
			{ClientID: svcID, DisplayName: "Mapdrive Service", Secret: secret,
				RedirectURIs:  []string{"https://mapdrive.tailspintoys.com/portal/auth/callback"},
				IdentifierURI: appURI, Scopes: []string{scope}, AppRoles: []string{adminRole}},
		},
		Tenants: []directory.Tenant{{
			ID: tid, Name: "tailspin", DisplayName: "Tailspin Toys",
			Domains: []string{"tailspintoys.com", "tailspintoys.onmicrosoft.com"},
			// Step 3: like most enterprise tenants, this one stops users
			// from consenting; an admin granted consent to what steps 1.5
			// and 2.3 list, and nothing else.
			UserConsentBlocked: true,
			Consents: []directory.Consent{
				{ClientID: desktop, Resource: directory.GraphAppID, Scopes: []string{"Files.ReadWrite.All", "Sites.ReadWrite.All", "User.Read", "Team.ReadBasic.All", "offline_access", "openid", "profile"}},
				{ClientID: desktop, Resource: svcID, Scopes: []string{scope}},
				{ClientID: svcID, Resource: directory.GraphAppID, Scopes: []string{"User.Read", "Sites.Read.All", "Group.Read.All", "openid", "profile", "offline_access"}},
			},
			Users: []directory.User{
				{ID: newGUID(t), UserName: "alice", DisplayName: "Alice Andersen", Drive: drive(directory.File{Path: "Documents/"})},
				{ID: newGUID(t), UserName: "bob", DisplayName: "Bob Brown", Drive: drive()},
				{ID: newGUID(t), UserName: "carol", DisplayName: "Carol Chen", Drive: drive()},
				// Step 1.8: the admin holds the app role.
				{ID: newGUID(t), UserName: "admin", DisplayName: "Tailspin Admin", Drive: drive(),
					AppRoles: []directory.RoleAssignment{{App: svcID, Role: adminRole}}},
			},
			Groups: []directory.Group{{ID: newGUID(t), DisplayName: "Marketing", Members: []string{"alice", "bob"}}},
			Sites: []directory.Site{{
				ID: newGUID(t), WebID: newGUID(t), Name: "Marketing", DisplayName: "Marketing", Path: "/sites/Marketing",
				Members: []string{"alice", "bob"},
				Libraries: []directory.Drive{{Name: "Documents", Files: []directory.File{
					{Path: "General/"}, {Path: "General/Campaign.txt", Content: "Autumn campaign ideas.\n"},
				}}},
			}},
		}},
	}
	d, err := directory.New(seed)
	if err != nil {
		t.Fatal(err)
	}
	id := &identities{
		name: "realTenant", seedArg: filepath.Join(dir, "tenant-seed.json"), tenant: d.Tenant(tid),
		authTenant: tid, pinTenant: tid,
		desktopClientID: desktop, serviceClientID: svcID, serviceAppURI: appURI,
		// Step 4: SERVICESCOPE.
		serviceScope: appURI + "/" + scope,
		// deploy-service.md: the default audiences, the client id (v2.0)
		// and api://<client id> (v1.0), cover the App ID URI of step 1.2.
		audiences: []string{svcID, appURI},
		v1Tokens:  true, outsider: "carol",
		// The chaos is the demo run's; here a smaller copy keeps the
		// package's time in bounds. At 50 MB a loaded machine once
		// finished every upload before the agent's SIGKILL (big-1.bin has
		// 40% of the copy), and the crash tested nothing.
		copyMB: func(mb int) int { return max(min(mb, 100), mb/10) },
	}
	raw, err := json.MarshalIndent(seed, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// The registration as the docs leave it: the defaults are not written.
	for _, key := range []string{"requestedAccessTokenVersion", "groupMembershipClaims"} {
		if strings.Contains(string(raw), key) {
			t.Fatalf("the real tenant's seed sets %s; the docs leave it at Entra's default", key)
		}
	}
	id.writeFile(t, id.seedArg, raw)
	// deploy-service.md: the service's identity is its client id, its
	// secret in a file (on-behalf-of group lookup) and the desktop app's
	// id for the portal. Its audiences are left to their documented
	// default, the client id and api://<client id>.
	secretFile := filepath.Join(dir, "service-secret")
	id.writeFile(t, secretFile, []byte(secret+"\n"))
	id.serviceIDs = []svcSetting{{"client-id", svcID}, {"client-secret-file", secretFile}, {"desktop-client-id", desktop}}
	id.serviceEnv = true
	return id
}

func (id *identities) writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	id.seen.add("file "+filepath.Base(name), string(data))
}

// newGUID returns a random (version 4) GUID, in Entra's lower case.
func newGUID(t *testing.T) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randomSecret(t *testing.T) string {
	t.Helper()
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// recorder keeps what a run handed its processes: arguments, environment
// and the files it wrote for them.
type recorder struct {
	mu    sync.Mutex
	items []recorded
}

type recorded struct {
	what  string
	parts []string
}

func (r *recorder) add(what string, parts ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, recorded{what, slices.Clone(parts)})
}

// demoIDs are the demo seed's fixed identities and secrets.
var demoIDs = []string{
	directory.DemoClientID, directory.DemoServiceAppID, directory.DemoServiceAppURI,
	directory.DemoServiceV1AppID, directory.DemoServiceV1AppURI, directory.DemoServiceSecret, directory.DemoServiceV1Secret,
	directory.DemoContosoID, directory.DemoFabrikamID, directory.DemoNorthwindID,
}

// demoUses lists where the recorded run names a demo identity, or runs
// m365sim on the demo seed.
func (r *recorder) demoUses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, it := range r.items {
		for i, p := range it.parts {
			for _, d := range demoIDs {
				if at := strings.Index(strings.ToLower(p), strings.ToLower(d)); at >= 0 {
					out = append(out, fmt.Sprintf("%s: %q in …%s…", it.what, d, p[max(0, at-40):min(len(p), at+len(d)+20)]))
				}
			}
			if p == "--seed" && i+1 < len(it.parts) && it.parts[i+1] == "demo" || p == "--seed=demo" {
				out = append(out, it.what+": --seed demo")
			}
		}
	}
	return out
}

// processes counts the process starts recorded.
func (r *recorder) processes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, it := range r.items {
		if !strings.HasPrefix(it.what, "file ") {
			n++
		}
	}
	return n
}

// checkIdentities proves the run was configured as it claims: the
// real-tenant run handed no process a demo id, nor the demo seed; the
// demo run, scanned the same way, names them (so the scan can fail).
func checkIdentities(t *testing.T, id *identities) {
	t.Helper()
	uses := id.seen.demoUses()
	n := id.seen.processes()
	if n < 5 {
		t.Errorf("only %d process starts recorded: the scan for demo ids looked at too little", n)
	}
	if id.name == "demo" {
		if len(uses) == 0 {
			t.Errorf("the demo run's arguments and environment name no demo id: the scan for them cannot fail")
		}
		return
	}
	for _, u := range uses {
		t.Errorf("the %s run names a demo identity: %s", id.name, u)
	}
	t.Logf("no demo id and no demo seed in the arguments, environment or files of %d process starts", n)
}

// checkToken decodes an access token for the service (never logging it)
// and checks it has the shape the service's registration asks Entra for:
// v1.0 (iss https://sts.windows.net/{tid}/, aud the App ID URI) or v2.0
// (iss <authority>/{tid}/v2.0, aud the client id), with or without the
// groups claim.
func checkToken(t *testing.T, id *identities, simURL, tok string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("the service's access token has %d parts, want a JWT", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode the token's claims: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("parse the token's claims: %v", err)
	}
	tid := id.tenant.ID
	want := map[string]string{"ver": "2.0", "iss": simURL + "/" + tid + "/v2.0", "aud": id.serviceClientID, "tid": tid}
	if id.v1Tokens {
		want = map[string]string{"ver": "1.0", "iss": "https://sts.windows.net/" + tid + "/", "aud": id.serviceAppURI, "tid": tid}
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("the service's access token: %s = %v, want %s", k, c[k], v)
		}
	}
	_, groups := c["groups"]
	_, overage := c["_claim_names"]
	if groups || overage {
		if !id.groupsClaim {
			t.Errorf("the service's access token carries groups (claim %v, overage %v); the registration asks for none", groups, overage)
		}
	} else if id.groupsClaim {
		t.Errorf("the service's access token carries no groups claim; the registration asks for one")
	}
	t.Logf("the service's access token: ver %v, aud %v, groups claim %v", c["ver"], c["aud"], groups)
}
