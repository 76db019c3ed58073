package apitype

import (
	"encoding/json"
	"testing"
)

func TestMappingsDigest(t *testing.T) {
	a := []Mapping{{ID: "1", DisplayName: "Finance", Target: Target{Kind: TargetSharePoint, SiteURL: "https://x/sites/F", LibraryName: "Documents"}}}
	b := []Mapping{{ID: "1", DisplayName: "Finance", Target: Target{Kind: TargetSharePoint, SiteURL: "https://x/sites/F", LibraryName: "Policies"}}}
	if MappingsDigest(a) == MappingsDigest(b) {
		t.Error("different mappings give the same digest")
	}
	if MappingsDigest(nil) != MappingsDigest([]Mapping{}) {
		t.Error("nil and empty differ")
	}
	// A client that decodes the service's JSON and re-digests gets the same value.
	raw, _ := json.Marshal(a)
	var back []Mapping
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if MappingsDigest(back) != MappingsDigest(a) {
		t.Error("digest changes across a JSON round trip")
	}
}

func TestCleanFolderPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"/", "", true},
		{"Reports", "/Reports", true},
		{"/Reports/", "/Reports", true},
		{`\Reports\2026`, "/Reports/2026", true},
		{"//Reports// Board Pack ", "/Reports/Board Pack", true},
		{"/Reports/../Other", "", false},
		{"./Reports", "", false},
	} {
		got, ok := CleanFolderPath(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("CleanFolderPath(%q) = %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
