package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// fakeLinks records the link calls it gets.
type fakeLinks struct {
	mu    sync.Mutex
	calls []string // "web driveID path", "create driveID path type scope"
	err   error    // returned by CreateLink when set
}

func (f *fakeLinks) WebURL(ctx context.Context, driveID, path string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "web "+driveID+" "+path)
	return "https://web.example" + path, nil
}

func (f *fakeLinks) CreateLink(ctx context.Context, driveID, path, linkType, scope string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "create "+driveID+" "+path+" "+linkType+" "+scope)
	if f.err != nil {
		return "", f.err
	}
	return "https://share.example/" + scope + path, nil
}

func (f *fakeLinks) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// TestLinkFollowsPolicy: a path inside a mounted drive becomes that drive
// and a drive-relative path; the link's scope is the tenant's policy
// (organization when the service sends none), never wider; "none" and a
// scope Microsoft 365 refuses are clear errors that name the fix.
func TestLinkFollowsPolicy(t *testing.T) {
	svc := newLeaseService(t)
	fl := &fakeLinks{}
	h := start(t, setup{auth: newFakeAuth().signedIn(), svc: svc, links: fl})
	st := h.waitFor("Finance mounted", mounted("Finance"))
	mp := driveByName(st, "Finance").Mountpoint
	ctx := context.Background()
	file := filepath.Join(mp, "Reports", "Q1 final.txt")

	l, err := h.c.Link(ctx, apitype.LinkRequest{Path: file})
	if err != nil {
		t.Fatal(err)
	}
	if l.Scope != apitype.LinkScopeOrganization || l.Path != "/Reports/Q1 final.txt" || l.URL != "https://share.example/organization/Reports/Q1 final.txt" ||
		l.WebURL != "https://web.example/Reports/Q1 final.txt" || l.Drive != financeMapping.ID {
		t.Errorf("Link(%s) = %+v, want an organization link to /Reports/Q1 final.txt of Finance", file, l)
	}
	if got, want := strings.Join(fl.take(), "; "), "web b!finance-docs /Reports/Q1 final.txt; create b!finance-docs /Reports/Q1 final.txt view organization"; got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
	w, err := h.c.WebURL(ctx, apitype.LinkRequest{Path: mp})
	if err != nil || w.Path != "/" || w.WebURL != "https://web.example/" || w.URL != "" {
		t.Errorf("WebURL(mountpoint) = %+v, %v; want the root's web URL only", w, err)
	}
	if w, err := h.c.WebURL(ctx, apitype.LinkRequest{Drive: "Finance", Path: "Reports"}); err != nil || w.Path != "/Reports" {
		t.Errorf("WebURL(Finance, Reports) = %+v, %v", w, err)
	}
	fl.take()

	_, err = h.c.Link(ctx, apitype.LinkRequest{Path: filepath.Join(filepath.Dir(mp), "elsewhere", "x.txt")})
	wantCode(t, "Link outside every drive", err, apitype.CodeNotInDrive)
	_, err = h.c.Link(ctx, apitype.LinkRequest{Path: mp + "-other/x.txt"})
	wantCode(t, "Link beside the mountpoint", err, apitype.CodeNotInDrive)
	_, err = h.c.Link(ctx, apitype.LinkRequest{Path: "Reports/Q1.txt"})
	wantCode(t, "Link of a relative path", err, apitype.CodeBadRequest)

	for _, scope := range []string{apitype.LinkScopeAnonymous, apitype.LinkScopeUsers} {
		svc.mu.Lock()
		svc.policies.LinkScope = scope
		svc.mu.Unlock()
		if _, err := h.c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if l, err := h.c.Link(ctx, apitype.LinkRequest{Path: file}); err != nil || l.Scope != scope {
			t.Errorf("Link under policy %s = %+v, %v", scope, l, err)
		}
		if c := fl.take(); len(c) != 2 || !strings.HasSuffix(c[1], " view "+scope) {
			t.Errorf("calls under policy %s = %q", scope, c)
		}
	}

	svc.mu.Lock()
	svc.policies.LinkScope = apitype.LinkScopeNone
	svc.mu.Unlock()
	if _, err := h.c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = h.c.Link(ctx, apitype.LinkRequest{Path: file})
	wantCode(t, "Link with links disabled", err, apitype.CodeLinksDisabled)
	if msg := err.Error(); !strings.Contains(msg, "link scope: none") || !strings.Contains(msg, "Sharing links") {
		t.Errorf("disabled links error = %q, want it to name the policy and where to change it", msg)
	}
	if c := fl.take(); len(c) != 0 {
		t.Errorf("links disabled, yet Graph was called: %q", c)
	}
	if _, err := h.c.WebURL(ctx, apitype.LinkRequest{Path: file}); err != nil {
		t.Errorf("WebURL with links disabled = %v, want it to still work", err)
	}

	svc.mu.Lock()
	svc.policies.LinkScope = "everyone"
	svc.mu.Unlock()
	if _, err := h.c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = h.c.Link(ctx, apitype.LinkRequest{Path: file})
	wantCode(t, "Link under an unknown scope", err, apitype.CodeLinksDisabled)

	svc.mu.Lock()
	svc.policies.LinkScope = apitype.LinkScopeAnonymous
	svc.mu.Unlock()
	if _, err := h.c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	fl.mu.Lock()
	fl.err = fmt.Errorf("%w: graph: HTTP 403 accessDenied", ErrLinkRefused)
	fl.mu.Unlock()
	_, err = h.c.Link(ctx, apitype.LinkRequest{Path: file})
	wantCode(t, "Link SharePoint refuses", err, apitype.CodeLinksDisabled)
	if !strings.Contains(err.Error(), `"anonymous"`) {
		t.Errorf("refused link error = %q, want it to name the scope", err)
	}
	fl.mu.Lock()
	fl.err = fmt.Errorf("%w: graph: HTTP 404 itemNotFound", failure.NotFound)
	fl.mu.Unlock()
	_, err = h.c.Link(ctx, apitype.LinkRequest{Path: file})
	wantCode(t, "Link of a file not uploaded yet", err, apitype.CodeNotFound)
}

