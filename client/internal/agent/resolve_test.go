package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/auth/authtest"
	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/client/internal/graph"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// TestResolveByIDAgainstSim resolves drive-id and Team mappings through the
// graph client against m365sim: a drive or group the user may not see, or
// one that does not exist, is ErrNotFound, never a bare 403.
func TestResolveByIDAgainstSim(t *testing.T) {
	sim := m365sim.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	newDir := func(upn string) *graphDirectory {
		ac := authtest.SignIn(t, sim, "contoso", upn)
		gc, err := graph.New(graph.Config{Base: sim.GraphURL(), Tokens: ac, Scopes: ac.GraphScopes(), CAFile: sim.CAFile()})
		if err != nil {
			t.Fatal(err)
		}
		return &graphDirectory{gc: gc}
	}
	alice := newDir("alice@contoso.com")
	drives, err := alice.gc.Drives(ctx)
	if err != nil {
		t.Fatalf("Drives: %v", err)
	}
	var team graph.Drive
	for _, d := range drives {
		if d.Kind == graph.KindTeam && d.GroupID != "" {
			team = d
			break
		}
	}
	if team.ID == "" {
		t.Fatalf("alice has no Team drive in %+v", drives)
	}
	got, err := alice.Resolve(ctx, apitype.Target{Kind: apitype.TargetDriveID, DriveID: team.ID})
	if err != nil || got.ID != team.ID {
		t.Errorf("Resolve(drive id %s) = %+v, %v", team.ID, got, err)
	}
	got, err = alice.Resolve(ctx, apitype.Target{Kind: apitype.TargetTeam, GroupID: team.GroupID})
	if err != nil || got.ID != team.ID || got.Kind != string(graph.KindTeam) {
		t.Errorf("Resolve(team %s) = %+v, %v; want drive %s of kind team", team.GroupID, got, err, team.ID)
	}
	for _, tg := range []apitype.Target{
		{Kind: apitype.TargetDriveID, DriveID: "b!nosuchdrive"},
		{Kind: apitype.TargetTeam, GroupID: "00000000-0000-0000-0000-000000000000"},
		// A site of another tenant, and one that does not exist: out of
		// reach either way, which leaves them out of a combined drive.
		{Kind: apitype.TargetSharePoint, SiteURL: "https://fabrikam.sharepoint.com/sites/Sales", LibraryName: "Documents"},
		{Kind: apitype.TargetSharePoint, SiteURL: "https://contoso.sharepoint.com/sites/NoSuchSite", LibraryName: "Documents"},
	} {
		if _, err := alice.Resolve(ctx, tg); !errors.Is(err, failure.NotFound) {
			t.Errorf("Resolve(%+v) = %v, want ErrNotFound", tg, err)
		}
	}
	// Another user's OneDrive: Graph answers 403, which still means "not a
	// drive of this user".
	my, err := alice.gc.MyDrive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, upn := range []string{"bob@contoso.com"} {
		other := newDir(upn)
		_, err := other.Resolve(ctx, apitype.Target{Kind: apitype.TargetDriveID, DriveID: my.ID})
		if !errors.Is(err, failure.NotFound) {
			t.Errorf("%s resolving alice's OneDrive = %v, want ErrNotFound", upn, err)
		}
		t.Logf("%s resolving alice's OneDrive: %v", upn, err)
	}
	// A site of the user's own tenant that they are neither a member nor
	// a visitor of: Graph answers 403 accessDenied at the site lookup
	// (m365sim's TestConformanceSiteAccessChangesAtOnce), which leaves
	// the library out of reach, as a missing one is, not failed.
	marketing := apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: "https://contoso.sharepoint.com/sites/Marketing", LibraryName: "Documents"}
	_, err = newDir("admin@contoso.com").Resolve(ctx, marketing)
	if !errors.Is(err, failure.NotFound) || !errors.Is(err, vfs.ErrAccessDenied) {
		t.Errorf("admin resolving Marketing, a site they have no role on = %v, want ErrNotFound from a 403", err)
	}
}
