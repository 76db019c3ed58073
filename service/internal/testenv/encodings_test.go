package testenv

import (
	"encoding/base64"
	"net/url"
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
