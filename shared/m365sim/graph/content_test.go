package graph

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/quickxorhash"
)

func TestContentRedirects302ToAPreauthenticatedURL(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt:/content", tok: e.alice()}).want(t, 302)
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, e.base+"/_download/") {
		t.Fatalf("Location = %q", loc)
	}
	got := e.call(req{path: loc}).want(t, 200)
	if string(got.raw) != "Welcome to your OneDrive, mapped by Mapdrive.\n" {
		t.Errorf("content = %q", got.raw)
	}
	e.call(req{path: loc[:len(loc)-3] + "AAA"}).want(t, 401)
}

func TestContentIfNoneMatchGives304(t *testing.T) {
	e := newEnv(t)
	it := e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt", tok: e.alice()}).want(t, 200)
	for _, tag := range []string{it.str("eTag"), it.str("cTag")} {
		e.call(req{path: "/v1.0/me/drive/items/" + it.str("id") + "/content", tok: e.alice(), hdr: map[string]string{"If-None-Match": tag}}).want(t, 304)
	}
}

func TestDownloadURLHonoursRangeWith206(t *testing.T) {
	e := newEnv(t)
	it := e.call(req{path: "/v1.0/me/drive/root:/Pictures/sample.bin", tok: e.alice()}).want(t, 200)
	r := e.call(req{path: it.str("@microsoft.graph.downloadUrl"), hdr: map[string]string{"Range": "bytes=0-1023"}}).want(t, 206)
	if cr := r.header.Get("Content-Range"); cr != fmt.Sprintf("bytes 0-1023/%d", 256<<10) || len(r.raw) != 1024 {
		t.Errorf("Content-Range = %q, %d bytes", cr, len(r.raw))
	}
	e.call(req{path: it.str("@microsoft.graph.downloadUrl"), hdr: map[string]string{"Range": "bytes=999999999-"}}).want(t, 416)
}

func TestDownloadURLExpires(t *testing.T) {
	e := newEnv(t)
	it := e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt", tok: e.alice()}).want(t, 200)
	u := it.str("@microsoft.graph.downloadUrl")
	e.call(req{path: u}).want(t, 200)
	e.clock.Advance(61 * time.Minute)
	e.call(req{path: u}).want(t, 401)
}

func TestExpireDownloadURLsInvalidatesEveryIssuedURL(t *testing.T) {
	e := newEnv(t)
	it := e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt", tok: e.alice()}).want(t, 200)
	u := it.str("@microsoft.graph.downloadUrl")
	e.srv.ExpireDownloadURLs()
	e.call(req{path: u}).want(t, 401)
	fresh := e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt:/content", tok: e.alice()}).want(t, 302).header.Get("Location")
	e.call(req{path: fresh}).want(t, 200)
}

// Contract (graph-contract.md, "Download"): "nothing in them names a
// content version, so assume a URL serves whatever the content is now. A
// client that caches by version must check each ranged response (the
// ETag, the total in Content-Range)".
func TestDownloadURLServesTheCurrentContentWithItsETagAndTotal(t *testing.T) {
	e := newEnv(t)
	it := e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt", tok: e.alice()}).want(t, 200)
	u := it.str("@microsoft.graph.downloadUrl")
	before := e.call(req{path: u, hdr: map[string]string{"Range": "bytes=0-1"}}).want(t, 206)
	nu := e.call(req{method: "PUT", path: "/v1.0/me/drive/items/" + it.str("id") + "/content", tok: e.alice(), body: "v2 is longer"}).want(t, 200)
	after := e.call(req{path: u, hdr: map[string]string{"Range": "bytes=0-1"}}).want(t, 206)
	if string(after.raw) != "v2" || after.header.Get("Content-Range") != "bytes 0-1/12" {
		t.Errorf("old URL after a change: %q, Content-Range %q; want the new content", after.raw, after.header.Get("Content-Range"))
	}
	if b, a := before.header.Get("ETag"), after.header.Get("ETag"); b == "" || b == a || a != nu.str("cTag") {
		t.Errorf("ETag before %q, after %q; want the content's cTag, changed (%q)", b, a, nu.str("cTag"))
	}
	e.call(req{method: "DELETE", path: "/v1.0/me/drive/items/" + it.str("id"), tok: e.alice()}).want(t, 204)
	e.call(req{path: u}).want(t, 404, "itemNotFound")
}

