package portal

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/version"
)

// TestOnboarding: fabrikam is not registered; its first admin is led
// through onboarding and gets a trial licence for the sign-in domain.
func TestOnboarding(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	p := b.signIn("fiona@fabrikam.com")
	if p.status != http.StatusOK || !strings.HasSuffix(p.url, "/portal/onboarding") {
		t.Fatalf("fiona lands on %s (%d)", p.url, p.status)
	}
	p.mustContain(t, "Set up Mapdrive for your organisation", directory.DemoFabrikamID, "fabrikam.com", "adminconsent?client_id="+directory.DemoClientID)
	if strings.Contains(p.body, `href="/portal/mappings"`) {
		t.Error("onboarding shows the full navigation")
	}
	if p := b.get("/portal/licence", false); p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/onboarding" {
		t.Errorf("licence before onboarding = %d %s", p.status, p.header.Get("Location"))
	}
	p = b.post("/portal/onboarding", url.Values{"csrf": {b.csrf}, "orgName": {"Fabrikam Inc"}}, false)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "accept the trial terms") {
		t.Errorf("onboarding without accepting = %d", p.status)
	}
	p = b.post("/portal/onboarding", url.Values{"csrf": {b.csrf}, "orgName": {"Fabrikam Inc"}, "accept": {"on"}}, true)
	p.mustContain(t, "<h1>Drive mappings</h1>", "30-day trial with 10 seats")
	tn, err := e.st.Tenant(t.Context(), directory.DemoFabrikamID)
	if err != nil || tn.Seats != 10 || tn.DisplayName != "Fabrikam Inc" || len(tn.Domains) != 1 || tn.Domains[0] != "fabrikam.com" ||
		tn.LicenceExpires.Sub(time.Now()) < 29*24*time.Hour {
		t.Fatalf("registered tenant = %+v, %v", tn, err)
	}
	if es, _ := e.st.AuditLog(t.Context(), directory.DemoFabrikamID, "tenant.onboard", 0); len(es) != 1 {
		t.Errorf("onboarding audit = %+v", es)
	}
	// Onboarding again does not reset the licence.
	if p := b.post("/portal/onboarding", url.Values{"csrf": {b.csrf}, "orgName": {"Other"}, "accept": {"on"}}, false); p.header.Get("Location") != "/portal/mappings" {
		t.Errorf("second onboarding = %d %s", p.status, p.header.Get("Location"))
	}
	if tn, _ := e.st.Tenant(t.Context(), directory.DemoFabrikamID); tn.DisplayName != "Fabrikam Inc" {
		t.Errorf("second onboarding renamed the tenant to %q", tn.DisplayName)
	}
}

// TestOnboardingOnceAfterErasure: an organisation that had its trial,
// then erased itself, cannot start a second trial by onboarding again; the
// tombstone that remembers it names the tenant only by a keyed hash.
func TestOnboardingOnceAfterErasure(t *testing.T) {
	db := testenv.SQLite(t)
	e := newEnv(t, db)
	b := e.browser()
	b.signIn("fiona@fabrikam.com")
	b.post("/portal/onboarding", url.Values{"csrf": {b.csrf}, "orgName": {"Fabrikam Inc"}, "accept": {"on"}}, true).
		mustContain(t, "30-day trial")
	if err := e.st.DeleteTenant(t.Context(), directory.DemoFabrikamID); err != nil {
		t.Fatal(err)
	}
	b = e.browser()
	b.signIn("fiona@fabrikam.com")
	p := b.post("/portal/onboarding", url.Values{"csrf": {b.csrf}, "orgName": {"Fabrikam Again"}, "accept": {"on"}}, false)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "already had its Mapdrive trial") {
		t.Errorf("second trial after erasure = %d, want 409 naming the first trial", p.status)
	}
	if _, err := e.st.Tenant(t.Context(), directory.DemoFabrikamID); err == nil {
		t.Error("the tenant was registered again with a fresh trial")
	}
	testenv.AssertAbsent(t, "database", db.Raw(t), directory.DemoFabrikamID, "Fabrikam", "fabrikam.com")
}

