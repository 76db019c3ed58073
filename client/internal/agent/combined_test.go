package agent

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// TestCombinedDriveKeepsItsLibrariesOffline: a combined mapping mounts
// with the libraries that resolve (one out of reach is left out, without
// a problem); a refresh while Graph is unreachable keeps the set rather
// than dropping the libraries it cannot check.
func TestCombinedDriveKeepsItsLibrariesOffline(t *testing.T) {
	h := start(t, setup{auth: newFakeAuth().signedIn()})
	ctx := context.Background()
	h.waitFor("Finance auto-mounted", mounted("Finance"))
	sp := func(name, site string) apitype.CombinedMember {
		return apitype.CombinedMember{Name: name, Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: site, LibraryName: "Documents"}}
	}
	h.svc.assign(apitype.Mapping{ID: "map-company", DisplayName: "Company", MountName: "Company", OfflinePin: apitype.PinAllowed,
		Target: apitype.Target{Kind: apitype.TargetCombined, Members: []apitype.CombinedMember{
			sp("Marketing", marketing.SiteURL),
			sp("Nowhere", "https://contoso.sharepoint.com/sites/Nowhere"),
			{Name: "Home", Target: apitype.Target{Kind: apitype.TargetOneDrive}},
		}}})
	names := func() []string {
		fm := h.mnt.get(filepath.Join(h.cfg.MountRoot, "Company"))
		if fm == nil {
			return nil
		}
		var out []string
		for _, m := range fm.spec.Drive.Members {
			out = append(out, m.Name+"="+m.Drive.ID)
		}
		return out
	}
	st, err := h.c.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Marketing=" + marketing.ID, "Home=" + oneDrive.ID}
	if got := names(); !slices.Equal(got, want) {
		t.Fatalf("Company mounted with %v, want %v", got, want)
	}
	d := driveByName(st, "Company")
	if d == nil || d.Kind != KindCombined || d.Target != "2 libraries: Marketing, Home" || d.Error != nil || d.State != apitype.DriveMounted {
		t.Fatalf("Company = %+v", d)
	}

	h.dir.mu.Lock()
	h.dir.offline = true
	h.dir.mu.Unlock()
	st, _ = h.c.Refresh(ctx)
	if d := driveByName(st, "Company"); d == nil || d.Target != "2 libraries: Marketing, Home" || d.State != apitype.DriveMounted {
		t.Errorf("Company after an offline refresh = %+v, want its two libraries kept", d)
	}
}
