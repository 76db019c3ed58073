package testenv

import (
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// TestFindSeesEveryEncoding: a UPN written by a program in any of the
// usual encodings, inside other text, is found; other text is not.
func TestFindSeesEveryEncoding(t *testing.T) {
	const upn = "Alice@Contoso.com"
	u16 := func(s string) string {
		var b []byte
		for _, r := range utf16.Encode([]rune(s)) {
			b = append(b, byte(r), byte(r>>8))
		}
		return string(b)
	}
	for _, tc := range []struct{ name, raw string }{
		{"plain", "user=" + upn + ";"},
		{"upper case", "USER " + strings.ToUpper(upn)},
		{"hex", `\x` + "616c69636540636f6e746f736f2e636f6d"},
		{"query", "https://x/?u=" + url.QueryEscape(upn)},
		{"path", "https://x/" + url.PathEscape("a b/"+upn)},
		{"base64, offset 0", base64.StdEncoding.EncodeToString([]byte(upn + " tail"))},
		{"base64, offset 1", "x" + base64.StdEncoding.EncodeToString([]byte("1"+upn+"tail"))},
		{"base64, offset 2", base64.StdEncoding.EncodeToString([]byte("12" + strings.ToLower(upn) + "tail"))},
		{"base64url in a JWT", "eyJ." + base64.RawURLEncoding.EncodeToString([]byte(`{"upn":"`+upn+`","x":1}`)) + ".sig"},
		{"UTF-16LE", "\xff\xfe" + u16(upn)},
	} {
		if got := Find([]byte(tc.raw), upn); len(got) == 0 {
			t.Errorf("%s: %q not found in %q", tc.name, upn, tc.raw)
		}
	}
	if got := Find([]byte("alice at contoso, "+base64.StdEncoding.EncodeToString([]byte("bob@contoso.com"))), upn); len(got) != 0 {
		t.Errorf("found %v in text without the UPN", got)
	}
}

// TestAssertDirAbsentReadsEveryFile: a UPN in any file, however deep,
// fails the scan; a clean folder passes and every file is listed.
func TestAssertDirAbsentReadsEveryFile(t *testing.T) {
	const upn = "bob@contoso.com"
	dir := t.TempDir()
	files := map[string]string{
		"mapdrive.db":              "SQLite format 3\x00 clean",
		"mapdrive.db-wal":          "clean",
		"kek.json":                 `{"keys":[]}`,
		"nested/deeper/export.csv": "clean",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(t.TempDir(), "no-backups-yet")
	rt := &recordingT{TB: t}
	got := AssertDirAbsent(rt, "clean", []string{dir, missing}, upn)
	if rt.failed || len(got) != len(files) {
		t.Fatalf("clean folder: failed %v, read %v", rt.failed, got)
	}
	for name, enc := range map[string]string{
		"nested/deeper/export.csv": base64.StdEncoding.EncodeToString([]byte("x" + upn)),
		"mapdrive.db-wal":          "\xff\xfe" + string(utf16Bytes(upn, false)),
		"kek.json":                 url.QueryEscape(strings.ToUpper(upn)),
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.WriteFile(p, []byte(enc), 0o600); err != nil {
			t.Fatal(err)
		}
		rt := &recordingT{TB: t}
		AssertDirAbsent(rt, "planted", []string{dir}, "alice@contoso.com", upn)
		if !rt.failed {
			t.Errorf("the UPN planted in %s as %q was not found", name, enc)
		}
		if err := os.WriteFile(p, []byte("clean"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// recordingT records Errorf instead of failing the real test.
type recordingT struct {
	testing.TB
	failed bool
}

func (r *recordingT) Errorf(string, ...any) { r.failed = true }
func (r *recordingT) Helper()               {}
