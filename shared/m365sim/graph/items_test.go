package graph

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/quickxorhash"
)

// pagingSeed gives alice a folder of n small files.
func pagingSeed(n int) *directory.Seed {
	seed := directory.DemoSeed()
	u := &seed.Tenants[0].Users[0]
	u.Drive.Files = append(u.Drive.Files, directory.File{Path: "Big/f{n}.txt", Size: 16, Count: n})
	return seed
}

func TestChildrenDefaultPageIs200WithAbsoluteOpaqueNextLink(t *testing.T) {
	e := newEnvSeed(t, pagingSeed(450))
	seen := map[string]bool{}
	next := "/v1.0/me/drive/root:/Big:/children"
	pages := 0
	var sizes []int
	for next != "" {
		r := e.call(req{path: next, tok: e.alice()}).want(t, 200)
		pages++
		sizes = append(sizes, len(r.values()))
		for _, v := range r.values() {
			name := v["name"].(string)
			if seen[name] {
				t.Fatalf("%s listed twice", name)
			}
			seen[name] = true
		}
		next = r.str("@odata.nextLink")
		if next != "" && !strings.HasPrefix(next, e.base+"/v1.0/") {
			t.Fatalf("nextLink %q is not absolute", next)
		}
	}
	if len(seen) != 450 || pages != 3 || sizes[0] != 200 {
		t.Errorf("listed %d items in %d pages %v, want 450 in 3 pages of 200", len(seen), pages, sizes)
	}
}

func TestChildrenTopAndOrderByName(t *testing.T) {
	e := newEnvSeed(t, pagingSeed(30))
	var names []string
	next := "/v1.0/me/drive/root:/Big:/children?$top=7&$orderby=name%20desc"
	for next != "" {
		r := e.call(req{path: next, tok: e.alice()}).want(t, 200)
		if n := len(r.values()); n > 7 {
			t.Fatalf("page of %d items with $top=7", n)
		}
		for _, v := range r.values() {
			names = append(names, v["name"].(string))
		}
		next = r.str("@odata.nextLink")
	}
	if len(names) != 30 || !slicesSortedDesc(names) {
		t.Errorf("names = %v", names)
	}
	r := e.call(req{path: "/v1.0/me/drive/root:/Big:/children?$orderby=size&$top=5", tok: e.alice()}).want(t, 200)
	if len(r.values()) != 5 || r.str("@odata.nextLink") == "" {
		t.Errorf("orderby size page = %s", r.raw)
	}
	e.call(req{path: "/v1.0/me/drive/root/children?$orderby=foo", tok: e.alice()}).want(t, 400, "invalidRequest")
	e.call(req{path: "/v1.0/me/drive/root/children?$top=abc", tok: e.alice()}).want(t, 400, "invalidRequest")
	e.call(req{path: "/v1.0/me/drive/root/children?$skiptoken=!!", tok: e.alice()}).want(t, 400, "invalidRequest")
}

func slicesSortedDesc(s []string) bool {
	for i := 1; i < len(s); i++ {
		if strings.ToLower(s[i-1]) < strings.ToLower(s[i]) {
			return false
		}
	}
	return true
}

func TestChildrenSelectKeepsIDAndODataFields(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{path: "/v1.0/me/drive/root:/Documents:/children?$select=name,size", tok: e.alice()}).want(t, 200)
	for _, v := range r.values() {
		for k := range v {
			if k != "id" && k != "name" && k != "size" {
				t.Errorf("$select=name,size returned %s", k)
			}
		}
		if v["id"] == nil || v["name"] == nil {
			t.Errorf("item lacks id or name: %v", v)
		}
	}
	if r.str("@odata.context") == "" {
		t.Errorf("no @odata.context")
	}
	r = e.call(req{path: "/v1.0/me/drive/root:/Documents:/children?$select=name,@microsoft.graph.downloadUrl", tok: e.alice()}).want(t, 200)
	if r.values()[0]["@microsoft.graph.downloadUrl"] == nil {
		t.Errorf("selected downloadUrl missing: %s", r.raw)
	}
}

func TestChildrenAddressingForms(t *testing.T) {
	e := newEnv(t)
	d := e.driveOf("contoso", "alice")
	docs := e.call(req{path: "/v1.0/me/drive/root:/Documents", tok: e.alice()}).want(t, 200)
	for _, p := range []string{
		"/v1.0/drives/" + d + "/root:/Documents:/children",
		"/v1.0/drives/" + d + "/items/" + docs.str("id") + "/children",
		"/v1.0/me/drive/items/" + docs.str("id") + "/children",
		"/v1.0/me/drive/root:/documents:/children", // names are case-insensitive
	} {
		r := e.call(req{path: p, tok: e.alice()}).want(t, 200)
		if len(r.values()) != 2 {
			t.Errorf("%s -> %d children", p, len(r.values()))
		}
	}
	r := e.call(req{path: "/v1.0/drives/" + d + "/root/children", tok: e.alice()}).want(t, 200)
	if len(r.values()) != 2 {
		t.Errorf("root children = %s", r.raw)
	}
	r = e.call(req{path: "/v1.0/me/drive/items/" + docs.str("id") + ":/Welcome.txt:", tok: e.alice()}).want(t, 200)
	if r.str("name") != "Welcome.txt" {
		t.Errorf("relative path = %s", r.raw)
	}
	r = e.call(req{path: "/v1.0/me/drive/root?$expand=children", tok: e.alice()}).want(t, 200)
	if ch, _ := r.get("children").([]any); len(ch) != 2 {
		t.Errorf("$expand=children = %s", r.raw)
	}
	e.call(req{path: "/v1.0/me/drive/root:/Nope:/children", tok: e.alice()}).want(t, 404, "itemNotFound")
}

