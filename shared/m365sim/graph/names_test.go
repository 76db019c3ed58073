package graph

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// The name rules come from Microsoft's "Restrictions and limitations in
// OneDrive and SharePoint" (names.go); the error codes from
// graph-contract.md, Errors ("Codes: ... invalidRequest ..."), with the
// inner pathIsTooLong of OneDrive's detailed error codes.

// Contract: ".lock, CON, PRN, AUX, NUL, COM0 - COM9, LPT0 - LPT9, _vti_,
// desktop.ini, any filename starting with ~$" and leading or trailing
// spaces are not allowed for files or folders; the answer is 400
// invalidRequest (OneDrive/onedrive-api-docs#1653). Whole names only:
// "CON.txt" is a valid name.
func TestConformanceReservedNamesRefusedOnEveryWrite(t *testing.T) {
	e := newEnv(t)
	tok := e.alice()
	docs := e.call(req{path: "/v1.0/me/drive/root:/Documents", tok: tok}).want(t, 200)
	refused := []string{".lock", ".LOCK", "CON", "con", "PRN", "AUX", "NUL", "nul", "COM0", "COM9", "LPT0", "lpt9",
		"desktop.ini", "Desktop.INI", "_vti_", "a_vti_b.txt", "X_VTI_Y", "~$report.docx", " lead", "trail ", "a<b", "a|b"}
	for _, name := range refused {
		esc := url.PathEscape(name)
		e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/Documents/" + esc + ":/content", tok: tok, body: "x"}).want(t, 400, "invalidRequest")
		e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/Documents/" + esc + "/in.txt:/content", tok: tok, body: "x"}).want(t, 400, "invalidRequest")
		e.call(req{method: "POST", path: "/v1.0/me/drive/root:/Documents:/children", tok: tok,
			body: map[string]any{"name": name, "folder": map[string]any{}}}).want(t, 400, "invalidRequest")
		e.call(req{method: "POST", path: "/v1.0/me/drive/root:/Documents/" + esc + ":/createUploadSession", tok: tok,
			body: map[string]any{}}).want(t, 400, "invalidRequest")
		e.call(req{method: "POST", path: "/v1.0/me/drive/items/" + docs.str("id") + "/createUploadSession", tok: tok,
			body: map[string]any{"item": map[string]any{"name": name}}}).want(t, 400, "invalidRequest")
	}
	f := e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/Documents/ok.txt:/content", tok: tok, body: "x"}).want(t, 201)
	for _, name := range refused {
		e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + f.str("id"), tok: tok, body: map[string]any{"name": name}}).want(t, 400, "invalidRequest")
	}
	for _, name := range []string{"CON.txt", "aux.c", "lpt10", "com", "my.lock", "desktop.ini.bak", "vti_x", "a~$b", "Thumbs.db"} {
		e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/Documents/" + url.PathEscape(name) + ":/content", tok: tok, body: "x"}).want(t, 201)
	}
	// Reading a reserved name finds nothing; only writes are refused.
	e.call(req{path: "/v1.0/me/drive/root:/Documents/CON", tok: tok}).want(t, 404, "itemNotFound")
}

// Contract: "'forms' isn't supported when the folder is at the root level
// for a library" (the same Microsoft page; every library keeps its hidden
// Forms folder there). Refused as 400 invalidRequest like the other
// reserved names, for a folder created, made by an upload's path, or moved
// or renamed to the root. A file named forms, and a Forms folder below the
// root, are fine.
func TestConformanceFormsFolderRefusedAtLibraryRoot(t *testing.T) {
	e := newEnv(t)
	tok := e.alice()
	root := "/v1.0/me/drive/root"
	for _, name := range []string{"forms", "Forms", "FORMS"} {
		e.call(req{method: "POST", path: root + "/children", tok: tok,
			body: map[string]any{"name": name, "folder": map[string]any{}}}).want(t, 400, "invalidRequest")
		e.call(req{method: "PUT", path: root + ":/" + name + "/in.txt:/content", tok: tok, body: "x"}).want(t, 400, "invalidRequest")
		e.call(req{method: "POST", path: root + ":/" + name + "/big.bin:/createUploadSession", tok: tok,
			body: map[string]any{}}).want(t, 400, "invalidRequest")
	}
	dir := e.call(req{method: "POST", path: root + "/children", tok: tok,
		body: map[string]any{"name": "Reports", "folder": map[string]any{}}}).want(t, 201)
	e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + dir.str("id"), tok: tok, body: map[string]any{"name": "Forms"}}).want(t, 400, "invalidRequest")
	below := e.call(req{method: "POST", path: root + ":/Reports:/children", tok: tok,
		body: map[string]any{"name": "Forms", "folder": map[string]any{}}}).want(t, 201)
	rootID := e.call(req{path: root, tok: tok}).want(t, 200).str("id")
	e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + below.str("id"), tok: tok,
		body: map[string]any{"parentReference": map[string]any{"id": rootID}}}).want(t, 400, "invalidRequest")
	e.call(req{method: "PUT", path: root + ":/forms:/content", tok: tok, body: "a file"}).want(t, 201)
	e.call(req{method: "PUT", path: root + ":/Reports/Forms/in.txt:/content", tok: tok, body: "x"}).want(t, 201)
}

