//go:build linux

package agent

// End-to-end for links: the real mapdrive-service sets the tenant's link
// scope policy, the real agent mounts Finance through FUSE from m365sim,
// and the web URL and sharing link of files in the mount follow the policy.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/localclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

func TestEndToEndLinks(t *testing.T) {
	requireFUSE(t)
	sim := m365sim.StartForTest(t)
	svcURL, bundle, _ := startService(t, sim)
	pol := apitype.Policies{DeltaPollSeconds: 60, DefaultCacheLimitBytes: 1 << 30, LinkScope: apitype.LinkScopeOrganization}
	putPolicies(t, sim, svcURL, bundle, pol)

	r := startAgent(t, sim, agentSetup{upn: "alice@contoso.com", svcURL: svcURL, bundle: bundle})
	c := r.c
	tctx, tcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer tcancel()
	loginAs(t, tctx, r, "alice@contoso.com")
	st := waitStatus(t, c, "Finance mounted", func(st apitype.Status) bool {
		d := driveByName(st, "Finance")
		return d != nil && d.State == apitype.DriveMounted || st.Licence.State == apitype.LicenceRefused
	})
	fin := driveByName(st, "Finance")
	if fin == nil || fin.State != apitype.DriveMounted {
		t.Fatalf("Finance = %+v, licence %+v", fin, st.Licence)
	}

	// A file seeded on the server, seen through the mount.
	q1 := filepath.Join(fin.Mountpoint, "Reports", "Q1.txt")
	if _, err := os.Stat(q1); err != nil {
		t.Fatalf("stat through the mount: %v", err)
	}
	w, err := c.WebURL(tctx, apitype.LinkRequest{Path: q1})
	if want := "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Reports/Q1.txt"; err != nil || w.WebURL != want || w.Path != "/Reports/Q1.txt" {
		t.Errorf("WebURL(%s) = %+v, %v; want %s", q1, w, err, want)
	}
	l, err := c.Link(tctx, apitype.LinkRequest{Path: q1})
	if err != nil || l.Scope != apitype.LinkScopeOrganization || !strings.HasPrefix(l.URL, "https://contoso.sharepoint.com/:u:/") {
		t.Fatalf("Link(%s) = %+v, %v; want an organization link", q1, l, err)
	}
	// Graph holds that link for Mapdrive's app at organization scope: the
	// same request answers 200 with the same URL.
	if status, got := createLinkAsAlice(t, sim, fin.DriveID, "/Reports/Q1.txt", "organization"); status != http.StatusOK || got != l.URL {
		t.Errorf("createLink organization as Mapdrive = %d %q, want 200 with the agent's link %q", status, got, l.URL)
	}

	// A file written through the mount gets a link once it is uploaded.
	fresh := filepath.Join(fin.Mountpoint, "Reports", "Q2 draft.txt")
	if err := os.WriteFile(fresh, []byte("Q2 so far\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		if got, err := sim.Admin().As("contoso", "alice").Download(tctx, fin.DriveID, "/Reports/Q2 draft.txt"); err == nil && string(got) == "Q2 so far\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Q2 draft.txt not uploaded within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if l2, err := c.Link(tctx, apitype.LinkRequest{Path: fresh}); err != nil || l2.Path != "/Reports/Q2 draft.txt" || l2.URL == "" || l2.URL == l.URL {
		t.Errorf("Link of a file written through the mount = %+v, %v", l2, err)
	}

	// The admin disables links: a clear error naming the policy; the web
	// URL still works.
	pol.LinkScope = apitype.LinkScopeNone
	putPolicies(t, sim, svcURL, bundle, pol)
	if _, err := c.Refresh(tctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.Link(tctx, apitype.LinkRequest{Path: q1})
	if localclient.Code(err) != apitype.CodeLinksDisabled || !strings.Contains(err.Error(), "link scope: none") || !strings.Contains(err.Error(), "Mapdrive portal") {
		t.Errorf("Link with links disabled = %v, want %s naming the policy and the fix", err, apitype.CodeLinksDisabled)
	}
	if _, err := c.WebURL(tctx, apitype.LinkRequest{Path: q1}); err != nil {
		t.Errorf("WebURL with links disabled = %v", err)
	}

	// Anonymous links, which contoso's SharePoint allows.
	pol.LinkScope = apitype.LinkScopeAnonymous
	putPolicies(t, sim, svcURL, bundle, pol)
	if _, err := c.Refresh(tctx); err != nil {
		t.Fatal(err)
	}
	if la, err := c.Link(tctx, apitype.LinkRequest{Path: q1}); err != nil || la.Scope != apitype.LinkScopeAnonymous || la.URL == l.URL {
		t.Errorf("Link under the anonymous policy = %+v, %v", la, err)
	}
	_, err = c.Link(tctx, apitype.LinkRequest{Path: filepath.Join(t.TempDir(), "elsewhere.txt")})
	if localclient.Code(err) != apitype.CodeNotInDrive {
		t.Errorf("Link outside the mounts = %v, want %s", err, apitype.CodeNotInDrive)
	}
}

// createLinkAsAlice asks m365sim's Graph, as alice through Mapdrive's app,
// for a view link at scope, and returns the status and link URL.
func createLinkAsAlice(t *testing.T, sim *m365sim.Sim, driveID, path, scope string) (int, string) {
	t.Helper()
	tok, err := sim.Entra().MintAccessToken(directory.DemoContosoID, "alice", directory.DemoClientID, []string{"Files.ReadWrite.All"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"type": "view", "scope": scope})
	req, _ := http.NewRequest(http.MethodPost, sim.GraphURL()+"/drives/"+driveID+"/root:"+strings.ReplaceAll(path, " ", "%20")+":/createLink", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := sim.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Link struct {
			WebURL string `json:"webUrl"`
		} `json:"link"`
	}
	json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p.Link.WebURL
}