// TestPolicies saves policies through the form, with inline errors first.
func TestPolicies(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	b.signIn("admin@contoso.com")
	p := b.get("/portal/policies", false)
	p.mustContain(t, `value="10"`, `value="60"`, `name="coauthoring" checked`)
	bad := url.Values{"csrf": {b.csrf}, "cacheGb": {"-1"}, "pollSeconds": {"2"}, "minVersion": {"latest"}}
	p = b.post("/portal/policies", bad, false)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad policies = %d", p.status)
	}
	p.mustContain(t, `id="cache-error"`, `id="poll-error"`, `id="version-error"`)
	for field, cases := range map[string]map[string]string{
		"uploadMBps":     {"-1": "upload-error", "lots": "upload-error", "0.01": "upload-error", "1e9": "upload-error", "NaN": "upload-error"},
		"downloadMBps":   {"-3": "download-error"},
		"refreshSeconds": {"30": "refresh-error", "86401": "refresh-error", "5m": "refresh-error"},
		"jitterSeconds":  {"-1": "jitter-error", "3601": "jitter-error", "1.5": "jitter-error"},
		"linkScope":      {"everyone": "link-error", "Organization": "link-error"},
	} {
		for in, id := range cases {
			f := url.Values{"csrf": {b.csrf}, "cacheGb": {"5"}, "pollSeconds": {"120"}, field: {in}}
			p = b.post("/portal/policies", f, false)
			if p.status != http.StatusUnprocessableEntity {
				t.Errorf("%s=%q = %d, want 422", field, in, p.status)
			}
			p.mustContain(t, `id="`+id+`"`)
		}
	}
	good := url.Values{"csrf": {b.csrf}, "cacheGb": {"5"}, "pollSeconds": {"120"}, "minVersion": {"0.1.0"},
		"uploadMBps": {"20"}, "downloadMBps": {"0.5"}, "refreshSeconds": {"600"}, "jitterSeconds": {"300"}}
	p = b.post("/portal/policies", good, true)
	p.mustContain(t, "Policies saved")
	tn, _ := e.st.Tenant(t.Context(), e.contoso.ID)
	want := apitype.Policies{DeltaPollSeconds: 120, MinClientVersion: "0.1.0", DefaultCacheLimitBytes: 5 << 30, OfficeCoauthoring: false,
		UploadBytesPerSecond: 20_000_000, DownloadBytesPerSecond: 500_000, RefreshSeconds: 600, StartJitterSeconds: 300}
	if tn.Policies != want {
		t.Errorf("policies = %+v, want %+v", tn.Policies, want)
	}
	// The link scope is stored as chosen.
	lf := url.Values{"csrf": {b.csrf}, "cacheGb": {"5"}, "pollSeconds": {"120"}, "linkScope": {"none"}}
	p = b.post("/portal/policies", lf, true)
	p.mustContain(t, "Policies saved")
	if tn, _ := e.st.Tenant(t.Context(), e.contoso.ID); tn.Policies.LinkScope != apitype.LinkScopeNone {
		t.Errorf("link scope after saving none = %q", tn.Policies.LinkScope)
	}
	// Emptied fields mean no limit, the client's interval and no spread.
	p = b.post("/portal/policies", url.Values{"csrf": {b.csrf}, "cacheGb": {"5"}, "pollSeconds": {"120"}}, true)
	p.mustContain(t, "Policies saved")
	if tn, _ := e.st.Tenant(t.Context(), e.contoso.ID); tn.Policies.UploadBytesPerSecond != 0 || tn.Policies.RefreshSeconds != 0 || tn.Policies.StartJitterSeconds != 0 {
		t.Errorf("emptied policies = %+v", tn.Policies)
	}
}

