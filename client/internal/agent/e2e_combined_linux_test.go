//go:build linux

package agent

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/demo"
)

// TestEndToEndCombinedDrive: the admin defines one drive, "Company"
// (#17 item 1), whose top-level folders are Finance's and Marketing's
// libraries, Fabrikam's Sales site, which alice cannot reach, and
// Finance's Archive folder, which does not exist yet. Through the service
// the agent mounts it with the two libraries alice reaches; Sales and
// Archive are simply absent, with no problem reported. When Archive comes
// into reach on the server it appears at the next refresh; when the admin
// takes Marketing out of the mapping, and when Archive goes out of reach
// again (deleted), they disappear, all without a remount (an open
// directory in the mount stays usable). A move across libraries is EXDEV,
// a folder made at the top is refused and said in status, and a link
// names the item in its own library.
func TestEndToEndCombinedDrive(t *testing.T) {
	dc := demo.MustLoad()
	marketingURL := strings.Replace(dc.FinanceSiteURL, "/Finance", "/Marketing", 1)
	c := mountCompany(t,
		companyLibrary("Finance", dc.FinanceSiteURL, ""),
		companyLibrary("Marketing", marketingURL, ""),
		companyLibrary("Sales", "https://fabrikam.sharepoint.com/sites/Sales", ""),
		companyLibrary("Archive", dc.FinanceSiteURL, "/Archive"))
	sim, svcURL, bundle, created, e, ctx, st := c.sim, c.svcURL, c.bundle, c.created, c.e, c.ctx, c.st
	co := driveByName(st, "Company")
	if co.Kind != "combined" || co.Target != "2 libraries: Finance, Marketing" || co.Error != nil {
		t.Errorf("Company = %+v, want a combined drive of the two libraries alice reaches, without a problem", co)
	}
	for _, p := range st.Errors {
		if p.Drive == co.ID {
			t.Errorf("a problem for the combined drive: %+v", p)
		}
	}
	ls := func(rel string) []string { t.Helper(); return lsDir(t, filepath.Join(co.Mountpoint, rel)) }
	if got := ls("."); !slices.Equal(got, []string{"Finance", "Marketing"}) {
		t.Fatalf("Company lists %v, want [Finance Marketing]", got)
	}
	if b, err := os.ReadFile(filepath.Join(co.Mountpoint, "Finance", "Reports", "Q1.txt")); err != nil || string(b) != "Q1 revenue: 1,234,567\n" {
		t.Errorf("Finance/Reports/Q1.txt = %q, %v", b, err)
	}
	// A link names the item in its own library.
	if l, err := e.c.WebURL(ctx, apitype.LinkRequest{Path: filepath.Join(co.Mountpoint, "Finance", "Reports", "Q1.txt")}); err != nil ||
		!strings.Contains(l.WebURL, "/sites/Finance/") || !strings.HasSuffix(l.WebURL, "/Reports/Q1.txt") {
		t.Errorf("web URL of Finance/Reports/Q1.txt = %+v, %v", l, err)
	}
	if _, err := e.c.WebURL(ctx, apitype.LinkRequest{Path: co.Mountpoint}); err == nil {
		t.Error("a web URL for the combined drive's top, which is no item")
	}
	// A directory held open across the changes below: a remount would
	// turn it stale (ENOTCONN).
	held, err := os.Open(filepath.Join(co.Mountpoint, "Finance"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	if err := os.WriteFile(filepath.Join(co.Mountpoint, "Finance", "from-agent.txt"), []byte("written in Company\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	alice := sim.Admin().As("contoso", "alice")
	finID := driveIDOf(t, ctx, alice, dc.FinanceSiteURL)
	eventuallyServer(t, ctx, alice, finID, "/from-agent.txt", "written in Company\n")
	if err := syscall.Rename(filepath.Join(co.Mountpoint, "Finance", "from-agent.txt"), filepath.Join(co.Mountpoint, "Marketing", "x.txt")); err != syscall.EXDEV {
		t.Errorf("rename across libraries = %v, want EXDEV", err)
	}

	// A folder made at the top is refused, and status says why.
	if err := os.Mkdir(filepath.Join(co.Mountpoint, "Sales"), 0o755); err == nil || !os.IsPermission(err) {
		t.Errorf("mkdir at the combined drive's top = %v, want permission denied", err)
	}
	waitStatus(t, e.c, "the refused mkdir in status", func(st apitype.Status) bool {
		for _, p := range st.Errors {
			if p.Code == apitype.CodeCombinedTop && p.Drive == co.ID && strings.HasPrefix(p.Message, "/Sales: ") {
				return true
			}
		}
		return false
	})

	// Archive comes into reach: it appears at the next refresh.
	if _, err := alice.Mkdir(ctx, finID, "/", "Archive"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Upload(ctx, finID, "/Archive/2025.txt", []byte("archived\n")); err != nil {
		t.Fatal(err)
	}
	refreshUntilTarget(t, ctx, e, "Archive in Company", "3 libraries: Finance, Marketing, Archive")
	if got := ls("."); !slices.Equal(got, []string{"Archive", "Finance", "Marketing"}) {
		t.Fatalf("Company after Archive came into reach lists %v", got)
	}
	if b, err := os.ReadFile(filepath.Join(co.Mountpoint, "Archive", "2025.txt")); err != nil || string(b) != "archived\n" {
		t.Errorf("Archive/2025.txt = %q, %v", b, err)
	}

	// The admin takes Marketing out: it disappears at the next refresh.
	created.Target.Members = slices.DeleteFunc(created.Target.Members, func(m apitype.CombinedMember) bool { return m.Name == "Marketing" })
	adminCall(t, sim, svcURL, bundle, http.MethodPut, strings.ReplaceAll(apitype.RouteAdminMapping, "{id}", created.ID), created, nil)
	refreshUntilTarget(t, ctx, e, "Marketing gone from Company", "2 libraries: Finance, Archive")
	if got := ls("."); !slices.Equal(got, []string{"Archive", "Finance"}) {
		t.Errorf("Company after Marketing was taken out lists %v", got)
	}
	// Archive goes out of reach (deleted on the server): it disappears at
	// the next refresh, with no problem reported.
	if err := alice.Delete(ctx, finID, "/Archive"); err != nil {
		t.Fatal(err)
	}
	st = refreshUntilTarget(t, ctx, e, "Archive gone from Company", "1 library: Finance")
	if got := ls("."); !slices.Equal(got, []string{"Finance"}) {
		t.Errorf("Company after Archive went out of reach lists %v", got)
	}
	if d := driveByName(st, "Company"); d.Error != nil || d.State != apitype.DriveMounted {
		t.Errorf("Company after Archive went out of reach = %+v, want mounted without a problem", d)
	}
	if names, err := held.Readdirnames(-1); err != nil || !slices.Contains(names, "from-agent.txt") {
		t.Errorf("the directory held open across the changes: %v, %v; want it still usable (no remount)", names, err)
	}
}

// TestEndToEndCombinedDriveSiteAccess: a user's access to a library of a
// combined drive changes at runtime (#17 item 1, "the set is refreshed
// when ... the user's access changes"). The admin takes alice out of the
// Marketing site while "Company" (Finance and Marketing) is mounted and a
// change of hers in Marketing waits to upload: at the next refresh
// Marketing is gone from the drive's root, Graph's 403 on the site being
// "out of reach", not an error, and the waiting change stays in the
// library's journal. Given back her access, Marketing reappears, the
// change is still there, and it uploads.
func TestEndToEndCombinedDriveSiteAccess(t *testing.T) {
	dc := demo.MustLoad()
	marketingURL := strings.Replace(dc.FinanceSiteURL, "/Finance", "/Marketing", 1)
	c := mountCompany(t, companyLibrary("Finance", dc.FinanceSiteURL, ""), companyLibrary("Marketing", marketingURL, ""))
	sim, e, ctx, st := c.sim, c.e, c.ctx, c.st
	if d := driveByName(st, "Company"); d.Target != "2 libraries: Finance, Marketing" {
		t.Fatalf("Company = %+v, want both libraries", d)
	}
	co := driveByName(st, "Company")
	alice := sim.Admin().As("contoso", "alice")
	mktID, finID := driveIDOf(t, ctx, alice, marketingURL), driveIDOf(t, ctx, alice, dc.FinanceSiteURL)

	// A change in Marketing that waits to upload.
	if err := e.c.PauseUploads(ctx); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(co.Mountpoint, "Marketing", "kept.txt")
	if err := os.WriteFile(kept, []byte("written before the revocation\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e.c, "the change pending", func(st apitype.Status) bool {
		d := driveByName(st, "Company")
		return d != nil && d.PendingUploads > 0
	})

	// The admin takes alice out of the Marketing site.
	if err := sim.Admin().RemoveFromSite(ctx, "contoso", "Marketing", "alice"); err != nil {
		t.Fatal(err)
	}
	st = refreshUntilTarget(t, ctx, e, "Marketing gone from Company", "1 library: Finance")
	if got := lsDir(t, co.Mountpoint); !slices.Equal(got, []string{"Finance"}) {
		t.Errorf("Company after alice lost Marketing lists %v, want [Finance]", got)
	}
	d := driveByName(st, "Company")
	if d.State != apitype.DriveMounted || d.Error != nil {
		t.Errorf("Company after alice lost Marketing = %+v, want mounted without a problem", d)
	}
	for _, p := range st.Errors {
		if p.Drive == co.ID {
			t.Errorf("a problem for the combined drive after alice lost Marketing: %+v", p)
		}
	}
	// The waiting change is not dropped: it stays in Marketing's journal,
	// and the drive still counts it. A change in Finance made now is
	// counted in a later sample than the revocation: both must be.
	after := filepath.Join(co.Mountpoint, "Finance", "after.txt")
	if err := os.WriteFile(after, []byte("written after the revocation\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e.c, "the changes to Marketing and Finance both pending", func(st apitype.Status) bool {
		d := driveByName(st, "Company")
		return d != nil && d.PendingUploads >= 2
	})

	// Given back her access, Marketing reappears with the change, which
	// then uploads.
	if err := sim.Admin().SetSiteRole(ctx, "contoso", "Marketing", "alice", m365sim.SiteMember); err != nil {
		t.Fatal(err)
	}
	refreshUntilTarget(t, ctx, e, "Marketing back in Company", "2 libraries: Finance, Marketing")
	if got := lsDir(t, co.Mountpoint); !slices.Equal(got, []string{"Finance", "Marketing"}) {
		t.Errorf("Company after alice got Marketing back lists %v", got)
	}
	if b, err := os.ReadFile(kept); err != nil || string(b) != "written before the revocation\n" {
		t.Errorf("Marketing/kept.txt after alice got Marketing back = %q, %v", b, err)
	}
	if err := e.c.ResumeUploads(ctx); err != nil {
		t.Fatal(err)
	}
	eventuallyServer(t, ctx, alice, mktID, "/kept.txt", "written before the revocation\n")
	eventuallyServer(t, ctx, alice, finID, "/after.txt", "written after the revocation\n")
	waitStatus(t, e.c, "nothing pending", func(st apitype.Status) bool {
		d := driveByName(st, "Company")
		return d != nil && d.PendingUploads == 0
	})
}

// company is a running combined drive "Company" of alice's, mounted
// through the service.
type company struct {
	sim            *m365sim.Sim
	svcURL, bundle string
	created        apitype.AdminMapping // the mapping as the service stored it
	e              *realAgent
	ctx            context.Context // the test's: 3 minutes
	st             apitype.Status  // once Company was mounted
}

// mountCompany starts m365sim, the service and an agent signed in as
// alice, maps the combined drive "Company" of members for everyone, and
// waits until it is mounted.
func mountCompany(t *testing.T, members ...apitype.CombinedMember) company {
	t.Helper()
	requireFUSE(t)
	c := company{sim: m365sim.StartForTest(t)}
	c.svcURL, c.bundle, _ = startService(t, c.sim)
	putPolicies(t, c.sim, c.svcURL, c.bundle, apitype.Policies{DeltaPollSeconds: 5, DefaultCacheLimitBytes: 1 << 30})
	mapping := apitype.AdminMapping{Mapping: apitype.Mapping{DisplayName: "Company", DriveLetter: "S", MountName: "Company",
		Target: apitype.Target{Kind: apitype.TargetCombined, Members: members}}, Everyone: true}
	adminCall(t, c.sim, c.svcURL, c.bundle, http.MethodPost, apitype.RouteAdminMappings, mapping, &c.created)
	c.e = startAgent(t, c.sim, agentSetup{upn: "alice@contoso.com", svcURL: c.svcURL, bundle: c.bundle})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	c.ctx = ctx
	loginAs(t, ctx, c.e, "alice@contoso.com")
	c.st = waitStatus(t, c.e.c, "Company mounted", func(st apitype.Status) bool {
		d := driveByName(st, "Company")
		return d != nil && d.State == apitype.DriveMounted
	})
	return c
}

// companyLibrary is a library of Company: the demo's default library of
// site, or its folder.
func companyLibrary(name, site, folder string) apitype.CombinedMember {
	return apitype.CombinedMember{Name: name, Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: site,
		LibraryName: demo.MustLoad().FinanceLibrary, FolderPath: folder}}
}

// refreshUntilTarget asks the agent to refresh, then waits until the
// Company drive's target reads want.
func refreshUntilTarget(t *testing.T, ctx context.Context, e *realAgent, what, want string) apitype.Status {
	t.Helper()
	if _, err := e.c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	return waitStatus(t, e.c, what, func(st apitype.Status) bool {
		d := driveByName(st, "Company")
		return d != nil && d.Target == want
	})
}

// driveIDOf finds the drive id of a site's Documents library as alice.
func driveIDOf(t *testing.T, ctx context.Context, u *m365sim.UserClient, siteURL string) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	host, path, _ := strings.Cut(strings.TrimPrefix(siteURL, "https://"), "/")
	if err := u.JSON(ctx, http.MethodGet, "/v1.0/sites/"+host+":/"+path+":/drive", nil, &out); err != nil || out.ID == "" {
		t.Fatalf("drive of %s: %q, %v", siteURL, out.ID, err)
	}
	return out.ID
}

// lsDir lists dir's names, sorted.
func lsDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ls %s: %v", dir, err)
	}
	var out []string
	for _, de := range ents {
		out = append(out, de.Name())
	}
	return out
}

// eventuallyServer waits until the server holds want at p in drive id.
func eventuallyServer(t *testing.T, ctx context.Context, u *m365sim.UserClient, id, p, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := u.Download(ctx, id, p)
		if err == nil && string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on the server = %q, %v; want %q", p, b, err, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
