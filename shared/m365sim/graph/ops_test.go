package graph

import (
	"strings"
	"testing"
	"time"
)

func TestPatchRenamesAndMoves(t *testing.T) {
	e := newEnv(t)
	it := e.call(req{path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice()}).want(t, 200)
	pics := e.call(req{path: "/v1.0/me/drive/root:/Pictures", tok: e.alice()}).want(t, 200)
	r := e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + it.str("id"), tok: e.alice(),
		body: map[string]any{"name": "Moved.md", "parentReference": map[string]any{"id": pics.str("id")}}}).want(t, 200)
	if r.str("name") != "Moved.md" || r.str("parentReference", "id") != pics.str("id") || !strings.HasSuffix(r.str("parentReference", "path"), "root:/Pictures") {
		t.Errorf("patched = %s", r.raw)
	}
	e.call(req{path: "/v1.0/me/drive/root:/Pictures/Moved.md", tok: e.alice()}).want(t, 200)
	e.call(req{path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice()}).want(t, 404)
	// A name taken in the destination gives 409.
	e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + it.str("id"), tok: e.alice(), body: map[string]any{"name": "sample.bin"}}).want(t, 409, "nameAlreadyExists")
	// A folder cannot move into itself.
	docs := e.call(req{path: "/v1.0/me/drive/root:/Documents", tok: e.alice()}).want(t, 200)
	e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + pics.str("id"), tok: e.alice(), body: map[string]any{"parentReference": map[string]any{"id": pics.str("id")}}}).want(t, 400, "invalidRequest")
	// Moving a folder moves its size with it.
	e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + pics.str("id"), tok: e.alice(), body: map[string]any{"parentReference": map[string]any{"id": docs.str("id")}}}).want(t, 200)
	d2 := e.call(req{path: "/v1.0/me/drive/root:/Documents", tok: e.alice()}).want(t, 200)
	if d2.get("size").(float64) <= 256<<10 || d2.get("folder", "childCount").(float64) != 2 {
		t.Errorf("Documents after move = %s", d2.raw)
	}
}

func TestPatchCannotMoveAcrossDrives(t *testing.T) {
	e := newEnv(t)
	it := e.call(req{path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice()}).want(t, 200)
	fin := e.library("contoso", "Finance", "Documents")
	root := e.call(req{path: "/v1.0/drives/" + fin + "/root", tok: e.alice()}).want(t, 200)
	e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + it.str("id"), tok: e.alice(),
		body: map[string]any{"parentReference": map[string]any{"driveId": fin, "id": root.str("id")}}}).want(t, 400, "invalidRequest")
	e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + it.str("id"), tok: e.alice(),
		body: map[string]any{"parentReference": map[string]any{"id": root.str("id")}}}).want(t, 400, "invalidRequest")
}

func TestPatchWithStaleIfMatchGives412(t *testing.T) {
	e := newEnv(t)
	it := e.call(req{path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice()}).want(t, 200)
	p := "/v1.0/me/drive/items/" + it.str("id")
	e.call(req{method: "PATCH", path: p, tok: e.alice(), body: map[string]any{"name": "a.md"}, hdr: map[string]string{"If-Match": it.str("eTag")}}).want(t, 200)
	e.call(req{method: "PATCH", path: p, tok: e.alice(), body: map[string]any{"name": "b.md"}, hdr: map[string]string{"If-Match": it.str("eTag")}}).want(t, 412, "resourceModified")
}

func TestPatchFileSystemInfo(t *testing.T) {
	e := newEnv(t)
	it := e.call(req{path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice()}).want(t, 200)
	r := e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + it.str("id"), tok: e.alice(),
		body: map[string]any{"fileSystemInfo": map[string]any{"lastModifiedDateTime": "2020-01-02T03:04:05Z"}}}).want(t, 200)
	if r.str("fileSystemInfo", "lastModifiedDateTime") != "2020-01-02T03:04:05Z" {
		t.Errorf("fileSystemInfo = %v", r.get("fileSystemInfo"))
	}
}

