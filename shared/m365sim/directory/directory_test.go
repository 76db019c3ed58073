package directory

import (
	"slices"
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr bool
	}{
		{"", 0, false},
		{"4096", 4096, false},
		{"4 KiB", 4096, false},
		{"1GiB", 1 << 30, false},
		{"10 MB", 10_000_000, false},
		{"1.5 KiB", 1536, false},
		{"12 parsecs", 0, true},
		{"-3", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestLoadPersistsStableIDs(t *testing.T) {
	dir := t.TempDir()
	d1, err := Load(dir, DemoSeed())
	if err != nil {
		t.Fatal(err)
	}
	d2, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := d1.Tenant("contoso"), d2.Tenant("contoso.onmicrosoft.com")
	if c1 == nil || c2 == nil || c1.ID != DemoContosoID || c2.ID != c1.ID {
		t.Fatalf("tenant lookup after reload: %v %v", c1, c2)
	}
	a1, a2 := c1.User("alice"), c2.User("alice@contoso.com")
	if a1 == nil || a2 == nil || a1.ID != a2.ID || a1.Drive.ID != a2.Drive.ID {
		t.Fatalf("alice differs after reload: %+v vs %+v", a1, a2)
	}
}

func TestAccess(t *testing.T) {
	d, err := New(DemoSeed())
	if err != nil {
		t.Fatal(err)
	}
	contoso, fabrikam := d.Tenant("contoso"), d.Tenant("fabrikam")
	alice, bob, frank := contoso.User("alice"), contoso.User("bob"), fabrikam.User("frank")
	fin := contoso.Site("Finance")
	var docs, policies DriveRef
	for _, r := range d.Drives() {
		if r.Site == fin && r.Drive.Name == "Documents" {
			docs = r
		}
		if r.Site == fin && r.Drive.Name == "Policies" {
			policies = r
		}
	}
	aliceDrive, _ := d.Drive(alice.Drive.ID)
	tests := []struct {
		name string
		t    *Tenant
		u    *User
		r    DriveRef
		want Access
	}{
		{"owner of OneDrive", contoso, alice, aliceDrive, AccessWrite},
		{"other user's OneDrive", contoso, bob, aliceDrive, AccessNone},
		{"member of Finance", contoso, alice, docs, AccessWrite},
		{"visitor of Finance", contoso, bob, docs, AccessRead},
		{"read-only library", contoso, alice, policies, AccessRead},
		{"other tenant", fabrikam, frank, docs, AccessNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.Access(tt.t, tt.u, tt.r); got != tt.want {
				t.Errorf("Access = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConsent(t *testing.T) {
	d, _ := New(DemoSeed())
	graph := d.App(GraphAppID)
	if !d.Tenant("contoso").AdminConsented(DemoClientID, graph, []string{"Files.ReadWrite.All", "User.Read"}) {
		t.Error("contoso should have consented the client to Graph")
	}
	if d.Tenant("contoso").AdminConsented(DemoClientID, graph, []string{"Mail.Read"}) {
		t.Error("Mail.Read was never consented")
	}
	if d.Tenant("northwind").AdminConsented(DemoClientID, graph, []string{"User.Read"}) {
		t.Error("northwind has no consent")
	}
}

func TestParseSeedRejectsUnknownFields(t *testing.T) {
	if _, err := ParseSeed([]byte("tenants:\n  - name: x\n    domain: x.com\n")); err == nil {
		t.Error("a misspelt field must be an error")
	}
	s, err := ParseSeed([]byte("tenants:\n  - name: x\n    domains: [x.com]\n    users:\n      - userName: u\n        drive:\n          files:\n            - path: big/f{n}.bin\n              count: 10000\n              size: 4 KiB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f := s.Tenants[0].Users[0].Drive.Files[0]; f.Count != 10000 || f.Size != 4096 {
		t.Errorf("generated files = %+v", f)
	}
}

// TestSharingCapability: a tenant allows anonymous links unless its
// SharePoint sharing setting says otherwise, and a misspelt setting is
// refused rather than silently allowing them.
func TestSharingCapability(t *testing.T) {
	d, err := New(DemoSeed())
	if err != nil {
		t.Fatal(err)
	}
	if !d.Tenant("contoso").AnonymousLinks() || d.Tenant("fabrikam").AnonymousLinks() {
		t.Errorf("AnonymousLinks() contoso = %v, fabrikam = %v; want true, false", d.Tenant("contoso").AnonymousLinks(), d.Tenant("fabrikam").AnonymousLinks())
	}
	seed := DemoSeed()
	seed.Tenants[0].SharingCapability = "Anyone"
	if _, err := New(seed); err == nil {
		t.Error(`New with sharingCapability "Anyone" succeeded, want an error`)
	}
}

// Nesting follows Entra ("Add or remove a group from another group",
// how-to-manage-groups): security groups nest; a Microsoft 365 group
// (a team, or a group with a site) neither holds nor joins another group.
// An unknown or self-naming member group is refused when the seed loads.
func TestSeedMemberGroupsChecked(t *testing.T) {
	for _, tc := range []struct {
		name   string
		groups []Group
		want   string
	}{
		{"unknown", []Group{{DisplayName: "A", MemberGroups: []string{"Nobody"}}}, "not a group"},
		{"self", []Group{{DisplayName: "A", MemberGroups: []string{"A"}}}, "itself"},
		{"into a team", []Group{{DisplayName: "T", Team: true, MemberGroups: []string{"S"}}, {DisplayName: "S"}}, "only security groups"},
		{"a site's group", []Group{{DisplayName: "S", MemberGroups: []string{"W"}}, {DisplayName: "W", Site: "Web"}}, "only security groups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(&Seed{Tenants: []Tenant{{Name: "t", Domains: []string{"t.example"}, Groups: tc.groups}}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(groups %+v) = %v, want an error saying %q", tc.groups, err, tc.want)
			}
		})
	}
	d, err := New(&Seed{Tenants: []Tenant{{Name: "t", Domains: []string{"t.example"}, Users: []User{{UserName: "u"}},
		Groups: []Group{{DisplayName: "Outer", MemberGroups: []string{"inner"}}, {DisplayName: "Inner", Members: []string{"u"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	tn := d.Tenant("t")
	if got, want := tn.Group("Outer").MemberGroups, []string{tn.Group("Inner").ID}; !slices.Equal(got, want) {
		t.Errorf("Outer's member groups = %v, want Inner's id %v", got, want)
	}
	var names []string
	for _, g := range tn.TransitiveGroupsOf(tn.User("u")) {
		names = append(names, g.DisplayName)
	}
	if !slices.Equal(names, []string{"Outer", "Inner"}) {
		t.Errorf("TransitiveGroupsOf(u) = %v, want Outer and Inner", names)
	}
	if direct := tn.GroupsOf(tn.User("u")); len(direct) != 1 || direct[0].DisplayName != "Inner" {
		t.Errorf("GroupsOf(u) = %v, want Inner only", direct)
	}
}
