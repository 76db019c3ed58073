package graph

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

func FuzzParseItemAddr(f *testing.F) {
	for _, s := range []string{"/root", "/root:/a/b.txt:/content", "/items/01ABC/children", "/items/01ABC:/x:", "/root:/:", "/root:", "/items/", "/root:/a:/b:/c", "/root/delta"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseItemAddr(s)
		if err != nil {
			return
		}
		if a.base == "" {
			t.Fatalf("parseItemAddr(%q) gave an empty base", s)
		}
		if a.action != "" && !actions[a.action] {
			t.Fatalf("parseItemAddr(%q) gave action %q", s, a.action)
		}
		for _, n := range a.path {
			if validName(n) != nil {
				t.Fatalf("parseItemAddr(%q) accepted name %q", s, n)
			}
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes 0-0/*", "bytes 5-1/10", "bytes -1-2/3", "bytes 0-9223372036854775807/9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cr, err := parseContentRange(s)
		if err != nil {
			return
		}
		if cr.start < 0 || cr.end < cr.start || (cr.total >= 0 && cr.end >= cr.total) {
			t.Fatalf("parseContentRange(%q) = %+v", s, cr)
		}
	})
}

func FuzzQueryOptions(f *testing.F) {
	for _, s := range []string{"name,size", "id", "", "a b", "@microsoft.graph.downloadUrl", `"{A},1", W/"x"`, "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if sel, err := parseSelect(s); err == nil && sel != nil && !sel["id"] {
			t.Fatalf("parseSelect(%q) dropped id", s)
		}
		if n, err := parseTop(s, 200); err == nil && (n < 1 || n > maxPageSize) {
			t.Fatalf("parseTop(%q) = %d", s, n)
		}
		parseOrderBy(s)
		if validETag(s) && !etagMatches(s, strings.TrimSpace(s)) && strings.TrimSpace(s) != "*" {
			// A single well-formed tag matches itself.
			if tags, _, _ := splitETags(s); len(tags) == 1 && strings.TrimSpace(s) == tags[0] {
				t.Fatalf("etagMatches(%q, itself) = false", s)
			}
		}
	})
}

// FuzzHandler sends arbitrary methods, paths and bodies to the real
// handler: every answer must be an HTTP status, never a panic, and never
// a 500.
func FuzzHandler(f *testing.F) {
	for _, s := range []string{
		"GET /v1.0/me/drive/root:/Documents:/children?$top=1",
		"PATCH /v1.0/me/drive/root:/Documents/Notes.md",
		"PUT /v1.0/me/drive/root:/a%00b:/content",
		"POST /v1.0/$batch",
		"GET /v1.0/sites/contoso.sharepoint.com:/sites/Finance:/drives",
		"GET /_download/abc.def",
		"PUT /_upload/xyz",
		"GET /v1.0/me/drive/root/delta?token=bad",
	} {
		f.Add(s, []byte(`{"name":"x","folder":{}}`))
	}
	dir, err := directory.New(directory.DemoSeed())
	if err != nil {
		f.Fatal(err)
	}
	keys := testKeys(f)
	srv, err := New(Config{BaseURL: "https://sim.test", DataDir: f.TempDir()}, dir, keys)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	tn := dir.Tenant("contoso")
	tok, err := keys.Sign(map[string]any{"aud": directory.GraphAppID, "tid": tn.ID, "oid": tn.User("alice").ID, "scp": allScopes, "exp": time.Now().Add(24 * time.Hour).Unix()})
	if err != nil {
		f.Fatal(err)
	}
	handler := srv.Handler()
	f.Fuzz(func(t *testing.T, line string, body []byte) {
		method, target, ok := strings.Cut(line, " ")
		if !ok || method == "" || strings.ContainsAny(method, " \t\r\n") || !strings.HasPrefix(target, "/") {
			return
		}
		r, err := http.NewRequest(method, "https://sim.test"+target, strings.NewReader(string(body)))
		if err != nil {
			return
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Range", "bytes 0-3/4")
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusInsufficientStorage {
			t.Fatalf("%s %s -> %d %s", method, target, w.Code, w.Body.Bytes())
		}
	})
}