func TestSimpleUploadCreates201AndReplaces200(t *testing.T) {
	e := newEnv(t)
	root := e.call(req{path: "/v1.0/me/drive/root", tok: e.alice()}).want(t, 200)
	c := e.call(req{method: "PUT", path: "/v1.0/me/drive/items/" + root.str("id") + ":/up.txt:/content", tok: e.alice(), body: "one"}).want(t, 201)
	if c.str("file", "hashes", "quickXorHash") != quickxorhash.Sum([]byte("one")) || c.str("name") != "up.txt" {
		t.Errorf("created = %s", c.raw)
	}
	r := e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/up.txt:/content", tok: e.alice(), body: "two!"}).want(t, 200)
	if r.str("id") != c.str("id") || r.get("size").(float64) != 4 {
		t.Errorf("replaced = %s", r.raw)
	}
	// Missing folders on the path are created.
	n := e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/New/Deep/x.txt:/content", tok: e.alice(), body: "x"}).want(t, 201)
	if !strings.HasSuffix(n.str("parentReference", "path"), "/root:/New/Deep") {
		t.Errorf("path = %s", n.str("parentReference", "path"))
	}
	e.call(req{method: "PUT", path: "/v1.0/me/drive/items/nope/content", tok: e.alice(), body: "x"}).want(t, 404, "itemNotFound")
}

func TestSimpleUploadConflictBehavior(t *testing.T) {
	e := newEnv(t)
	p := "/v1.0/me/drive/root:/Documents/Welcome.txt:/content"
	e.call(req{method: "PUT", path: p + "?@microsoft.graph.conflictBehavior=fail", tok: e.alice(), body: "x"}).want(t, 409, "nameAlreadyExists")
	r := e.call(req{method: "PUT", path: p + "?@microsoft.graph.conflictBehavior=rename", tok: e.alice(), body: "x"}).want(t, 201)
	if r.str("name") != "Welcome 1.txt" {
		t.Errorf("renamed to %q", r.str("name"))
	}
	e.call(req{method: "PUT", path: p + "?@microsoft.graph.conflictBehavior=bogus", tok: e.alice(), body: "x"}).want(t, 400, "invalidRequest")
}

func TestSimpleUploadIfMatchMismatchGives412(t *testing.T) {
	e := newEnv(t)
	it := e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt", tok: e.alice()}).want(t, 200)
	p := "/v1.0/me/drive/items/" + it.str("id") + "/content"
	e.call(req{method: "PUT", path: p, tok: e.alice(), body: "x", hdr: map[string]string{"If-Match": `"{00000000-0000-0000-0000-000000000000},9"`}}).want(t, 412, "resourceModified")
	e.call(req{method: "PUT", path: p, tok: e.alice(), body: "x", hdr: map[string]string{"If-Match": it.str("eTag")}}).want(t, 200)
	r := e.call(req{method: "PUT", path: p, tok: e.alice(), body: "y", hdr: map[string]string{"If-Match": it.str("eTag")}}).want(t, 412, "resourceModified")
	if r.str("error", "innerError", "code") != "entityTagDoesNotMatch" {
		t.Errorf("412 body = %s, want the inner code entityTagDoesNotMatch", r.raw)
	}
}

// smallQuotaSeed gives alice a 1 MiB OneDrive.
func smallQuotaSeed() *directory.Seed {
	seed := directory.DemoSeed()
	seed.Tenants[0].Users[0].Drive.Quota = 1 << 20
	seed.Tenants[0].Users[0].Drive.Files = nil
	return seed
}

