package portal

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/service/internal/testenv"
)

// TestSignInAndCreateMapping signs the contoso admin in through the
// simulator, creates the Finance mapping through the form (library
// lookup and group search through Graph on the admin's behalf) and sees
// it listed and audited.
func TestSignInAndCreateMapping(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	p := b.signIn("admin@contoso.com")
	if p.status != http.StatusOK {
		t.Fatalf("after sign-in: %d %s", p.status, p.body)
	}
	p.mustContain(t, "<h1>Drive mappings</h1>", "Contoso Ltd", "Adele Admin")
	site := "https://contoso.sharepoint.com/sites/Finance"
	form := url.Values{"csrf": {b.csrf}, "op": {"lookup"}, "name": {"Finance"}, "kind": {"sharepoint"}, "siteUrl": {site}, "pin": {"allowed"}}
	p = b.post("/portal/mappings/new", form, false)
	p.mustContain(t, `<option value="Documents"`, `<option value="Policies"`)
	form.Set("op", "search")
	form.Set("groupSearch", "fin")
	p = b.post("/portal/mappings/new", form, false)
	p.mustContain(t, `value="`+e.finance+`|Finance Team"`)
	if strings.Contains(p.body, "Marketing") {
		t.Error("search for fin lists Marketing")
	}
	form.Set("op", "save")
	form.Set("library", "Documents")
	form.Set("letter", "F")
	form.Set("mount", "Finance")
	form.Add("group", e.finance+"|Finance Team")
	p = b.post("/portal/mappings/new", form, true)
	if p.status != http.StatusOK {
		t.Fatalf("save = %d %s", p.status, p.body)
	}
	p.mustContain(t, "Saved mapping", "Finance Team", site+" › Documents", "F:")
	ms, err := e.st.Mappings(t.Context(), e.contoso.ID)
	if err != nil || len(ms) != 1 || ms[0].Target.LibraryName != "Documents" || len(ms[0].Groups) != 1 || ms[0].Groups[0] != e.finance {
		t.Fatalf("stored mappings = %+v, %v", ms, err)
	}
	e.assertLogsClean(t)
	p = b.get("/portal/audit", false)
	p.mustContain(t, "mapping.create", "(you)", "<td>Finance <code>"+ms[0].ID+"</code>")
}
