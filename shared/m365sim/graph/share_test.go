package graph

import (
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Contract (driveItem: createLink,
// https://learn.microsoft.com/graph/api/driveitem-createlink): "The
// response will be 201 Created if a new sharing link is created for the
// item or 200 OK if an existing link is returned"; the body is a
// permission whose link carries type, scope and webUrl; a link of another
// type or scope is a new link.
func TestCreateLinkNewThenExisting(t *testing.T) {
	e := newEnv(t)
	path := "/v1.0/drives/" + e.library("contoso", "Finance", "Documents") + "/root:/Reports/Q1.txt:/createLink"
	first := e.call(req{method: http.MethodPost, path: path, tok: e.alice(), body: map[string]string{"type": "view", "scope": "organization"}}).want(t, http.StatusCreated)
	url := first.str("link", "webUrl")
	if first.str("link", "type") != "view" || first.str("link", "scope") != "organization" || !strings.HasPrefix(url, "https://contoso.sharepoint.com/:u:/") || first.str("id") == "" {
		t.Fatalf("createLink = %s", first.raw)
	}
	if roles, _ := first.get("roles").([]any); len(roles) != 1 || roles[0] != "read" {
		t.Errorf("view link roles = %v, want [read]", first.get("roles"))
	}
	again := e.call(req{method: http.MethodPost, path: path, tok: e.alice(), body: map[string]string{"type": "view", "scope": "organization"}}).want(t, http.StatusOK)
	if again.str("link", "webUrl") != url || again.str("id") != first.str("id") {
		t.Errorf("second createLink = %s, want the existing link %s", again.raw, url)
	}
	edit := e.call(req{method: http.MethodPost, path: path, tok: e.alice(), body: map[string]string{"type": "edit", "scope": "organization"}}).want(t, http.StatusCreated)
	if edit.str("link", "webUrl") == url {
		t.Errorf("an edit link reuses the view link %s", url)
	}
	if roles, _ := edit.get("roles").([]any); len(roles) != 1 || roles[0] != "write" {
		t.Errorf("edit link roles = %v, want [write]", edit.get("roles"))
	}
	users := e.call(req{method: http.MethodPost, path: path, tok: e.alice(), body: map[string]string{"type": "view", "scope": "users"}}).want(t, http.StatusCreated)
	if users.str("link", "scope") != "users" || users.str("link", "webUrl") == url {
		t.Errorf("users link = %s", users.raw)
	}
	// Links are kept like files: after a restart the link is the same.
	e.restart()
	kept := e.call(req{method: http.MethodPost, path: path, tok: e.alice(), body: map[string]string{"type": "view", "scope": "organization"}}).want(t, http.StatusOK)
	if kept.str("link", "webUrl") != url {
		t.Errorf("after a restart the link is %q, want %q", kept.str("link", "webUrl"), url)
	}
	// A folder's link opens a folder.
	dir := e.call(req{method: http.MethodPost, path: "/v1.0/me/drive/root:/Documents:/createLink", tok: e.alice(), body: map[string]string{"type": "view"}}).want(t, http.StatusCreated)
	if !strings.Contains(dir.str("link", "webUrl"), "/:f:/") || dir.str("link", "scope") != "organization" {
		t.Errorf("folder link without a scope = %s, want an organization link to a folder", dir.raw)
	}
}

// Contract (driveItem: createLink, "Scope types"): anonymous: "Anonymous
// link support may be disabled by an administrator". Contoso allows them;
// Fabrikam's SharingCapability does not, and the request is refused while
// an organization link still works.
func TestCreateLinkAnonymousFollowsTenantSharing(t *testing.T) {
	e := newEnv(t)
	body := map[string]string{"type": "view", "scope": "anonymous"}
	e.call(req{method: http.MethodPost, path: "/v1.0/me/drive/root:/Documents/Welcome.txt:/createLink", tok: e.alice(), body: body}).want(t, http.StatusCreated)
	frank := e.tok("fabrikam", "frank", allScopes)
	e.call(req{method: http.MethodPost, path: "/v1.0/me/drive/root:/Secret.txt:/createLink", tok: frank, body: body}).want(t, http.StatusForbidden, "accessDenied")
	e.call(req{method: http.MethodPost, path: "/v1.0/me/drive/root:/Secret.txt:/createLink", tok: frank,
		body: map[string]string{"type": "view", "scope": "organization"}}).want(t, http.StatusCreated)
}

// Contract (driveItem: createLink): type is view, edit or embed, and embed
// is "only available for files in OneDrive personal"; scope is anonymous,
// organization or users; Files.ReadWrite is the least privileged
// permission; a missing item is 404.
func TestCreateLinkErrors(t *testing.T) {
	e := newEnv(t)
	me := "/v1.0/me/drive/root:/Documents/Welcome.txt:/createLink"
	for _, tc := range []struct {
		name   string
		path   string
		tok    string
		body   any
		status int
		code   string
	}{
		{"unknown type", me, e.alice(), map[string]string{"type": "print"}, 400, "invalidRequest"},
		{"no type", me, e.alice(), map[string]string{"scope": "organization"}, 400, "invalidRequest"},
		{"embed on OneDrive for Business", me, e.alice(), map[string]string{"type": "embed"}, 400, "invalidRequest"},
		{"unknown scope", me, e.alice(), map[string]string{"type": "view", "scope": "world"}, 400, "invalidRequest"},
		{"not JSON", me, e.alice(), "type=view", 400, "invalidRequest"},
		{"missing item", "/v1.0/me/drive/root:/Documents/Nope.txt:/createLink", e.alice(), map[string]string{"type": "view"}, 404, "itemNotFound"},
		{"read-only token", me, e.tok("contoso", "alice", "Files.Read User.Read"), map[string]string{"type": "view"}, 403, "accessDenied"},
		{"visitor of the library", "/v1.0/drives/" + e.library("contoso", "Finance", "Documents") + "/root:/Reports/Q1.txt:/createLink", e.bob(),
			map[string]string{"type": "view"}, 403, "accessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.call(req{method: http.MethodPost, path: tc.path, tok: tc.tok, body: tc.body}).want(t, tc.status, tc.code)
		})
	}
	e.call(req{method: http.MethodGet, path: me, tok: e.alice()}).want(t, http.StatusMethodNotAllowed)
}

// Contract (driveItem: createLink): "If a sharing link of the specified
// type already exists for the app, the existing sharing link is returned":
// another application gets its own link.
func TestCreateLinkPerApplication(t *testing.T) {
	e := newEnv(t)
	path := "/v1.0/me/drive/root:/Documents/Notes.md:/createLink"
	body := map[string]string{"type": "view", "scope": "organization"}
	a := e.call(req{method: http.MethodPost, path: path, tok: e.tok("contoso", "alice", allScopes, func(c jwt.MapClaims) { c["azp"] = "app-a" }), body: body}).want(t, http.StatusCreated)
	if a.str("link", "application", "id") != "app-a" {
		t.Errorf("link.application = %v, want app-a", a.get("link", "application"))
	}
	b := e.call(req{method: http.MethodPost, path: path, tok: e.tok("contoso", "alice", allScopes, func(c jwt.MapClaims) { c["azp"] = "app-b" }), body: body}).want(t, http.StatusCreated)
	if a.str("link", "webUrl") == b.str("link", "webUrl") {
		t.Errorf("two applications share the link %s", a.str("link", "webUrl"))
	}
}

// Contract (graph-contract.md, driveItem; driveItem resource): every item
// carries webUrl, the address that opens it in the browser: below the
// library's URL for SharePoint, below the OneDrive's for a user's drive.
func TestItemWebURL(t *testing.T) {
	e := newEnv(t)
	lib := e.library("contoso", "Finance", "Documents")
	for path, want := range map[string]string{
		"/v1.0/drives/" + lib + "/root:/Reports/Q1.txt":             "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Reports/Q1.txt",
		"/v1.0/drives/" + lib + "/root":                             "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents",
		"/v1.0/drives/" + lib + "/root:/Budget 2026.xlsx":           "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Budget%202026.xlsx",
		"/v1.0/me/drive/root:/Documents/Welcome.txt":                "https://contoso-my.sharepoint.com/personal/alice_contoso_com/Documents/Documents/Welcome.txt",
		"/v1.0/me/drive/root:/Documents/Welcome.txt?$select=webUrl": "https://contoso-my.sharepoint.com/personal/alice_contoso_com/Documents/Documents/Welcome.txt",
	} {
		r := e.call(req{path: path, tok: e.alice()}).want(t, http.StatusOK)
		if got := r.str("webUrl"); got != want {
			t.Errorf("GET %s webUrl = %q, want %q", path, got, want)
		}
	}
}