func TestUploadOverQuotaGives507QuotaLimitReached(t *testing.T) {
	e := newEnvSeed(t, smallQuotaSeed())
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/big.bin:/content", tok: e.alice(), body: make([]byte, 2<<20)}).want(t, 507, "quotaLimitReached")
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/ok.bin:/content", tok: e.alice(), body: make([]byte, 512<<10)}).want(t, 201)
	d := e.call(req{path: "/v1.0/me/drive", tok: e.alice()}).want(t, 200)
	if d.get("quota", "used").(float64) != 512<<10 || d.get("quota", "remaining").(float64) != 512<<10 {
		t.Errorf("quota = %v", d.get("quota"))
	}
}

// session creates an upload session and returns its URL.
func (e *env) session(t *testing.T, path string, body map[string]any, hdr map[string]string) string {
	t.Helper()
	r := e.call(req{method: "POST", path: path, tok: e.alice(), body: body, hdr: hdr}).want(t, 200)
	u := r.str("uploadUrl")
	if !strings.HasPrefix(u, e.base+"/_upload/") || r.str("expirationDateTime") == "" {
		t.Fatalf("session = %s", r.raw)
	}
	return u
}

func (e *env) fragment(u string, data []byte, start, total int64, hdr ...string) result {
	h := map[string]string{"Content-Range": fmt.Sprintf("bytes %d-%d/%d", start, start+int64(len(data))-1, total)}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	return e.call(req{method: "PUT", path: u, body: data, hdr: h})
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestUploadSessionFragmentsInOrderGive202ThenTheItem(t *testing.T) {
	e := newEnv(t)
	data := randomBytes(fragmentUnit*2+1000, 1)
	total := int64(len(data))
	u := e.session(t, "/v1.0/me/drive/root:/Big/upload.bin:/createUploadSession", map[string]any{"item": map[string]any{"@microsoft.graph.conflictBehavior": "fail", "name": "upload.bin", "fileSize": total}}, nil)
	r := e.fragment(u, data[:fragmentUnit], 0, total).want(t, 202)
	if rg, _ := r.get("nextExpectedRanges").([]any); len(rg) != 1 || rg[0] != fmt.Sprintf("%d-", fragmentUnit) {
		t.Errorf("nextExpectedRanges = %v", r.get("nextExpectedRanges"))
	}
	e.fragment(u, data[fragmentUnit:2*fragmentUnit], fragmentUnit, total).want(t, 202)
	done := e.fragment(u, data[2*fragmentUnit:], 2*fragmentUnit, total).want(t, 201)
	if done.str("file", "hashes", "quickXorHash") != quickxorhash.Sum(data) || done.get("size").(float64) != float64(total) {
		t.Errorf("item = %s", done.raw)
	}
	got := e.call(req{path: done.str("@microsoft.graph.downloadUrl")}).want(t, 200)
	if !bytes.Equal(got.raw, data) {
		t.Errorf("downloaded content differs")
	}
	// The session is gone once committed.
	e.call(req{path: u}).want(t, 404, "itemNotFound")
	// Replacing through a session gives 200.
	u2 := e.session(t, "/v1.0/me/drive/items/"+done.str("id")+"/createUploadSession", map[string]any{}, nil)
	e.fragment(u2, []byte("short"), 0, 5).want(t, 200)
}

func TestUploadFragmentMustBeAMultipleOf320KiBExceptTheLast(t *testing.T) {
	e := newEnv(t)
	u := e.session(t, "/v1.0/me/drive/root:/f.bin:/createUploadSession", map[string]any{"item": map[string]any{"fileSize": 1 << 20}}, nil)
	e.fragment(u, make([]byte, 1000), 0, 1<<20).want(t, 400, "invalidRequest")
	e.fragment(u, make([]byte, fragmentUnit), 0, 1<<20).want(t, 202)
}

func TestUploadFragmentOverlapOrGapGives416(t *testing.T) {
	e := newEnv(t)
	total := int64(3 * fragmentUnit)
	u := e.session(t, "/v1.0/me/drive/root:/f.bin:/createUploadSession", map[string]any{"item": map[string]any{"fileSize": total}}, nil)
	e.fragment(u, make([]byte, fragmentUnit), 0, total).want(t, 202)
	over := e.fragment(u, make([]byte, fragmentUnit), 0, total).want(t, 416, "invalidRange")
	gap := e.fragment(u, make([]byte, fragmentUnit), 2*fragmentUnit, total).want(t, 416, "invalidRange")
	// Contract (graph-contract.md, Errors): "the key is spelled innererror
	// on the OneDrive error page and innerError in Graph responses, and an
	// inner error may itself hold another".
	if c := over.str("error", "innerError", "innererror", "code"); c != "fragmentOverlap" || over.str("error", "innerError", "code") != "uploadSessionFailed" {
		t.Errorf("overlap error = %s, want invalidRange/uploadSessionFailed/fragmentOverlap", over.raw)
	}
	if c := gap.str("error", "innerError", "innererror", "code"); c != "fragmentOutOfOrder" || gap.str("error", "innerError", "request-id") == "" {
		t.Errorf("gap error = %s, want .../fragmentOutOfOrder with Graph's request-id on the outer innerError", gap.raw)
	}
	r := e.call(req{path: u}).want(t, 200)
	if rg, _ := r.get("nextExpectedRanges").([]any); len(rg) != 1 || rg[0] != fmt.Sprintf("%d-", fragmentUnit) {
		t.Errorf("after rejected fragments nextExpectedRanges = %v", r.get("nextExpectedRanges"))
	}
}

func TestUploadFragmentWithAnAuthorizationHeaderGives401(t *testing.T) {
	e := newEnv(t)
	u := e.session(t, "/v1.0/me/drive/root:/f.bin:/createUploadSession", map[string]any{}, nil)
	e.fragment(u, []byte("abc"), 0, 3, "Authorization", "Bearer "+e.alice()).want(t, 401)
	e.fragment(u, []byte("abc"), 0, 3).want(t, 201)
}

func TestUploadFragmentHeadersAreValidated(t *testing.T) {
	e := newEnv(t)
	u := e.session(t, "/v1.0/me/drive/root:/f.bin:/createUploadSession", map[string]any{"item": map[string]any{"fileSize": 10}}, nil)
	for _, cr := range []string{"", "bytes 0-4", "bytes 5-1/10", "items 0-4/10", "bytes 0-4/9"} {
		e.call(req{method: "PUT", path: u, body: make([]byte, 5), hdr: map[string]string{"Content-Range": cr}}).want(t, 400, "invalidRequest")
	}
	e.call(req{method: "PUT", path: u, body: make([]byte, 4), hdr: map[string]string{"Content-Range": "bytes 0-4/10"}}).want(t, 400, "invalidRequest")
}

func TestUploadSessionStatusAndCancel(t *testing.T) {
	e := newEnv(t)
	u := e.session(t, "/v1.0/me/drive/root:/f.bin:/createUploadSession", map[string]any{"item": map[string]any{"fileSize": 2 * fragmentUnit}}, nil)
	r := e.call(req{path: u}).want(t, 200)
	if rg, _ := r.get("nextExpectedRanges").([]any); len(rg) != 1 || rg[0] != "0-" {
		t.Errorf("status = %s", r.raw)
	}
	e.call(req{method: "DELETE", path: u}).want(t, 204)
	e.call(req{path: u}).want(t, 404, "itemNotFound")
	e.fragment(u, make([]byte, fragmentUnit), 0, 2*fragmentUnit).want(t, 404, "itemNotFound")
}

func TestUploadSessionNameConflictAtCommitGives409(t *testing.T) {
	e := newEnv(t)
	u := e.session(t, "/v1.0/me/drive/root:/race.txt:/createUploadSession", map[string]any{"item": map[string]any{"@microsoft.graph.conflictBehavior": "fail"}}, nil)
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/race.txt:/content", tok: e.alice(), body: "first"}).want(t, 201)
	e.fragment(u, []byte("second"), 0, 6).want(t, 409, "nameAlreadyExists")
	e.call(req{method: "POST", path: "/v1.0/me/drive/root:/race.txt:/createUploadSession", tok: e.alice(),
		body: map[string]any{"item": map[string]any{"@microsoft.graph.conflictBehavior": "fail"}}}).want(t, 409, "nameAlreadyExists")
	ren := e.session(t, "/v1.0/me/drive/root:/race.txt:/createUploadSession", map[string]any{"item": map[string]any{"@microsoft.graph.conflictBehavior": "rename"}}, nil)
	if got := e.fragment(ren, []byte("third"), 0, 5).want(t, 201).str("name"); got != "race 1.txt" {
		t.Errorf("renamed to %q", got)
	}
}

func TestUploadSessionHonoursIfMatchAndIfNoneMatch(t *testing.T) {
	e := newEnv(t)
	it := e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt", tok: e.alice()}).want(t, 200)
	p := "/v1.0/me/drive/root:/Documents/Welcome.txt:/createUploadSession"
	e.call(req{method: "POST", path: p, tok: e.alice(), body: map[string]any{}, hdr: map[string]string{"If-Match": `"{0},1"`}}).want(t, 412)
	e.call(req{method: "POST", path: p, tok: e.alice(), body: map[string]any{}, hdr: map[string]string{"If-None-Match": it.str("eTag")}}).want(t, 412)
	u := e.session(t, p, map[string]any{}, map[string]string{"If-Match": it.str("eTag")})
	e.fragment(u, []byte("ok"), 0, 2).want(t, 200)
}

func TestUploadSessionDeferCommitWaitsForAnEmptyPost(t *testing.T) {
	e := newEnv(t)
	u := e.session(t, "/v1.0/me/drive/root:/deferred.txt:/createUploadSession", map[string]any{"deferCommit": true}, nil)
	e.fragment(u, []byte("later"), 0, 5).want(t, 202)
	e.call(req{path: "/v1.0/me/drive/root:/deferred.txt", tok: e.alice()}).want(t, 404)
	r := e.call(req{method: "POST", path: u, body: ""}).want(t, 201)
	if r.str("name") != "deferred.txt" {
		t.Errorf("committed = %s", r.raw)
	}
}

func TestUploadSessionExpires(t *testing.T) {
	e := newEnv(t)
	u := e.session(t, "/v1.0/me/drive/root:/slow.bin:/createUploadSession", map[string]any{"item": map[string]any{"fileSize": 2 * fragmentUnit}}, nil)
	e.fragment(u, make([]byte, fragmentUnit), 0, 2*fragmentUnit).want(t, 202)
	e.clock.Advance(sessionLifetime + time.Minute)
	e.fragment(u, make([]byte, fragmentUnit), fragmentUnit, 2*fragmentUnit).want(t, 404, "itemNotFound")
}

func TestUploadSessionSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	data := randomBytes(fragmentUnit+10, 2)
	u := e.session(t, "/v1.0/me/drive/root:/resume.bin:/createUploadSession", map[string]any{"item": map[string]any{"fileSize": len(data)}}, nil)
	e.fragment(u, data[:fragmentUnit], 0, int64(len(data))).want(t, 202)
	e.restart()
	r := e.fragment(u, data[fragmentUnit:], fragmentUnit, int64(len(data))).want(t, 201)
	if r.str("file", "hashes", "quickXorHash") != quickxorhash.Sum(data) {
		t.Errorf("hash after resume = %s", r.raw)
	}
	_ = http.StatusOK
}

