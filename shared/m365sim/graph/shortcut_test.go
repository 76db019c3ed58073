package graph

import (
	"testing"
)

// checkShortcut checks one rendering of a shortcut item: remoteItem names
// the target, and the item itself has neither folder nor file facet.
func checkShortcut(t *testing.T, where string, it map[string]any, driveID, targetID string, childCount float64) {
	t.Helper()
	if it == nil {
		t.Fatalf("%s: no shortcut item", where)
	}
	if it["folder"] != nil || it["file"] != nil || it["@microsoft.graph.downloadUrl"] != nil {
		t.Errorf("%s: shortcut has a folder, file or download facet: %v", where, it)
	}
	if got := mget(it, "remoteItem", "id"); got != targetID {
		t.Errorf("%s: remoteItem.id = %v, want %s", where, got, targetID)
	}
	if got := mget(it, "remoteItem", "parentReference", "driveId"); got != driveID {
		t.Errorf("%s: remoteItem.parentReference.driveId = %v, want %s", where, got, driveID)
	}
	if got := mget(it, "remoteItem", "parentReference", "driveType"); got != "documentLibrary" {
		t.Errorf("%s: remoteItem.parentReference.driveType = %v, want documentLibrary", where, got)
	}
	if got := mget(it, "remoteItem", "folder", "childCount"); got != childCount {
		t.Errorf("%s: remoteItem.folder.childCount = %v, want %v", where, got, childCount)
	}
	if got := mget(it, "remoteItem", "webUrl"); got == nil {
		t.Errorf("%s: remoteItem has no webUrl: %v", where, it)
	}
}

// Contract (graph-contract.md, Delta): "Shortcuts ("Add shortcut to My
// files") appear as items with `remoteItem` and no `folder` facet". The
// shape follows Microsoft's "remoteItem resource type" page
// (https://learn.microsoft.com/en-us/graph/api/resources/remoteitem) and
// "Using remote items to access shared files and folders" (POST to the
// root's children with remoteItem{id, parentReference{driveId}}; root
// only). The target is read through /drives/{driveId}/items/{id} with the
// caller's own permissions.
func TestShortcutAppearsWithRemoteItemAndNoFolderFacet(t *testing.T) {
	e := newEnv(t)
	fin := e.library("contoso", "Finance", "Documents")
	reports := e.call(req{path: "/v1.0/drives/" + fin + "/root:/Reports", tok: e.alice()}).want(t, 200)
	rid := reports.str("id")
	_, link, _ := e.drain(t, e.alice(), "/v1.0/me/drive/root/delta")

	body := map[string]any{"name": "Finance Reports", "remoteItem": map[string]any{"id": rid, "parentReference": map[string]any{"driveId": fin}}}
	made := e.call(req{method: "POST", path: "/v1.0/me/drive/root/children", tok: e.alice(), body: body}).want(t, 201)
	checkShortcut(t, "create", made.json, fin, rid, 1)
	sid := made.str("id")

	got := e.call(req{path: "/v1.0/me/drive/items/" + sid, tok: e.alice()}).want(t, 200)
	checkShortcut(t, "GET item", got.json, fin, rid, 1)
	if got.str("name") != "Finance Reports" || got.str("parentReference", "driveId") != e.driveOf("contoso", "alice") {
		t.Errorf("shortcut item = %s, want name Finance Reports in alice's drive", got.raw)
	}

	var listed map[string]any
	for _, it := range e.call(req{path: "/v1.0/me/drive/root/children", tok: e.alice()}).want(t, 200).values() {
		if it["id"] == sid {
			listed = it
		}
	}
	checkShortcut(t, "children", listed, fin, rid, 1)

	var changed map[string]any
	items, _, _ := e.drain(t, e.alice(), link)
	for _, it := range items {
		if it["id"] == sid {
			changed = it
		}
	}
	checkShortcut(t, "delta", changed, fin, rid, 1)

	// The content lives in the target drive, read with the user's rights.
	kids := e.call(req{path: "/v1.0/drives/" + fin + "/items/" + rid + "/children", tok: e.alice()}).want(t, 200).values()
	if len(kids) != 1 || kids[0]["name"] != "Q1.txt" {
		t.Errorf("target children = %v, want Q1.txt", kids)
	}
	// The shortcut itself has no content.
	e.call(req{path: "/v1.0/me/drive/items/" + sid + "/content", tok: e.alice()}).want(t, 400)

	// Renaming and deleting the shortcut are ordinary item operations in
	// the user's drive, and leave the target alone.
	e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + sid, tok: e.alice(), body: map[string]any{"name": "Q reports"}}).want(t, 200)
	e.call(req{method: "DELETE", path: "/v1.0/me/drive/items/" + sid, tok: e.alice()}).want(t, 204)
	e.call(req{path: "/v1.0/drives/" + fin + "/items/" + rid, tok: e.alice()}).want(t, 200)
}

// A shortcut is added only to the root of the user's own drive and only to
// a folder the user reaches ("Using remote items": "The user has explicit
// permission to the shared folder"); a target that goes away later leaves
// the shortcut with a bare remoteItem, and reading through it fails.
func TestShortcutTargetRules(t *testing.T) {
	e := newEnv(t)
	fin := e.library("contoso", "Finance", "Documents")
	reports := e.call(req{path: "/v1.0/drives/" + fin + "/root:/Reports", tok: e.alice()}).want(t, 200).str("id")
	add := func(tok, path, driveID, id string) result {
		return e.call(req{method: "POST", path: path, tok: tok,
			body: map[string]any{"name": "s", "remoteItem": map[string]any{"id": id, "parentReference": map[string]any{"driveId": driveID}}}})
	}
	add(e.alice(), "/v1.0/me/drive/root:/Documents:/children", fin, reports).want(t, 400, "invalidRequest")
	add(e.alice(), "/v1.0/me/drive/root/children", "", reports).want(t, 400, "invalidRequest")
	bobs := e.driveOf("contoso", "bob")
	bobRoot := e.call(req{path: "/v1.0/me/drive/root", tok: e.bob()}).want(t, 200).str("id")
	add(e.alice(), "/v1.0/me/drive/root/children", bobs, bobRoot).want(t, 403, "accessDenied")
	q1 := e.call(req{path: "/v1.0/drives/" + fin + "/root:/Reports/Q1.txt", tok: e.alice()}).want(t, 200).str("id")
	add(e.alice(), "/v1.0/me/drive/root/children", fin, q1).want(t, 400, "invalidRequest")
	// Someone else's drive is not reachable through a shortcut either.
	e.call(req{path: "/v1.0/drives/" + bobs + "/items/" + bobRoot + "/children", tok: e.alice()}).want(t, 403)

	sid := add(e.alice(), "/v1.0/me/drive/root/children", fin, reports).want(t, 201).str("id")
	e.call(req{method: "DELETE", path: "/v1.0/drives/" + fin + "/items/" + reports, tok: e.alice()}).want(t, 204)
	got := e.call(req{path: "/v1.0/me/drive/items/" + sid, tok: e.alice()}).want(t, 200)
	if got.str("remoteItem", "id") != reports || got.get("remoteItem", "folder") != nil || got.get("folder") != nil {
		t.Errorf("shortcut to a deleted folder = %s, want a bare remoteItem", got.raw)
	}
	e.call(req{path: "/v1.0/drives/" + fin + "/items/" + reports + "/children", tok: e.alice()}).want(t, 404)
}
