package portal

import (
	"strings"
	"testing"
)

// FuzzParseSiteURL: whatever an admin pastes, an accepted site URL is an
// https URL on its host whose normal form parses to itself.
func FuzzParseSiteURL(f *testing.F) {
	for _, s := range []string{"https://contoso.sharepoint.com/sites/Finance", "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Forms/AllItems.aspx",
		"http://x", "https://u:p@h/x", "https://h/a?b", " https://h/sites/a/ ", "https://h", "javascript:alert(1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		norm, host, path, err := parseSiteURL(raw)
		if err != nil {
			return
		}
		if !strings.HasPrefix(norm, "https://"+host) || host == "" || strings.ContainsAny(path, "?#:") {
			t.Fatalf("parseSiteURL(%q) = %q, %q, %q", raw, norm, host, path)
		}
		n2, h2, p2, err := parseSiteURL(norm)
		if err != nil || n2 != norm || h2 != host || p2 != path {
			t.Fatalf("parseSiteURL(%q) = %q, not stable: %q %q %q %v", raw, norm, n2, h2, p2, err)
		}
	})
}

// FuzzSafeNext: the post-sign-in destination is a portal path or nothing.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/portal/mappings", "//evil.example/portal/", "https://evil.example", "/portal/\\evil", "/portal/x\r\nSet-Cookie: a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got != "" && (!strings.HasPrefix(got, "/portal/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n")) {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
	})
}

func TestParseSiteURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://contoso.sharepoint.com/sites/Finance", "https://contoso.sharepoint.com/sites/Finance"},
		{" https://contoso.sharepoint.com/sites/Finance/ ", "https://contoso.sharepoint.com/sites/Finance"},
		{"https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Forms/AllItems.aspx", "https://contoso.sharepoint.com/sites/Finance"},
		{"https://contoso.sharepoint.com", "https://contoso.sharepoint.com"},
		{"http://contoso.sharepoint.com/sites/Finance", ""},
		{"contoso.sharepoint.com/sites/Finance", ""},
		{"https://contoso.sharepoint.com/sites/Finance?web=1", ""},
		{"https://user@contoso.sharepoint.com/sites/Finance", ""},
	}
	for _, tc := range tests {
		got, _, _, err := parseSiteURL(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("parseSiteURL(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
}
