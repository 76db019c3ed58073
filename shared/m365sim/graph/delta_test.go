package graph

import (
	"testing"
)

// drain follows a delta feed from url to its deltaLink.
func (e *env) drain(t *testing.T, tok, url string) ([]map[string]any, string, int) {
	t.Helper()
	var items []map[string]any
	pages := 0
	for {
		r := e.call(req{path: url, tok: tok}).want(t, 200)
		pages++
		items = append(items, r.values()...)
		if next := r.str("@odata.nextLink"); next != "" {
			url = next
			continue
		}
		dl := r.str("@odata.deltaLink")
		if dl == "" {
			t.Fatalf("last page has no deltaLink: %s", r.raw)
		}
		return items, dl, pages
	}
}

func TestDeltaPagesWithNextLinkAndEndsWithDeltaLink(t *testing.T) {
	e := newEnvSeed(t, pagingSeed(450))
	items, _, pages := e.drain(t, e.alice(), "/v1.0/me/drive/root/delta")
	// root + Documents, Pictures, Big + 3 docs files + 450
	if len(items) != 4+3+450 || pages != 3 {
		t.Errorf("delta gave %d items in %d pages", len(items), pages)
	}
	for _, it := range items {
		if mget(it, "parentReference", "path") != nil {
			t.Fatalf("delta item carries parentReference.path: %v", it)
		}
	}
	items, _, pages = e.drain(t, e.alice(), "/v1.0/me/drive/root/delta?$top=100")
	if len(items) != 457 || pages != 5 {
		t.Errorf("$top=100: %d items in %d pages", len(items), pages)
	}
}

func TestDeltaTokenLatestGivesEmptyValueAndADeltaLink(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{path: "/v1.0/me/drive/root/delta?token=latest", tok: e.alice()}).want(t, 200)
	if len(r.values()) != 0 || r.str("@odata.deltaLink") == "" {
		t.Fatalf("token=latest = %s", r.raw)
	}
	items, _, _ := e.drain(t, e.alice(), r.str("@odata.deltaLink"))
	if len(items) != 0 {
		t.Errorf("no changes, yet delta gave %v", items)
	}
}

// Contract (graph-contract.md, Delta): "On OneDrive for Business /
// SharePoint (remarks table of "driveItem: delta"): create and modify omit
// `cTag`; delete omits `cTag` and `name`. A tombstone may be just
// `{"id","deleted":{}}` with no `parentReference`, or with a parent id that
// points at the root".
func TestDeltaGivesLatestStateWithoutCTagAndBareTombstones(t *testing.T) {
	e := newEnv(t)
	e.call(req{method: "POST", path: "/v1.0/me/drive/root:/Documents:/children", tok: e.alice(),
		body: `{"name":"sub","folder":{}}`}).want(t, 201)
	_, link, _ := e.drain(t, e.alice(), "/v1.0/me/drive/root/delta")
	root := e.call(req{path: "/v1.0/me/drive/root", tok: e.alice()}).want(t, 200)
	up := e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/d.txt:/content", tok: e.alice(), body: "1"}).want(t, 201)
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/d.txt:/content", tok: e.alice(), body: "22"}).want(t, 200)
	gone := e.call(req{path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice()}).want(t, 200)
	e.call(req{method: "DELETE", path: "/v1.0/me/drive/items/" + gone.str("id"), tok: e.alice()}).want(t, 204)
	dir := e.call(req{path: "/v1.0/me/drive/root:/Documents/sub", tok: e.alice()}).want(t, 200)
	e.call(req{method: "DELETE", path: "/v1.0/me/drive/items/" + dir.str("id"), tok: e.alice()}).want(t, 204)
	items, link2, _ := e.drain(t, e.alice(), link)
	byID := map[string]map[string]any{}
	for _, it := range items {
		byID[it["id"].(string)] = it
	}
	if len(items) != 3 {
		t.Errorf("delta = %v, want the new file once and two tombstones", items)
	}
	if f := byID[up.str("id")]; f == nil || f["size"].(float64) != 2 || f["cTag"] != nil || f["eTag"] == nil || mget(f, "file", "hashes", "quickXorHash") == nil {
		t.Errorf("changed file = %v, want its latest state (size 2), eTag and hash but no cTag", f)
	}
	// The listing still gives the cTag.
	if e.call(req{path: "/v1.0/me/drive/items/" + up.str("id"), tok: e.alice()}).want(t, 200).str("cTag") == "" {
		t.Error("GET item has no cTag")
	}
	tomb := byID[gone.str("id")]
	if len(tomb) != 2 || tomb["deleted"] == nil {
		t.Errorf("file tombstone = %v, want just id and deleted", tomb)
	}
	dtomb := byID[dir.str("id")]
	if dtomb == nil || dtomb["name"] != nil || dtomb["cTag"] != nil || mget(dtomb, "parentReference", "id") != root.str("id") {
		t.Errorf("folder tombstone = %v, want the root as its parent", dtomb)
	}
	// Nothing new after the second deltaLink.
	if more, _, _ := e.drain(t, e.alice(), link2); len(more) != 0 {
		t.Errorf("after catching up: %v", more)
	}
}

func TestDeltaStaleTokenGives410ResyncRequiredWithLocation(t *testing.T) {
	e := newEnv(t)
	_, link, _ := e.drain(t, e.alice(), "/v1.0/me/drive/root/delta")
	e.srv.ExpireDeltaTokens(e.driveOf("contoso", "alice"), "")
	r := e.call(req{path: link, tok: e.alice()}).want(t, 410, "resyncRequired")
	if r.str("error", "innerError", "code") != "resyncChangesApplyDifferences" {
		t.Errorf("inner = %s", r.raw)
	}
	loc := r.header.Get("Location")
	if loc == "" {
		t.Fatal("no Location")
	}
	if items, _, _ := e.drain(t, e.alice(), loc); len(items) < 5 {
		t.Errorf("restart enumerated %d items", len(items))
	}
	e.call(req{path: "/v1.0/me/drive/root/delta?token=garbage", tok: e.alice()}).want(t, 410, "resyncRequired")
}

func TestDeltaWorksOnlyOnTheRoot(t *testing.T) {
	e := newEnv(t)
	e.call(req{path: "/v1.0/me/drive/root:/Documents:/delta", tok: e.alice()}).want(t, 400, "invalidRequest")
}

func TestDeltaAcceptsFunctionSyntaxAndTheRootByID(t *testing.T) {
	e := newEnv(t)
	root := e.call(req{path: "/v1.0/me/drive/root", tok: e.alice()}).want(t, 200)
	for _, p := range []string{
		"/v1.0/me/drive/root/delta()",
		"/v1.0/me/drive/root/microsoft.graph.delta()",
		"/v1.0/drives/" + e.driveOf("contoso", "alice") + "/items/" + root.str("id") + "/delta()",
	} {
		if items, _, _ := e.drain(t, e.alice(), p); len(items) < 5 {
			t.Errorf("%s gave %d items", p, len(items))
		}
	}
}
