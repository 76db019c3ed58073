//go:build linux

package agent

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/demo"
)

// TestEndToEndFolderMapping: the admin maps Finance's Reports folder
// (#17 item 2) through the service; the agent mounts it beside the
// whole Finance library, rooted at the folder, and a write lands in the
// folder on the server. When the folder is renamed on the server, the
// drive says so, naming the mapping, and stays mounted with its files.
func TestEndToEndFolderMapping(t *testing.T) {
	requireFUSE(t)
	sim := m365sim.StartForTest(t)
	svcURL, bundle, _ := startService(t, sim)
	putPolicies(t, sim, svcURL, bundle, apitype.Policies{DeltaPollSeconds: 5, DefaultCacheLimitBytes: 1 << 30})
	dc := demo.MustLoad()
	reports := apitype.AdminMapping{Mapping: apitype.Mapping{DisplayName: "Finance Reports", DriveLetter: "R", MountName: "FinanceReports",
		Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: dc.FinanceSiteURL, LibraryName: dc.FinanceLibrary, FolderPath: "/Reports"}},
		Groups: []string{dc.FinanceGroupID}}
	adminCall(t, sim, svcURL, bundle, http.MethodPost, apitype.RouteAdminMappings, reports, nil)

	e := startAgent(t, sim, agentSetup{upn: "alice@contoso.com", svcURL: svcURL, bundle: bundle})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	loginAs(t, ctx, e, "alice@contoso.com")
	st := waitStatus(t, e.c, "Finance and Finance Reports mounted", func(st apitype.Status) bool {
		f, r := driveByName(st, "Finance"), driveByName(st, "Finance Reports")
		return f != nil && f.State == apitype.DriveMounted && r != nil && r.State == apitype.DriveMounted
	})
	rep, fin := driveByName(st, "Finance Reports"), driveByName(st, "Finance")
	if !strings.HasSuffix(rep.Target, "› Documents › Reports") || rep.DriveID != fin.DriveID {
		t.Errorf("Finance Reports = %+v, want the Finance library's drive, described down to its folder", rep)
	}
	ls := func() []string { t.Helper(); return lsDir(t, rep.Mountpoint) }
	if got := ls(); !slices.Equal(got, []string{"Q1.txt"}) {
		t.Fatalf("Finance Reports lists %v, want the folder's children [Q1.txt]", got)
	}
	if b, err := os.ReadFile(filepath.Join(rep.Mountpoint, "Q1.txt")); err != nil || string(b) != "Q1 revenue: 1,234,567\n" {
		t.Errorf("Q1.txt = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(fin.Mountpoint, "Budget 2026.xlsx")); err != nil {
		t.Errorf("the whole library's mount beside it: %v", err)
	}
	if err := os.WriteFile(filepath.Join(rep.Mountpoint, "from-agent.txt"), []byte("written in the folder mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	alice := sim.Admin().As("contoso", "alice")
	eventuallyServer(t, ctx, alice, rep.DriveID, "/Reports/from-agent.txt", "written in the folder mount\n")

	// The folder is renamed on the server.
	if _, err := alice.Move(ctx, rep.DriveID, "/Reports", "", "Reports (old)"); err != nil {
		t.Fatal(err)
	}
	folderMissing := func(st apitype.Status) bool {
		for _, p := range st.Errors {
			if p.Code == apitype.CodeFolderMissing && p.Drive == rep.ID && strings.Contains(p.Message, "Finance Reports") {
				return true
			}
		}
		return false
	}
	waitStatus(t, e.c, "the renamed folder reported by the mount", folderMissing)
	// The next refresh resolves the mapping again: the folder is not at
	// its path, which the drive itself says; it stays mounted.
	if _, err := e.c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, e.c, "the missing folder on the drive", func(st apitype.Status) bool {
		d := driveByName(st, "Finance Reports")
		return d != nil && d.Error != nil && d.Error.Code == apitype.CodeFolderMissing
	})
	if d := driveByName(st, "Finance Reports"); d.State != apitype.DriveMounted || !strings.Contains(d.Error.Message, "Finance Reports") {
		t.Errorf("Finance Reports after its folder was renamed = %+v, want mounted, the problem naming it", d)
	}
	if got := ls(); !slices.Equal(got, []string{"Q1.txt", "from-agent.txt"}) {
		t.Errorf("Finance Reports after its folder was renamed lists %v, want its files kept", got)
	}
}