func TestInsideMount(t *testing.T) {
	tests := []struct {
		mp, p, want string
		ok          bool
	}{
		{"/m/Finance", "/m/Finance", "/", true},
		{"/m/Finance", "/m/Finance/", "/", true},
		{"/m/Finance", "/m/Finance/a/b c.txt", "/a/b c.txt", true},
		{"/m/Finance", "/m/Finance/../Other/x", "", false},
		{"/m/Finance", "/m/Finance2/x", "", false},
		{"/m/Finance", "/m", "", false},
		{"F:", `F:\Reports\Q1.txt`, "/Reports/Q1.txt", true},
		{"F:", `f:\`, "/", true},
		{"F:", `G:\Reports`, "", false},
	}
	for _, tt := range tests {
		if runtime.GOOS == "windows" && strings.HasPrefix(tt.mp, "/") {
			continue
		}
		got, ok := insideMount(tt.mp, tt.p)
		if got != tt.want || ok != tt.ok {
			t.Errorf("insideMount(%q, %q) = %q, %v; want %q, %v", tt.mp, tt.p, got, ok, tt.want, tt.ok)
		}
	}
}

// TestResolveLinkDeepestMount: a drive mounted inside another's folder
// owns the paths below its own mountpoint; unmounted drives own none.
func TestResolveLinkDeepestMount(t *testing.T) {
	a := &Agent{}
	a.st.drives = map[string]*drive{
		"outer":  {info: apitype.Drive{Mountpoint: "/m/Outer"}, remote: RemoteDrive{ID: "b!outer"}, mount: &fakeMount{}},
		"inner":  {info: apitype.Drive{Mountpoint: "/m/Outer/Inner"}, remote: RemoteDrive{ID: "b!inner"}, mount: &fakeMount{}},
		"parked": {info: apitype.Drive{Mountpoint: "/m/Parked"}, remote: RemoteDrive{ID: "b!parked"}},
		// A folder mapping: its paths are the folder's in Graph's drive.
		"reports": {info: apitype.Drive{Mountpoint: "/m/Reports"}, remote: RemoteDrive{ID: "b!fin", RootPath: "/Reports", RootID: "01R"}, mount: &fakeMount{}},
	}
	for p, want := range map[string]linkTarget{
		"/m/Outer/a.txt":         {key: "outer", driveID: "b!outer", path: "/a.txt", remote: "/a.txt"},
		"/m/Outer/Inner/b/c.txt": {key: "inner", driveID: "b!inner", path: "/b/c.txt", remote: "/b/c.txt"},
		"/m/Outer/Inner":         {key: "inner", driveID: "b!inner", path: "/", remote: "/"},
		"/m/Reports/Q1.txt":      {key: "reports", driveID: "b!fin", path: "/Q1.txt", remote: "/Reports/Q1.txt"},
		"/m/Reports":             {key: "reports", driveID: "b!fin", path: "/", remote: "/Reports"},
	} {
		for range 20 { // map order varies: every order must give the same answer
			if got, err := a.resolveLink(apitype.LinkRequest{Path: p}); err != nil || got != want {
				t.Fatalf("resolveLink(%s) = %+v, %v; want %+v", p, got, err, want)
			}
		}
	}
	if _, err := a.resolveLink(apitype.LinkRequest{Path: "/m/Parked/x"}); err == nil || err.Code != apitype.CodeNotInDrive {
		t.Errorf("resolveLink in an unmounted drive = %v, want %s", err, apitype.CodeNotInDrive)
	}
}
