package graph_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/graph"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// TestWebURLAndCreateLink runs the link calls against m365sim: the web URL
// of a file (a name with a space) and of a drive's root, a new link (201)
// then the same one (200), a tenant that forbids anonymous links, and a
// missing file.
func TestWebURLAndCreateLink(t *testing.T) {
	sim := m365sim.StartForTest(t)
	ctx := ctxT(t)
	gc := newClient(t, sim, "alice@contoso.com", graph.PacerOptions{})
	my, err := gc.MyDrive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/Documents/Welcome.txt": "https://contoso-my.sharepoint.com/personal/alice_contoso_com/Documents/Documents/Welcome.txt",
		"/":                      "https://contoso-my.sharepoint.com/personal/alice_contoso_com/Documents",
	} {
		if got, err := gc.WebURL(ctx, my.ID, path); err != nil || got != want {
			t.Errorf("WebURL(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
	l, err := gc.CreateLink(ctx, my.ID, "/Pictures/sample.bin", "view", "organization")
	if err != nil || !l.Created || l.Scope != "organization" || l.Type != "view" || !strings.HasPrefix(l.WebURL, "https://contoso.sharepoint.com/") {
		t.Fatalf("CreateLink = %+v, %v; want a new organization view link", l, err)
	}
	again, err := gc.CreateLink(ctx, my.ID, "/Pictures/sample.bin", "view", "organization")
	if err != nil || again.Created || again.WebURL != l.WebURL {
		t.Errorf("CreateLink again = %+v, %v; want the existing link %s", again, err, l.WebURL)
	}
	if _, err := gc.CreateLink(ctx, my.ID, "/Documents/Nope.txt", "view", "organization"); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("CreateLink of a missing file = %v, want ErrNotFound", err)
	}
	if _, err := gc.WebURL(ctx, my.ID, "/Documents/Nope.txt"); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("WebURL of a missing file = %v, want ErrNotFound", err)
	}

	frank := newClient(t, sim, "frank@fabrikam.com", graph.PacerOptions{})
	fd, err := frank.MyDrive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = frank.CreateLink(ctx, fd.ID, "/Secret.txt", "view", "anonymous")
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.StatusCode != http.StatusForbidden || ge.Code != "accessDenied" {
		t.Errorf("anonymous link in fabrikam = %v, want 403 accessDenied", err)
	}
}