// libraryPath returns the decoded server-relative path of a drive's root,
// from its webUrl.
func libraryPath(t *testing.T, e *env, drivePath, tok string) string {
	t.Helper()
	u, err := url.Parse(e.call(req{path: drivePath, tok: tok}).want(t, 200).str("webUrl"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(u.Path, "/")
}

// Contract: "The entire decoded file path, including the file name, can't
// contain more than 400 characters", the library's own server-relative
// path included; the answer is 400 invalidRequest / pathIsTooLong.
func TestConformancePathOver400CharactersRefused(t *testing.T) {
	e := newEnv(t)
	tok := e.alice()
	lib := libraryPath(t, e, "/v1.0/me/drive", tok)
	if !strings.HasPrefix(lib, "/personal/") {
		t.Fatalf("OneDrive library path = %q, want /personal/...", lib)
	}
	// Characters, not bytes: 'é' is one character, two bytes in UTF-8.
	room := maxPathChars - utf8.RuneCountInString(lib+"/Documents/")
	fits := strings.Repeat("é", room)
	over := fits + "x"
	base := "/v1.0/me/drive/root:/Documents/"
	tooLong := func(r result) {
		t.Helper()
		r.want(t, 400, "invalidRequest")
		if c := r.str("error", "innerError", "code"); c != "pathIsTooLong" {
			t.Errorf("inner code = %q, want pathIsTooLong; body %s", c, r.raw)
		}
	}
	tooLong(e.call(req{method: "PUT", path: base + url.PathEscape(over) + ":/content", tok: tok, body: "x"}))
	tooLong(e.call(req{method: "POST", path: base + url.PathEscape(over) + ":/createUploadSession", tok: tok, body: map[string]any{}}))
	tooLong(e.call(req{method: "POST", path: "/v1.0/me/drive/root:/Documents:/children", tok: tok,
		body: map[string]any{"name": over, "folder": map[string]any{}}}))
	e.call(req{method: "PUT", path: base + url.PathEscape(fits) + ":/content", tok: tok, body: "x"}).want(t, 201)

	// Renaming and moving count too, and a folder brings its deepest item.
	f := e.call(req{method: "PUT", path: base + "short.txt:/content", tok: tok, body: "x"}).want(t, 201)
	tooLong(e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + f.str("id"), tok: tok, body: map[string]any{"name": over}}))
	deep := strings.Repeat("d", room-len("/x/")-len("f.txt")) // Documents/x/ddd…/f.txt is exactly 400
	e.call(req{method: "PUT", path: base + "x/" + deep + "/f.txt:/content", tok: tok, body: "x"}).want(t, 201)
	x := e.call(req{path: base + "x", tok: tok}).want(t, 200)
	tooLong(e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + x.str("id"), tok: tok, body: map[string]any{"name": "xy"}}))
	e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + x.str("id"), tok: tok, body: map[string]any{"name": "y"}}).want(t, 200)

	// A site library's own path is longer or shorter: the same item name
	// fits in one drive and not in another.
	site := e.call(req{path: "/v1.0/sites/contoso.sharepoint.com:/sites/Finance", tok: tok}).want(t, 200)
	drv := "/v1.0/sites/" + site.str("id") + "/drive"
	slib := libraryPath(t, e, drv, tok)
	if !strings.HasPrefix(slib, "/sites/Finance/") {
		t.Fatalf("Finance library path = %q", slib)
	}
	name := strings.Repeat("s", maxPathChars-utf8.RuneCountInString(slib+"/"))
	e.call(req{method: "PUT", path: drv + "/root:/" + name + ":/content", tok: tok, body: "x"}).want(t, 201)
	tooLong(e.call(req{method: "PUT", path: drv + "/root:/" + name + "s:/content", tok: tok, body: "x"}))
}

// Contract (the same page): a copy makes new items, so the 400 characters
// and the Forms folder rule hold for it too. A copy runs asynchronously,
// so the refusal comes through its monitor: status failed, with the error.
func TestConformanceCopyKeepsTheNameRules(t *testing.T) {
	e := newEnv(t)
	tok := e.alice()
	base := "/v1.0/me/drive/root:/"
	lib := libraryPath(t, e, "/v1.0/me/drive", tok)
	deep := strings.Repeat("d", maxPathChars-utf8.RuneCountInString(lib+"/src/")) // src/ddd… is exactly 400
	e.call(req{method: "PUT", path: base + "src/" + deep + ":/content", tok: tok, body: "x"}).want(t, 201)
	src := e.call(req{path: base + "src", tok: tok}).want(t, 200)
	copyAs := func(name string) result {
		r := e.call(req{method: "POST", path: "/v1.0/me/drive/items/" + src.str("id") + "/copy", tok: tok,
			body: map[string]any{"name": name}}).want(t, 202)
		return e.waitMonitor(t, r.header.Get("Location"))
	}
	if m := copyAs("srcx"); m.str("status") != "failed" || m.str("error", "code") != "invalidRequest" {
		t.Errorf("copy whose deepest item passes 400 characters: monitor %s, want failed invalidRequest", m.raw)
	}
	if m := copyAs("Forms"); m.str("status") != "failed" || m.str("error", "code") != "invalidRequest" {
		t.Errorf("copy of a folder to Forms at the root: monitor %s, want failed invalidRequest", m.raw)
	}
	if m := copyAs("ok"); m.str("status") != "completed" {
		t.Errorf("copy that fits: monitor %s", m.raw)
	}
}