func TestUploadFragmentsMustBeSmallerThan60MiB(t *testing.T) {
	e := newEnv(t)
	total := int64(2 * fragmentLimit)
	u := e.session(t, "/v1.0/me/drive/root:/huge.bin:/createUploadSession", map[string]any{"item": map[string]any{"fileSize": total}}, nil)
	e.fragment(u, make([]byte, fragmentLimit), 0, total).want(t, 413, "invalidRequest")
	e.fragment(u, make([]byte, fragmentLimit-fragmentUnit), 0, total).want(t, 202)
}

func TestExpiredUploadSessionsAreSweptAtStart(t *testing.T) {
	e := newEnv(t)
	u := e.session(t, "/v1.0/me/drive/root:/gone.bin:/createUploadSession", map[string]any{"item": map[string]any{"fileSize": 10}}, nil)
	e.clock.Advance(2 * sessionLifetime)
	e.restart()
	e.call(req{path: u}).want(t, 404, "itemNotFound")
	entries, err := os.ReadDir(filepath.Join(e.dataDir, "graph", "tmp"))
	if err != nil || len(entries) != 0 {
		t.Errorf("staging dir after sweep: %v, %v", entries, err)
	}
}

func TestUploadSessionOnAFolderTakesTheNameFromTheBody(t *testing.T) {
	e := newEnv(t)
	docs := e.call(req{path: "/v1.0/me/drive/root:/Documents", tok: e.alice()}).want(t, 200)
	u := e.session(t, "/v1.0/me/drive/items/"+docs.str("id")+"/createUploadSession", map[string]any{"item": map[string]any{"name": "named.txt"}}, nil)
	r := e.fragment(u, []byte("hi"), 0, 2).want(t, 201)
	if r.str("name") != "named.txt" || r.str("parentReference", "id") != docs.str("id") {
		t.Errorf("item = %s", r.raw)
	}
	e.call(req{method: "POST", path: "/v1.0/me/drive/items/" + docs.str("id") + "/createUploadSession", tok: e.alice(), body: map[string]any{}}).want(t, 400, "invalidRequest")
}

