package graph_test

import (
	"fmt"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/graph"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// Discovery follows every @odata.nextLink (issue 13, item 6): with 1,000
// sites alice can reach (the simulator pages at 200, as Graph does), every
// site's library is found; she follows some of them, and each drive is
// listed once.
func TestDiscoveryFollowsEveryPage(t *testing.T) {
	const n = 1000
	seed := directory.DemoSeed()
	contoso := &seed.Tenants[0]
	for i := range n {
		st := directory.Site{Name: fmt.Sprintf("Project%04d", i), Members: []string{"alice"},
			Libraries: []directory.Drive{{Name: "Documents"}}}
		if i%3 == 0 {
			st.Followers = []string{"alice"}
		}
		contoso.Sites = append(contoso.Sites, st)
	}
	sim := m365sim.StartForTest(t, m365sim.WithSeed(seed))
	gc := newClient(t, sim, "alice@contoso.com", graph.PacerOptions{})
	ds, err := gc.Drives(ctxT(t))
	if err != nil {
		t.Fatalf("Drives: %v", err)
	}
	seen := map[string]int{}
	projects := 0
	for _, d := range ds {
		seen[d.ID]++
		if d.Kind == graph.KindSharePoint && len(d.Name) > 7 && d.Name[:7] == "Project" {
			projects++
		}
	}
	if projects != n {
		t.Errorf("found the libraries of %d of the %d project sites", projects, n)
	}
	for id, k := range seen {
		if k > 1 {
			t.Errorf("drive %s listed %d times", id, k)
		}
	}
}

// A mapping with no library names the site's default library, found
// through /sites/{id}/drive whatever its localized name, never by the
// name "Documents".
func TestDriveByURLDefaultLibraryIsNotFoundByName(t *testing.T) {
	seed := directory.DemoSeed()
	seed.Tenants[0].Sites = append(seed.Tenants[0].Sites, directory.Site{Name: "Berlin", Members: []string{"alice"},
		Libraries: []directory.Drive{{Name: "Dokumente"}, {Name: "Documents"}}})
	sim := m365sim.StartForTest(t, m365sim.WithSeed(seed))
	gc := newClient(t, sim, "alice@contoso.com", graph.PacerOptions{})
	d, err := gc.DriveByURL(ctxT(t), "https://contoso.sharepoint.com/sites/Berlin", "")
	if err != nil {
		t.Fatalf("DriveByURL: %v", err)
	}
	if d.Library != "Dokumente" {
		t.Errorf("default library = %q (%+v), want the site's own default, Dokumente", d.Library, d)
	}
}

// A mapping may name the tenant's root site by its host alone.
func TestDriveByURLHostOnlyIsTheRootSite(t *testing.T) {
	seed := directory.DemoSeed()
	seed.Tenants[0].Sites = append(seed.Tenants[0].Sites, directory.Site{Name: "root", DisplayName: "Contoso", Path: "/",
		Members: []string{"*"}, Libraries: []directory.Drive{{Name: "Documents"}}})
	sim := m365sim.StartForTest(t, m365sim.WithSeed(seed))
	gc := newClient(t, sim, "alice@contoso.com", graph.PacerOptions{})
	for _, u := range []string{"https://contoso.sharepoint.com", "https://contoso.sharepoint.com/"} {
		d, err := gc.DriveByURL(ctxT(t), u, "")
		if err != nil || d.Library != "Documents" || d.SiteURL != "https://contoso.sharepoint.com/" {
			t.Errorf("DriveByURL(%s) = %+v, %v; want the root site's library", u, d, err)
		}
	}
}
