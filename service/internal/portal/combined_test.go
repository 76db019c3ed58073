package portal

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// TestCombinedMappingForm: the form saves a combined drive (#17 item 1)
// from its lines, each library checked through Graph; a bad line is shown
// next to the field, naming the line, and nothing is saved; the edit form
// shows the lines again.
func TestCombinedMappingForm(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	b.signIn("admin@contoso.com")
	form := func(lines ...string) url.Values {
		return url.Values{"csrf": {b.csrf}, "op": {"save"}, "name": {"Company"}, "kind": {"combined"}, "members": {strings.Join(lines, "\r\n")},
			"letter": {"S"}, "mount": {"Company"}, "pin": {"allowed"}, "everyone": {"on"}}
	}
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"no lines", nil, "List the drive&#39;s libraries"},
		{"unknown site", []string{"Finance | " + financeSite + " | Documents", "Nope | https://contoso.sharepoint.com/sites/Nope | Documents"}, "Line 2: No SharePoint site at this address"},
		{"unknown library", []string{"Finance | " + financeSite + " | Nope"}, "Line 1: the site has no library “Nope”"},
		{"missing folder", []string{"Finance | " + financeSite + " | Documents | Nope"}, "Line 1: No folder “Nope”"},
		{"bad name", []string{"a/b | onedrive"}, "Line 1: give a folder name first"},
		{"name twice", []string{"Docs | onedrive", "docs | " + financeSite + " | Documents"}, "Line 2: the folder name “docs” is used twice"},
		{"no library", []string{"Finance | " + financeSite}, "Line 1: write “name | site address | library”"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/portal/mappings/new", form(tc.lines...), false)
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422: %s", p.status, p.body)
			}
			p.mustContain(t, `id="members-error"`, tc.want)
		})
	}
	if ms, _ := e.st.Mappings(t.Context(), e.contoso.ID); len(ms) != 0 {
		t.Fatalf("invalid forms stored mappings: %+v", ms)
	}

	p := b.post("/portal/mappings/new", form(
		"Finance | "+financeSite+" | Documents",
		"  Reports | "+financeSite+" | Documents | Reports ",
		"",
		"Policies | "+financeSite+" | Policies",
		"My files | OneDrive"), false)
	if p.status != http.StatusSeeOther {
		t.Fatalf("valid form = %d: %s", p.status, p.body)
	}
	ms, err := e.st.Mappings(t.Context(), e.contoso.ID)
	if err != nil || len(ms) != 1 {
		t.Fatalf("stored mappings = %+v, %v", ms, err)
	}
	tg := ms[0].Target
	if tg.Kind != apitype.TargetCombined || len(tg.Members) != 4 || tg.Members[1].Name != "Reports" || tg.Members[1].Target.FolderPath != "/Reports" ||
		tg.Members[2].Target.LibraryName != "Policies" || tg.Members[3].Target.Kind != apitype.TargetOneDrive {
		t.Fatalf("stored target = %+v", tg)
	}
	b.get("/portal/mappings", false).mustContain(t, "Combined drive of 4 libraries: Finance, Reports, Policies, My files")
	b.get("/portal/mappings/"+ms[0].ID+"/edit", false).mustContain(t, `value="combined" checked`,
		"Reports | "+financeSite+" | Documents | Reports\nPolicies | "+financeSite+" | Policies\nMy files | onedrive")
	e.assertLogsClean(t)
}