func TestSimpleUploadIfNoneMatchStarOnlyCreates(t *testing.T) {
	e := newEnv(t)
	star := map[string]string{"If-None-Match": "*"}
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/once.txt:/content", tok: e.alice(), body: "1", hdr: star}).want(t, 201)
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/once.txt:/content", tok: e.alice(), body: "2", hdr: star}).want(t, 412)
}

func TestEmptyFilesUploadAndDownload(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/empty.txt:/content", tok: e.alice(), body: ""}).want(t, 201)
	if r.get("size").(float64) != 0 || r.str("file", "hashes", "quickXorHash") != "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" {
		t.Errorf("empty file = %s", r.raw)
	}
	if got := e.call(req{path: r.str("@microsoft.graph.downloadUrl")}).want(t, 200); len(got.raw) != 0 {
		t.Errorf("downloaded %q", got.raw)
	}
}

func TestSimpleUploadOver250MBIsRefusedBeforeReading(t *testing.T) {
	e := newEnv(t)
	r, err := http.NewRequest("PUT", e.base+"/v1.0/me/drive/root:/huge.bin:/content", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	r.ContentLength = simpleUploadLimit + 1
	r.Header.Set("Authorization", "Bearer "+e.alice())
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "upload session") {
		t.Errorf("status %d, body %s", w.Code, w.Body.Bytes())
	}
}

