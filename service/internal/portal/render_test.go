package portal

import (
	"html/template"
	"io"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// fixtures are fully populated views, one per template: every field set
// and every slice non-empty, so executing the template touches every
// field reference it has. html/template resolves fields against the
// concrete struct at execution, so a template naming a field its view
// lacks (or using it with the wrong type) fails here, not in production.
func fixtures() []view {
	b := Base{Title: "T", Nav: "mappings", CSRF: "tok", SignedIn: true, Registered: true, UserName: "Adele", Tenant: "Contoso", Flash: "ok"}
	libs := librariesView{Base: b, Libraries: []library{{ID: "d1", Name: "Documents"}}, Selected: "Documents", Error: "e"}
	groups := groupsView{Base: b, Results: []group{{ID: "g", DisplayName: "G"}}, Query: "g", Error: "e"}
	f := mappingForm{ID: "m", Name: "n", Kind: "sharepoint", Fixed: "team", SiteURL: "https://x/sites/y", Library: "Documents",
		Groups: []group{{ID: "g", DisplayName: "G"}}, Everyone: true, Letter: "F", Mount: "m", ReadOnly: true, Pin: "all", CacheGB: "1", GroupSearch: "g"}
	form := newFormView("T", f, "/a")
	form.Base = b
	form.Errs = formErrors{General: "g", Name: "n", SiteURL: "s", Library: "l", Letter: "l", Mount: "m", Cache: "c", Groups: "g"}
	form.Lib, form.Search = libs, groups
	form2 := newFormView("T", mappingForm{Kind: "onedrive", Pin: "none"}, "/a")
	return []view{
		&signInView{Base: b, Enabled: true, Next: "/portal/x"},
		&signInView{},
		&errorView{Base: b, Status: 500, Msg: "m"},
		&onboardingView{Base: b, TenantID: "t", Domain: "d", OrgName: "o", ConsentURL: "https://x", TrialSeats: 1, TrialDays: 2, Error: "e"},
		&mappingsView{Base: b, Rows: []mappingRow{{ID: "m", Name: "n", Target: "t", Letter: "F", Mount: "m", ReadOnly: true, Pin: "all", Cache: "1 GiB", Groups: "G", First: true, Last: true}}},
		&mappingsView{},
		form, form2,
		&libs, &librariesView{},
		&groups, &groupsView{},
		&licenceView{Base: b, Seats: 2, Used: 1, Free: 1, Expires: "x", DaysLeft: 3, Expired: true, Usage: []apitype.SeatUsage{{Day: "2026-01-01", Used: 1}}, ChartAlt: "a"},
		&licenceView{},
		&auditView{Base: b, Entries: []auditRow{{At: "a", Actor: "x", You: true, Action: "mapping.create", Target: "t", TargetName: "n"}}, Actions: auditActions, Action: "mapping.create", Limit: 100, Limits: []int{100}},
		&auditView{},
		&policiesView{Base: b, F: policyForm{CacheGB: "1", PollSeconds: "60", Coauthoring: true, MinVersion: "0.1.0", UploadMBps: "20", DownloadMBps: "2.5", RefreshSecs: "600", JitterSeconds: "60", LinkScope: "none"},
			Errs: policyErrors{CacheGB: "c", PollSeconds: "p", MinVersion: "m", UploadMBps: "u", DownloadMBps: "d", RefreshSecs: "r", JitterSeconds: "j", LinkScope: "l"}},
		&deploymentView{Base: b, Version: "0.1.0", MSIName: "m.msi", Command: "c", Uninstall: "u", ProductCode: "{p}", DownloadURL: "/d", ServiceURL: "s", TenantID: "t", ClientID: "c", Authority: "a"},
		&deploymentView{},
	}
}

func TestTemplatesTypeCheck(t *testing.T) {
	pg, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, v := range fixtures() {
		covered[v.template()] = true
		out, err := pg.execute(v)
		if err != nil {
			t.Errorf("%T: %v", v, err)
			continue
		}
		if !isPartial(v.template()) && (!strings.Contains(string(out), "<h1>") || !strings.Contains(string(out), "</html>")) {
			t.Errorf("%T renders no complete page: %s", v, out)
		}
	}
	for _, name := range append(append([]string{}, pageFiles...), partialFiles...) {
		if !covered[name] {
			t.Errorf("template %s has no fixture in fixtures()", name)
		}
	}
}

// TestTemplateCheckCatchesMistakes proves the check above bites: a
// template naming a field its view lacks fails to execute.
func TestTemplateCheckCatchesMistakes(t *testing.T) {
	tm := template.Must(template.New("x").Parse(`{{.Seatz}}`))
	if err := tm.Execute(io.Discard, &licenceView{}); err == nil {
		t.Error("a misspelt field executed without error")
	}
}

// TestAccessibleMarkup: every form control has a label, the page has a
// language, a skip link and one h1.
func TestAccessibleMarkup(t *testing.T) {
	pg, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range fixtures() {
		if isPartial(v.template()) {
			continue
		}
		out, _ := pg.execute(v)
		html := string(out)
		if !strings.Contains(html, `<html lang="en">`) || !strings.Contains(html, `class="skip" href="#main"`) || strings.Count(html, "<h1>") != 1 {
			t.Errorf("%T: lang, skip link or single h1 missing", v)
		}
		for _, id := range idsOfControls(html) {
			if !strings.Contains(html, `for="`+id+`"`) {
				t.Errorf("%T: control #%s has no <label for>", v, id)
			}
		}
	}
}

// idsOfControls lists the ids of text inputs and selects (checkboxes and
// radios sit inside their labels).
func idsOfControls(html string) []string {
	var out []string
	for _, tag := range []string{"<input ", "<select "} {
		for _, part := range strings.Split(html, tag)[1:] {
			el := part[:strings.Index(part, ">")]
			if strings.Contains(el, `type="hidden"`) || strings.Contains(el, `type="checkbox"`) || strings.Contains(el, `type="radio"`) {
				continue
			}
			if i := strings.Index(el, `id="`); i >= 0 {
				id := el[i+4:]
				out = append(out, id[:strings.Index(id, `"`)])
			} else {
				out = append(out, "(no id) "+el)
			}
		}
	}
	return out
}