func TestDeleteMovesToTheRecycleBinWith204(t *testing.T) {
	e := newEnv(t)
	before := e.call(req{path: "/v1.0/me/drive", tok: e.alice()}).want(t, 200)
	e.call(req{method: "DELETE", path: "/v1.0/me/drive/root:/Pictures", tok: e.alice()}).want(t, 204)
	e.call(req{path: "/v1.0/me/drive/root:/Pictures", tok: e.alice()}).want(t, 404, "itemNotFound")
	e.call(req{path: "/v1.0/me/drive/root:/Pictures/sample.bin", tok: e.alice()}).want(t, 404, "itemNotFound")
	after := e.call(req{path: "/v1.0/me/drive", tok: e.alice()}).want(t, 200)
	if after.get("quota", "deleted").(float64) != 256<<10 || after.get("quota", "used") != before.get("quota", "used") {
		t.Errorf("quota before %v after %v", before.get("quota"), after.get("quota"))
	}
	// The name is free again.
	e.call(req{method: "POST", path: "/v1.0/me/drive/root/children", tok: e.alice(), body: map[string]any{"name": "Pictures", "folder": map[string]any{}}}).want(t, 201)
	e.call(req{method: "DELETE", path: "/v1.0/me/drive/root", tok: e.alice()}).want(t, 403)
}

func TestDeleteWithStaleIfMatchGives412(t *testing.T) {
	e := newEnv(t)
	e.call(req{method: "DELETE", path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice(), hdr: map[string]string{"If-Match": `"{X},1"`}}).want(t, 412, "resourceModified")
	it := e.call(req{path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice()}).want(t, 200)
	e.call(req{method: "DELETE", path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice(), hdr: map[string]string{"If-Match": it.str("eTag")}}).want(t, 204)
}

func TestCreateFolderConflictBehavior(t *testing.T) {
	e := newEnv(t)
	p := "/v1.0/me/drive/root/children"
	e.call(req{method: "POST", path: p, tok: e.alice(), body: map[string]any{"name": "Documents", "folder": map[string]any{}}}).want(t, 409, "nameAlreadyExists")
	e.call(req{method: "POST", path: p, tok: e.alice(), body: map[string]any{"name": "Documents", "folder": map[string]any{}, "@microsoft.graph.conflictBehavior": "fail"}}).want(t, 409, "nameAlreadyExists")
	r := e.call(req{method: "POST", path: p, tok: e.alice(), body: map[string]any{"name": "Documents", "folder": map[string]any{}, "@microsoft.graph.conflictBehavior": "rename"}}).want(t, 201)
	if r.str("name") != "Documents 1" || r.get("folder") == nil {
		t.Errorf("created = %s", r.raw)
	}
	r = e.call(req{method: "POST", path: p, tok: e.alice(), body: map[string]any{"name": "Documents", "folder": map[string]any{}, "@name.conflictBehavior": "rename"}}).want(t, 201)
	if r.str("name") != "Documents 2" {
		t.Errorf("legacy rename gave %q", r.str("name"))
	}
	r = e.call(req{method: "POST", path: p, tok: e.alice(), body: map[string]any{"name": "Documents", "folder": map[string]any{}, "@microsoft.graph.conflictBehavior": "replace"}}).want(t, 201)
	if r.get("folder", "childCount").(float64) != 0 {
		t.Errorf("replaced folder = %s", r.raw)
	}
	e.call(req{method: "POST", path: "/v1.0/me/drive/root:/Documents:/children", tok: e.alice(), body: map[string]any{"name": "Sub", "folder": map[string]any{}}}).want(t, 201)
	e.call(req{method: "POST", path: p, tok: e.alice(), body: map[string]any{"name": "bad:name", "folder": map[string]any{}}}).want(t, 400, "invalidRequest")
	e.call(req{method: "POST", path: p, tok: e.alice(), body: map[string]any{"name": "nofacet"}}).want(t, 400, "invalidRequest")
}