// Contract (graph-contract.md, "Upload session"): "fileSize in the session
// request is checked against quota only on OneDrive Personal; on OneDrive
// for Business / SharePoint a 507 quotaLimitReached arrives on the final
// fragment", and "If the last fragment fails (name conflict, quota), the
// session is kept until it expires ... nextExpectedRanges ... can be empty
// when everything was received". The explicit commit is the OneDrive API
// docs' "Handle upload errors": PUT on the parent with the new metadata and
// @microsoft.graph.sourceUrl.
func TestUploadSessionOverQuotaFailsAtTheLastFragmentAndIsKeptForAnExplicitCommit(t *testing.T) {
	e := newEnvSeed(t, smallQuotaSeed())
	data := randomBytes(fragmentUnit+1000, 7)
	total := int64(len(data))
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/filler.bin:/content", tok: e.alice(), body: make([]byte, 900<<10)}).want(t, 201)
	// The session is created although the file cannot fit.
	u := e.session(t, "/v1.0/me/drive/root:/big.bin:/createUploadSession",
		map[string]any{"item": map[string]any{"@microsoft.graph.conflictBehavior": "fail", "fileSize": total}}, nil)
	e.fragment(u, data[:fragmentUnit], 0, total).want(t, 202)
	e.fragment(u, data[fragmentUnit:], fragmentUnit, total).want(t, 507, "quotaLimitReached")
	// Kept, with every byte received: no range is expected any more.
	st := e.call(req{path: u}).want(t, 200)
	if rg, ok := st.get("nextExpectedRanges").([]any); !ok || len(rg) != 0 {
		t.Errorf("status after a failed commit = %s, want an empty nextExpectedRanges", st.raw)
	}
	// Sending the last bytes again overlaps what was received.
	e.fragment(u, data[fragmentUnit:], fragmentUnit, total).want(t, 416, "invalidRange")
	commit := func() result {
		return e.call(req{method: "PUT", path: "/v1.0/me/drive/root", tok: e.alice(),
			body: map[string]any{"name": "big.bin", "@microsoft.graph.conflictBehavior": "fail", "@microsoft.graph.sourceUrl": u}})
	}
	commit().want(t, 507, "quotaLimitReached")
	// Space freed: the kept session commits without a byte sent again.
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/filler.bin:/content", tok: e.alice(), body: "x"}).want(t, 200)
	it := commit().want(t, 201)
	if it.str("name") != "big.bin" || it.str("file", "hashes", "quickXorHash") != quickxorhash.Sum(data) {
		t.Errorf("committed item = %s", it.raw)
	}
	e.call(req{path: u}).want(t, 404, "itemNotFound")
}