func TestChildrenIfNoneMatchGives304UntilAChildChanges(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{path: "/v1.0/me/drive/root:/Documents:/children", tok: e.alice()}).want(t, 200)
	tag := r.header.Get("ETag")
	e.call(req{path: "/v1.0/me/drive/root:/Documents:/children", tok: e.alice(), hdr: map[string]string{"If-None-Match": tag}}).want(t, 304)
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/Documents/new.txt:/content", tok: e.alice(), body: "n"}).want(t, 201)
	e.call(req{path: "/v1.0/me/drive/root:/Documents:/children", tok: e.alice(), hdr: map[string]string{"If-None-Match": tag}}).want(t, 200)
}

func TestDriveItemFieldsFollowTheContract(t *testing.T) {
	e := newEnv(t)
	f := e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt", tok: e.alice()}).want(t, 200)
	content := "Welcome to your OneDrive, mapped by Mapdrive.\n"
	for _, k := range []string{"id", "name", "eTag", "cTag", "size", "createdDateTime", "lastModifiedDateTime", "parentReference", "file", "fileSystemInfo", "@microsoft.graph.downloadUrl"} {
		if f.get(k) == nil {
			t.Errorf("file lacks %s: %s", k, f.raw)
		}
	}
	if et := f.str("eTag"); !strings.HasPrefix(et, `"`) || !strings.HasSuffix(et, `"`) {
		t.Errorf("eTag %q is not quoted", et)
	}
	if f.str("file", "mimeType") != "text/plain" || f.str("file", "hashes", "quickXorHash") != quickxorhash.Sum([]byte(content)) {
		t.Errorf("file facet = %v", f.get("file"))
	}
	if h, _ := f.get("file", "hashes").(map[string]any); len(h) != 1 {
		t.Errorf("hashes = %v, want quickXorHash only", h)
	}
	if f.get("size").(float64) != float64(len(content)) {
		t.Errorf("size = %v", f.get("size"))
	}
	pr := f.get("parentReference").(map[string]any)
	if pr["driveId"] != e.driveOf("contoso", "alice") || pr["driveType"] != "business" || pr["id"] == nil || pr["path"] != "/drives/"+e.driveOf("contoso", "alice")+"/root:/Documents" {
		t.Errorf("parentReference = %v", pr)
	}
	d := e.call(req{path: "/v1.0/me/drive/root:/Documents", tok: e.alice()}).want(t, 200)
	if d.get("cTag") != nil {
		t.Errorf("folder has a cTag: %s", d.raw)
	}
	if d.get("folder", "childCount").(float64) != 2 {
		t.Errorf("folder = %v", d.get("folder"))
	}
	if d.get("@microsoft.graph.downloadUrl") != nil || d.get("file") != nil {
		t.Errorf("folder has file fields: %s", d.raw)
	}
	root := e.call(req{path: "/v1.0/me/drive/root", tok: e.alice()}).want(t, 200)
	if root.get("root") == nil || root.get("folder") == nil {
		t.Errorf("root = %s", root.raw)
	}
}

func TestETagChangesWithMetadataAndContentCTagWithContentOnly(t *testing.T) {
	e := newEnv(t)
	p := "/v1.0/me/drive/root:/Documents/Notes.md"
	a := e.call(req{path: p, tok: e.alice()}).want(t, 200)
	b := e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + a.str("id"), tok: e.alice(), body: map[string]any{"name": "Notes2.md"}}).want(t, 200)
	if b.str("eTag") == a.str("eTag") {
		t.Errorf("rename kept eTag %s", a.str("eTag"))
	}
	if b.str("cTag") != a.str("cTag") {
		t.Errorf("rename changed cTag %s -> %s", a.str("cTag"), b.str("cTag"))
	}
	c := e.call(req{method: "PUT", path: "/v1.0/me/drive/items/" + a.str("id") + "/content", tok: e.alice(), body: "new"}).want(t, 200)
	if c.str("cTag") == b.str("cTag") || c.str("eTag") == b.str("eTag") {
		t.Errorf("content change kept tags: %s", c.raw)
	}
}