func (e *env) waitMonitor(t *testing.T, loc string) result {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r := e.call(req{path: loc})
		if s := r.str("status"); s == "completed" || s == "failed" {
			return r
		}
		if r.status != 202 {
			t.Fatalf("monitor = %d %s", r.status, r.raw)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("copy did not finish")
	return result{}
}

func TestCopyAnswers202WithAMonitorURLThatCompletes(t *testing.T) {
	e := newEnv(t)
	docs := e.call(req{path: "/v1.0/me/drive/root:/Documents", tok: e.alice()}).want(t, 200)
	root := e.call(req{path: "/v1.0/me/drive/root", tok: e.alice()}).want(t, 200)
	r := e.call(req{method: "POST", path: "/v1.0/me/drive/items/" + docs.str("id") + "/copy", tok: e.alice(),
		body: map[string]any{"parentReference": map[string]any{"id": root.str("id")}, "name": "Documents copy"}}).want(t, 202)
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, e.base+"/_monitor/") {
		t.Fatalf("Location = %q", loc)
	}
	m := e.waitMonitor(t, loc)
	if m.str("status") != "completed" || m.str("resourceId") == "" || m.get("percentageComplete").(float64) != 100 {
		t.Fatalf("monitor = %s", m.raw)
	}
	cp := e.call(req{path: "/v1.0/me/drive/items/" + m.str("resourceId"), tok: e.alice()}).want(t, 200)
	if cp.str("name") != "Documents copy" || cp.get("folder", "childCount").(float64) != 2 {
		t.Errorf("copy = %s", cp.raw)
	}
	orig := e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt", tok: e.alice()}).want(t, 200)
	dup := e.call(req{path: "/v1.0/me/drive/root:/Documents copy/Welcome.txt", tok: e.alice()}).want(t, 200)
	if dup.str("id") == orig.str("id") || dup.str("file", "hashes", "quickXorHash") != orig.str("file", "hashes", "quickXorHash") {
		t.Errorf("copied file %s vs %s", dup.raw, orig.raw)
	}
	// Copying onto an existing name fails through the monitor.
	r = e.call(req{method: "POST", path: "/v1.0/me/drive/items/" + docs.str("id") + "/copy", tok: e.alice(), body: map[string]any{"name": "Pictures"}}).want(t, 202)
	if m := e.waitMonitor(t, r.header.Get("Location")); m.str("status") != "failed" {
		t.Errorf("conflicting copy = %s", m.raw)
	}
	// Across drives is allowed for copy.
	fin := e.library("contoso", "Finance", "Documents")
	r = e.call(req{method: "POST", path: "/v1.0/me/drive/root:/Documents/Welcome.txt:/copy", tok: e.alice(), body: map[string]any{"parentReference": map[string]any{"driveId": fin}}}).want(t, 202)
	if m := e.waitMonitor(t, r.header.Get("Location")); m.str("status") != "completed" {
		t.Errorf("cross-drive copy = %s", m.raw)
	}
	e.call(req{path: "/v1.0/drives/" + fin + "/root:/Welcome.txt", tok: e.alice()}).want(t, 200)
	e.call(req{path: e.base + "/_monitor/unknown"}).want(t, 404)
}