func TestUploadSessionNameConflictIsKeptAndCommitsUnderAnotherName(t *testing.T) {
	e := newEnv(t)
	u := e.session(t, "/v1.0/me/drive/root:/Documents/race.txt:/createUploadSession", map[string]any{"item": map[string]any{"@microsoft.graph.conflictBehavior": "fail"}}, nil)
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/Documents/race.txt:/content", tok: e.alice(), body: "theirs"}).want(t, 201)
	e.fragment(u, []byte("mine"), 0, 4).want(t, 409, "nameAlreadyExists")
	docs := e.call(req{path: "/v1.0/me/drive/root:/Documents", tok: e.alice()}).want(t, 200)
	put := func(name string) result {
		return e.call(req{method: "PUT", path: "/v1.0/me/drive/items/" + docs.str("id"), tok: e.alice(),
			body: map[string]any{"name": name, "@microsoft.graph.conflictBehavior": "fail", "@microsoft.graph.sourceUrl": u}})
	}
	put("race.txt").want(t, 409, "nameAlreadyExists")
	if got := put("race (copy).txt").want(t, 201); got.str("name") != "race (copy).txt" || got.get("size").(float64) != 4 {
		t.Errorf("committed = %s", got.raw)
	}
	mine := e.call(req{path: "/v1.0/me/drive/root:/Documents/race (copy).txt:/content", tok: e.alice()})
	theirs := e.call(req{path: "/v1.0/me/drive/root:/Documents/race.txt", tok: e.alice()}).want(t, 200)
	if theirs.get("size").(float64) != 6 || mine.status != 302 {
		t.Errorf("after the explicit commit: theirs %s, mine %d", theirs.raw, mine.status)
	}
	// A session of someone else, or none, is not found.
	e.call(req{method: "PUT", path: "/v1.0/me/drive/items/" + docs.str("id"), tok: e.alice(),
		body: map[string]any{"name": "x.txt", "@microsoft.graph.sourceUrl": u}}).want(t, 404, "itemNotFound")
}