func TestFolderETagChangesOnlyWithItsOwnProperties(t *testing.T) {
	e := newEnv(t)
	a := e.call(req{path: "/v1.0/me/drive/root:/Documents", tok: e.alice()}).want(t, 200)
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/Documents/added.txt:/content", tok: e.alice(), body: "x"}).want(t, 201)
	b := e.call(req{path: "/v1.0/me/drive/root:/Documents", tok: e.alice()}).want(t, 200)
	if a.str("eTag") != b.str("eTag") {
		t.Errorf("adding a child changed the folder eTag")
	}
	if b.get("folder", "childCount").(float64) != 3 {
		t.Errorf("childCount = %v, want 3", b.get("folder", "childCount"))
	}
	c := e.call(req{method: "PATCH", path: "/v1.0/me/drive/items/" + a.str("id"), tok: e.alice(), body: map[string]any{"name": "Docs"}}).want(t, 200)
	if c.str("eTag") == b.str("eTag") {
		t.Errorf("renaming the folder kept its eTag")
	}
}

func TestMalformedIfMatchGives400MalformedEntityTag(t *testing.T) {
	e := newEnv(t)
	p := "/v1.0/me/drive/root:/Documents/Notes.md"
	for _, bad := range []string{"abc", `"unterminated`, `W/`} {
		e.call(req{method: "DELETE", path: p, tok: e.alice(), hdr: map[string]string{"If-Match": bad}}).want(t, 400, "malformedEntityTag")
	}
	e.call(req{path: p, tok: e.alice(), hdr: map[string]string{"If-None-Match": "nope"}}).want(t, 400, "malformedEntityTag")
}

func TestGetItemIfNoneMatchGives304(t *testing.T) {
	e := newEnv(t)
	p := "/v1.0/me/drive/root:/Documents/Notes.md"
	a := e.call(req{path: p, tok: e.alice()}).want(t, 200)
	e.call(req{path: p, tok: e.alice(), hdr: map[string]string{"If-None-Match": a.str("eTag")}}).want(t, 304)
	e.call(req{path: p, tok: e.alice(), hdr: map[string]string{"If-None-Match": `"other"`}}).want(t, 200)
}

func TestSeedMaterializesFilesWithDeterministicContent(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{path: "/v1.0/me/drive/root:/Pictures/sample.bin", tok: e.alice()}).want(t, 200)
	data, _ := io.ReadAll(SeedContent("Pictures/sample.bin", 256<<10))
	if r.str("file", "hashes", "quickXorHash") != quickxorhash.Sum(data) || r.get("size").(float64) != 256<<10 {
		t.Errorf("seeded file = %s", r.raw)
	}
	got := e.call(req{path: r.str("@microsoft.graph.downloadUrl")}).want(t, 200)
	if string(got.raw) != string(data) {
		t.Errorf("downloaded %d bytes differing from SeedContent", len(got.raw))
	}
	if got := ExpandSeedFiles(directory.File{Path: "a/b.txt", Count: 2}); fmt.Sprint(got) != "[a/b 1.txt a/b 2.txt]" {
		t.Errorf("ExpandSeedFiles = %v", got)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	e := newEnv(t)
	up := e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/kept.txt:/content", tok: e.alice(), body: "keep me"}).want(t, 201)
	e.call(req{method: "DELETE", path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice()}).want(t, 204)
	delta := e.call(req{path: "/v1.0/me/drive/root/delta?token=latest", tok: e.alice()}).want(t, 200).str("@odata.deltaLink")
	e.restart()
	r := e.call(req{path: "/v1.0/me/drive/root:/kept.txt", tok: e.alice()}).want(t, 200)
	if r.str("id") != up.str("id") || r.str("eTag") != up.str("eTag") {
		t.Errorf("after restart %s, before %s", r.raw, up.raw)
	}
	e.call(req{path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice()}).want(t, 404)
	e.call(req{path: r.str("@microsoft.graph.downloadUrl")}).want(t, 200)
	e.call(req{path: delta, tok: e.alice()}).want(t, 200)
	// The seed is not materialized twice.
	kids := e.call(req{path: "/v1.0/me/drive/root:/Documents:/children", tok: e.alice()}).want(t, 200)
	if len(kids.values()) != 1 {
		t.Errorf("after restart Documents holds %s", kids.raw)
	}
}

func TestUnknownRoutesAndBadJSONGetGraphErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		r      req
		status int
		code   string
	}{
		{req{path: "/v1.0/nothing"}, 400, "invalidRequest"},
		{req{path: "/v1.0/me/drive/root/bogus"}, 400, "invalidRequest"},
		{req{path: "/v1.0/me/drive/items/"}, 400, "invalidRequest"},
		{req{path: "/v1.0/me/drive/root:no-slash:"}, 400, "invalidRequest"},
		{req{path: "/v1.0/me/drive/root:/a" + url.PathEscape("<") + "b:"}, 400, "invalidRequest"},
		{req{path: "/elsewhere"}, 404, "itemNotFound"},
		{req{method: "PATCH", path: "/v1.0/me/drive/root:/Documents", body: "{not json"}, 400, "invalidRequest"},
		{req{method: "POST", path: "/v1.0/me/drive/root/children", body: "[]"}, 400, "invalidRequest"},
		{req{method: "PUT", path: "/v1.0/me/drive"}, 405, "notSupported"},
		{req{path: "/v1.0/me/drive/root/children?$select=a%20b"}, 400, "invalidRequest"},
	} {
		tc.r.tok = e.alice()
		e.call(tc.r).want(t, tc.status, tc.code)
	}
}
