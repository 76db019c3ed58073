package portal

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

const financeSite = "https://contoso.sharepoint.com/sites/Finance"

// TestMappingValidation: the form shows what is wrong next to the field
// and saves nothing.
func TestMappingValidation(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	if _, err := e.st.CreateMapping(t.Context(), e.contoso.ID, store.Mapping{Mapping: apitype.Mapping{DisplayName: "Existing", DriveLetter: "F", MountName: "Existing",
		Target: apitype.Target{Kind: apitype.TargetOneDrive}}, Everyone: true}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("admin@contoso.com")
	good := func() url.Values {
		return url.Values{"op": {"save"}, "name": {"Finance"}, "kind": {"sharepoint"}, "siteUrl": {financeSite}, "library": {"Documents"},
			"letter": {"G"}, "mount": {"Finance"}, "pin": {"allowed"}, "group": {e.finance + "|Finance Team"}}
	}
	tests := []struct {
		name string
		edit func(url.Values)
		want []string
	}{
		{"duplicate letter", func(v url.Values) { v.Set("letter", "F") }, []string{`id="letter-error"`, "Drive letter F: is already used by “Existing”"}},
		{"duplicate mount name", func(v url.Values) { v.Set("mount", "existing") }, []string{`id="mount-error"`, "already used by “Existing”"}},
		{"malformed URL", func(v url.Values) { v.Set("siteUrl", "contoso finance") }, []string{`id="siteUrl-error"`, "Enter the site&#39;s address as an https URL"}},
		{"http URL", func(v url.Values) { v.Set("siteUrl", "http://contoso.sharepoint.com/sites/Finance") }, []string{`id="siteUrl-error"`, "as an https URL"}},
		{"unknown site", func(v url.Values) { v.Set("siteUrl", "https://contoso.sharepoint.com/sites/Nope") }, []string{`id="siteUrl-error"`, "No SharePoint site at this address"}},
		{"other tenant's site", func(v url.Values) { v.Set("siteUrl", "https://fabrikam.sharepoint.com/sites/Sales") }, []string{"No SharePoint site at this address"}},
		{"library not of the site", func(v url.Values) { v.Set("library", "Nope") }, []string{"Choose one of the site&#39;s libraries."}},
		{"no name", func(v url.Values) { v.Set("name", " ") }, []string{`id="name-error"`}},
		{"no letter nor mount", func(v url.Values) { v.Del("letter"); v.Del("mount") }, []string{"Give a drive letter (Windows) or a mount name"}},
		{"bad mount", func(v url.Values) { v.Set("mount", "a/b") }, []string{`id="mount-error"`, "A plain folder name"}},
		{"bad cache", func(v url.Values) { v.Set("cacheGb", "lots") }, []string{`id="cache-error"`}},
		{"nobody assigned", func(v url.Values) { v.Del("group") }, []string{"Assign the mapping to at least one group"}},
		{"bad group id", func(v url.Values) { v.Set("group", "nope|Nope") }, []string{"is not a group id"}},
		{"missing folder", func(v url.Values) { v.Set("folder", "Reports/Nope") }, []string{`id="folder-error"`,
			"No folder “Reports/Nope” in the library “Documents”", "create the folder first"}},
		{"folder is a file", func(v url.Values) { v.Set("folder", "Reports/Q1.txt") }, []string{`id="folder-error"`,
			"“Reports/Q1.txt” is a file, not a folder"}},
		{"relative folder", func(v url.Values) { v.Set("folder", "Reports/../Other") }, []string{`id="folder-error"`, "without . or .. in it"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := good()
			tc.edit(v)
			v.Set("csrf", b.csrf)
			p := b.post("/portal/mappings/new", v, false)
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422: %s", p.status, p.body)
			}
			p.mustContain(t, tc.want...)
			p.mustContain(t, `role="alert"`)
		})
	}
	t.Run("graph down", func(t *testing.T) {
		if _, err := e.sim.Admin().AddFault(t.Context(), m365sim.Fault{Kind: m365sim.FaultError, Status: 503}); err != nil {
			t.Fatal(err)
		}
		defer e.sim.Admin().ClearFaults(t.Context())
		v := good()
		v.Set("csrf", b.csrf)
		p := b.post("/portal/mappings/new", v, false)
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status = %d", p.status)
		}
		p.mustContain(t, "could not be reached through Microsoft Graph")
	})
	if ms, _ := e.st.Mappings(t.Context(), e.contoso.ID); len(ms) != 1 {
		t.Errorf("invalid forms stored mappings: %+v", ms)
	}
	e.assertLogsClean(t)
	v := good()
	v.Set("csrf", b.csrf)
	v.Set("folder", `\Reports\`) // pasted from Windows: the folder that exists
	if p := b.post("/portal/mappings/new", v, false); p.status != http.StatusSeeOther {
		t.Fatalf("valid form = %d: %s", p.status, p.body)
	}
	ms, err := e.st.Mappings(t.Context(), e.contoso.ID)
	if err != nil || len(ms) != 2 || ms[1].Target.FolderPath != "/Reports" || ms[1].Target.LibraryName != "Documents" {
		t.Fatalf("stored mappings = %+v, %v, want Finance's Documents/Reports", ms, err)
	}
	b.get("/portal/mappings", false).mustContain(t, financeSite+" › Documents › Reports")
	b.get("/portal/mappings/"+ms[1].ID+"/edit", false).mustContain(t, `name="folder" value="/Reports"`)

	// An address copied from the folder's view in the browser names no
	// site: it is split into the site, the library and the folder.
	v = good()
	v.Set("csrf", b.csrf)
	v.Set("letter", "R")
	v.Set("mount", "Reports")
	v.Set("siteUrl", financeSite+"/Shared Documents/Reports")
	v.Del("library")
	if p := b.post("/portal/mappings/new", v, false); p.status != http.StatusSeeOther {
		t.Fatalf("form with a folder's address = %d: %s", p.status, p.body)
	}
	ms, err = e.st.Mappings(t.Context(), e.contoso.ID)
	if err != nil || len(ms) != 3 || !reflect.DeepEqual(ms[2].Target, apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: financeSite, LibraryName: "Documents", FolderPath: "/Reports"}) {
		t.Fatalf("mapping from a folder's address = %+v, %v, want Finance's Documents/Reports", ms[len(ms)-1].Target, err)
	}
	v.Set("siteUrl", financeSite+"/Shared%20Documents/Reports/Q1.txt")
	v.Set("letter", "S")
	v.Set("mount", "Q1")
	b.post("/portal/mappings/new", v, false).mustContain(t, "“Reports/Q1.txt” is a file, not a folder")
}

// TestMappingEditReorderDelete runs the list's actions and checks the
// store and the audit log after each.
func TestMappingEditReorderDelete(t *testing.T) {
	db := testenv.SQLite(t)
	e := newEnv(t, db)
	var ids []string
	for _, n := range []string{"One", "Two", "Three"} {
		m, err := e.st.CreateMapping(t.Context(), e.contoso.ID, store.Mapping{Mapping: apitype.Mapping{DisplayName: n, MountName: n,
			Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: financeSite, LibraryName: "Documents"}}, Groups: []string{e.finance}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	// After the sign-in and after each action, no UPN anywhere in the raw
	// database or the logs, in any encoding (the whole data folder is
	// scanned by TestNoUPNAfterEveryPortalAction).
	upns := []string{"admin@contoso.com", "alice@contoso.com", "bob@contoso.com"}
	scan := func(after string) {
		t.Helper()
		testenv.AssertAbsent(t, "database after "+after, db.Raw(t), upns...)
		testenv.AssertAbsent(t, "logs after "+after, []byte(e.logs.String()), upns...)
	}
	b := e.browser()
	b.signIn("admin@contoso.com")
	scan("the sign-in")
	order := func() string {
		ms, _ := e.st.Mappings(t.Context(), e.contoso.ID)
		var ns []string
		for _, m := range ms {
			ns = append(ns, m.DisplayName)
		}
		return strings.Join(ns, ",")
	}
	p := b.get("/portal/mappings/"+ids[1]+"/edit", false)
	p.mustContain(t, `value="Two"`, `value="`+e.finance+`|Finance Team" checked`, `<option value="Documents" selected>`)
	form := url.Values{"csrf": {b.csrf}, "op": {"save"}, "name": {"Two renamed"}, "kind": {"sharepoint"}, "siteUrl": {financeSite}, "library": {"Policies"},
		"letter": {"T"}, "mount": {"Two"}, "pin": {"none"}, "readOnly": {"on"}, "cacheGb": {"2"}, "group": {e.finance + "|Finance Team"}}
	if p := b.post("/portal/mappings/"+ids[1]+"/edit", form, true); p.status != 200 {
		t.Fatalf("edit = %d %s", p.status, p.body)
	}
	m, _ := e.st.Mapping(t.Context(), e.contoso.ID, ids[1])
	if m.DisplayName != "Two renamed" || m.Target.LibraryName != "Policies" || m.DriveLetter != "T" || !m.ReadOnly || m.OfflinePin != apitype.PinNone || m.CacheLimitBytes != 2<<30 || m.Position != 1 {
		t.Errorf("edited mapping = %+v", m)
	}
	scan("the edit")
	steps := []struct {
		id, dir, want string
	}{
		{ids[2], "up", "One,Three,Two renamed"},
		{ids[2], "up", "Three,One,Two renamed"},
		{ids[2], "up", "Three,One,Two renamed"}, // already first
		{ids[0], "down", "Three,Two renamed,One"},
	}
	for _, s := range steps {
		if p := b.post("/portal/mappings/"+s.id+"/move", url.Values{"csrf": {b.csrf}, "dir": {s.dir}}, false); p.status != http.StatusSeeOther {
			t.Fatalf("move = %d", p.status)
		}
		if got := order(); got != s.want {
			t.Errorf("after moving %s %s: %s, want %s", s.id, s.dir, got, s.want)
		}
		scan("a move")
	}
	p = b.post("/portal/mappings/"+ids[0]+"/delete", url.Values{"csrf": {b.csrf}}, true)
	p.mustContain(t, "Deleted mapping “One”")
	if got := order(); got != "Three,Two renamed" {
		t.Errorf("after delete: %s", got)
	}
	scan("the delete")
	if p := b.post("/portal/mappings/"+ids[0]+"/delete", url.Values{"csrf": {b.csrf}}, false); p.status != http.StatusNotFound {
		t.Errorf("second delete = %d, want 404", p.status)
	}
	es, _ := e.st.AuditLog(t.Context(), e.contoso.ID, "", 0)
	var acts []string
	for _, a := range es {
		acts = append(acts, a.Action)
	}
	if got := strings.Join(acts, ","); got != "mapping.delete,mapping.reorder,mapping.reorder,mapping.reorder,mapping.update" {
		t.Errorf("audit = %s", got)
	}
	p = b.get("/portal/audit?action=mapping.reorder", false)
	if n := strings.Count(p.body, "<td>mapping.reorder</td>"); n != 3 || strings.Contains(p.body, "<td>mapping.delete</td>") {
		t.Errorf("filtered audit shows %d reorders: %s", n, p.body)
	}
	if p := b.get("/portal/audit?action=drop.tables", false); p.status != http.StatusBadRequest {
		t.Errorf("unknown audit filter = %d", p.status)
	}
	scan("the audit pages")
}

// TestMappingEditKeepsWhatTheFormCannotShow: a target set through the API
// that the form cannot edit (a Team or a OneDrive with a folder, alone or
// in a combined drive) is shown as it is and kept when the admin renames
// the mapping in the portal, whatever kind the form posts.
func TestMappingEditKeepsWhatTheFormCannotShow(t *testing.T) {
	db := testenv.SQLite(t)
	e := newEnv(t, db)
	b := e.browser()
	b.signIn("admin@contoso.com")
	for _, tc := range []struct {
		name, kind string
		target     apitype.Target
		shown      string
	}{
		{"Team folder", "sharepoint", apitype.Target{Kind: apitype.TargetTeam, GroupID: e.finance, FolderPath: "/Reports"}, "Team " + e.finance + " › Reports"},
		{"OneDrive folder", "onedrive", apitype.Target{Kind: apitype.TargetOneDrive, FolderPath: "/Documents"}, "The user&#39;s own OneDrive › Documents"},
		{"Combined", "combined", apitype.Target{Kind: apitype.TargetCombined, Members: []apitype.CombinedMember{
			{Name: "Mine", Target: apitype.Target{Kind: apitype.TargetOneDrive, FolderPath: "/Documents"}}}}, "Combined drive of 1 libraries: Mine"},
	} {
		mount := strings.ReplaceAll(tc.name, " ", "")
		m, err := e.st.CreateMapping(t.Context(), e.contoso.ID, store.Mapping{Mapping: apitype.Mapping{DisplayName: tc.name, MountName: mount,
			Target: tc.target}, Everyone: true})
		if err != nil {
			t.Fatal(err)
		}
		b.get("/portal/mappings/"+m.ID+"/edit", false).mustContain(t, tc.shown)
		form := url.Values{"csrf": {b.csrf}, "op": {"save"}, "name": {tc.name + " renamed"}, "kind": {tc.kind}, "siteUrl": {financeSite},
			"library": {"Documents"}, "mount": {mount}, "pin": {"none"}, "everyone": {"on"}}
		if p := b.post("/portal/mappings/"+m.ID+"/edit", form, true); p.status != 200 {
			t.Fatalf("%s: edit = %d %s", tc.name, p.status, p.body)
		}
		got, _ := e.st.Mapping(t.Context(), e.contoso.ID, m.ID)
		if got.DisplayName != tc.name+" renamed" || !reflect.DeepEqual(got.Target, m.Target) {
			t.Errorf("%s after a rename in the portal: %q %+v, want its target kept: %+v", tc.name, got.DisplayName, got.Target, m.Target)
		}
	}
}

// TestFragments: the htmx endpoints answer with the picker fragments.
func TestFragments(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	b.signIn("admin@contoso.com")
	p := b.get("/portal/libraries?siteUrl="+url.QueryEscape(financeSite)+"&library=Policies", false)
	p.mustContain(t, `<div id="libraries">`, `<option value="Policies" selected>`)
	if strings.Contains(p.body, "<html") {
		t.Error("fragment is a whole page")
	}
	p = b.get("/portal/libraries?siteUrl=nope", false)
	p.mustContain(t, "as an https URL")
	p = b.get("/portal/groups?groupSearch=staff", false)
	p.mustContain(t, `<div id="group-results"`, "All Staff")
}