// TestLicence shows seats and draws the usage chart from recorded days.
func TestLicence(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	for _, seat := range []string{"a", "b", "c"} {
		if err := e.st.TouchSeat(t.Context(), e.contoso.ID, seat, 25); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.RecordSeatUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("admin@contoso.com")
	p := b.get("/portal/licence", false)
	p.mustContain(t, "<h1>Licence</h1>", "<dt>Seats bought</dt><dd>25</dd>", "<dt>Seats in use</dt><dd>3</dd>", "<dt>Seats free</dt><dd>22</dd>",
		`src="/portal/licence/chart.svg"`, "peak 3, latest 3")
	p = b.get("/portal/licence/chart.svg", false)
	if p.status != 200 || p.header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("chart = %d %s", p.status, p.header.Get("Content-Type"))
	}
	if err := xml.Unmarshal([]byte(p.body), new(struct{})); err != nil {
		t.Errorf("chart is not well-formed XML: %v", err)
	}
	if !strings.Contains(p.body, "25 seats bought") || strings.Count(p.body, "<circle") != 1 {
		t.Errorf("chart = %s", p.body)
	}
}

func TestSeatChart(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	us := []apitype.SeatUsage{{Day: "2026-03-01", Used: 4}, {Day: "2026-03-02", Used: 6}, {Day: "2026-03-10", Used: 8}, {Day: "2025-01-01", Used: 99}}
	svg := string(seatChart(us, 10, now, 90))
	if got := strings.Count(svg, "<polyline"); got != 1 {
		t.Errorf("polylines = %d, want 1 (the gap splits runs; a lone day has none)", got)
	}
	if got := strings.Count(svg, "<circle"); got != 3 {
		t.Errorf("dots = %d, want 3 (the day out of range is dropped)", got)
	}
	for _, tc := range []struct{ in, want int }{{0, 1}, {1, 1}, {2, 2}, {3, 5}, {10, 10}, {11, 20}, {21, 25}, {25, 25}, {26, 50}, {101, 200}, {240, 250}, {499, 500}} {
		if got := niceCeil(tc.in); got != tc.want {
			t.Errorf("niceCeil(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// releaseVersion returns the repository's VERSION, the client release the
// test portal offers, as a release build of the service would.
func releaseVersion(t testing.TB) string {
	t.Helper()
	raw, err := os.ReadFile("../../../VERSION")
	if err != nil {
		t.Fatalf("read VERSION: %v", err)
	}
	return strings.TrimSpace(string(raw))
}

// TestDeployment: the Intune command carries this service and tenant and
// names the MSI scripts/dist.sh builds, and the uninstall command and
// detection rule carry the ProductCode dist.sh gives that MSI. Both sides
// take it from shared/version; this proves the portal and the script agree.
func TestDeployment(t *testing.T) {
	v := releaseVersion(t)
	out, err := exec.Command("bash", "../../../scripts/dist.sh", "product-code", v).Output()
	if err != nil {
		t.Fatalf("dist.sh product-code %s: %v", v, err)
	}
	pc := "{" + strings.TrimSpace(string(out)) + "}"
	if want := "{" + version.ProductCode(v) + "}"; pc != want {
		t.Errorf("dist.sh product-code %s = %s, version.ProductCode = %s", v, pc, want)
	}
	msi := "mapdrive-" + version.MSIVersion(v) + "-x64.msi"

	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	b.signIn("admin@contoso.com")
	p := b.get("/portal/deployment", false)
	cmd := `msiexec /i &#34;` + msi + `&#34; /qn /norestart SERVICEURL=&#34;` + e.url + `&#34; TENANTID=&#34;` + e.contoso.ID +
		`&#34; CLIENTID=&#34;` + directory.DemoClientID + `&#34;`
	p.mustContain(t, cmd, `msiexec /x &#34;`+pc+`&#34;`, `href="/portal/download/`+msi+`"`)
	if p := b.get("/portal/download/"+msi, false); p.status != http.StatusNotFound {
		t.Errorf("download without MSIDir = %d", p.status)
	}
}