func TestCopyOfALargeFileKeepsItsContent(t *testing.T) {
	e := newEnv(t)
	src := e.call(req{path: "/v1.0/me/drive/root:/Pictures/sample.bin", tok: e.alice()}).want(t, 200)
	r := e.call(req{method: "POST", path: "/v1.0/me/drive/items/" + src.str("id") + "/copy", tok: e.alice(), body: map[string]any{"name": "copy.bin"}}).want(t, 202)
	m := e.waitMonitor(t, r.header.Get("Location"))
	cp := e.call(req{path: "/v1.0/me/drive/items/" + m.str("resourceId"), tok: e.alice()}).want(t, 200)
	a := e.call(req{path: src.str("@microsoft.graph.downloadUrl")}).want(t, 200)
	b := e.call(req{path: cp.str("@microsoft.graph.downloadUrl")}).want(t, 200)
	if string(a.raw) != string(b.raw) || len(b.raw) != 256<<10 {
		t.Errorf("copy holds %d bytes differing from the original", len(b.raw))
	}
	// Replacing the original leaves the copy intact (blobs are never shared mutably).
	e.call(req{method: "PUT", path: "/v1.0/me/drive/items/" + src.str("id") + "/content", tok: e.alice(), body: "small now"}).want(t, 200)
	c := e.call(req{path: e.call(req{path: "/v1.0/me/drive/items/" + m.str("resourceId"), tok: e.alice()}).str("@microsoft.graph.downloadUrl")}).want(t, 200)
	if string(c.raw) != string(a.raw) {
		t.Errorf("copy changed with the original")
	}
}

// Contract (graph-contract.md, "Rename, move, delete"): PATCH of
// parentReference and name -> "Wrong `if-match` -> 412", and DELETE ->
// "Wrong `if-match` -> 412". The eTag a client saw goes stale when
// another writer changes the content; then neither a move nor a delete
// guarded by it happens, and the other writer's version stays where it
// is. With the current eTag both succeed.
func TestIfMatchGuardsMoveAndDeleteAfterAnotherWrite(t *testing.T) {
	e := newEnv(t)
	p := "/v1.0/me/drive/root:/Documents/Notes.md"
	seen := e.call(req{path: p, tok: e.alice()}).want(t, 200)
	// Another device of the same user saves a new version.
	e.call(req{method: "PUT", path: p + ":/content", tok: e.alice(), body: "edited elsewhere"}).want(t, 200)
	pics := e.call(req{path: "/v1.0/me/drive/root:/Pictures", tok: e.alice()}).want(t, 200)
	item := "/v1.0/me/drive/items/" + seen.str("id")
	stale := map[string]string{"If-Match": seen.str("eTag")}
	e.call(req{method: "PATCH", path: item, tok: e.alice(), hdr: stale,
		body: map[string]any{"name": "Moved.md", "parentReference": map[string]any{"id": pics.str("id")}}}).want(t, 412, "resourceModified")
	e.call(req{method: "PATCH", path: item, tok: e.alice(), hdr: stale,
		body: map[string]any{"parentReference": map[string]any{"id": pics.str("id")}}}).want(t, 412, "resourceModified")
	e.call(req{method: "DELETE", path: item, tok: e.alice(), hdr: stale}).want(t, 412, "resourceModified")
	cur := e.call(req{path: p, tok: e.alice()}).want(t, 200)
	if cur.str("id") != seen.str("id") || cur.get("size").(float64) != float64(len("edited elsewhere")) {
		t.Fatalf("after refused move and delete, %s = %s; want the other writer's version in place", p, cur.raw)
	}
	moved := e.call(req{method: "PATCH", path: item, tok: e.alice(), hdr: map[string]string{"If-Match": cur.str("eTag")},
		body: map[string]any{"name": "Moved.md", "parentReference": map[string]any{"id": pics.str("id")}}}).want(t, 200)
	e.call(req{method: "DELETE", path: item, tok: e.alice(), hdr: map[string]string{"If-Match": cur.str("eTag")}}).want(t, 412, "resourceModified")
	e.call(req{method: "DELETE", path: item, tok: e.alice(), hdr: map[string]string{"If-Match": moved.str("eTag")}}).want(t, 204)
	e.call(req{path: "/v1.0/me/drive/root:/Pictures/Moved.md", tok: e.alice()}).want(t, 404, "itemNotFound")
}
