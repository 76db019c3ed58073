package portal_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// TestBrowserCombinedMapping drives Chromium through the mapping form for
// a combined drive (#17 item 1) against a real service and m365sim: a
// library that does not exist is refused with the line named, the fixed
// list is saved and listed, and alice's client receives the drive with
// its libraries through the validate API.
func TestBrowserCombinedMapping(t *testing.T) {
	ctx := newChromium(t)
	svc := startService(t)
	signInAs(t, ctx, svc.sim.BaseURL(), svc.url, "admin@contoso.com")
	const site = "https://contoso.sharepoint.com/sites/Finance"
	clickJS(t, ctx, `a[href="/portal/mappings/new"]`)
	waitJS(t, ctx, "the form", pageHas(`#members`))
	fill := func(lines string) {
		setJS(t, ctx, "#name", "Company")
		clickJS(t, ctx, `input[name="kind"][value="combined"]`)
		setJS(t, ctx, "#members", lines)
		setJS(t, ctx, "#letter", "S")
		setJS(t, ctx, "#mount", "Company")
		clickJS(t, ctx, `input[name="everyone"]`)
	}
	fill("Finance | " + site + " | Documents\nArchive | " + site + " | Nope")
	clickJS(t, ctx, `button.primary[value="save"]`)
	waitJS(t, ctx, "the inline error", pageHas(`#members-error`))
	msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#members-error").innerText`))
	if err != nil || !strings.Contains(msg, "Line 2: the site has no library “Nope”") {
		t.Errorf("members error = %q, %v", msg, err)
	}
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('input[name="kind"][value="combined"]').checked && document.querySelector("#members").value.includes("Archive")`)); err != nil || !ok {
		t.Errorf("the form lost the kind or the lines after the error: %v", err)
	}
	shot(t, ctx, "10-combined-error", "New mapping")

	setJS(t, ctx, "#members", "Finance | "+site+" | Documents\nReports | "+site+" | Documents | Reports\nMy files | onedrive")
	clickJS(t, ctx, `button.primary[value="save"]`)
	waitJS(t, ctx, "save the mapping", pageHas(`.flash`))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("table.grid tbody").innerText`))
	if err != nil || !strings.Contains(rows, "Combined drive of 3 libraries: Finance, Reports, My files") {
		t.Errorf("mapping list = %q, %v", rows, err)
	}
	shot(t, ctx, "11-combined-saved", "Drive mappings")

	vr := svc.validate(t, "alice")
	if len(vr.Mappings) != 1 || vr.Mappings[0].Target.Kind != apitype.TargetCombined || len(vr.Mappings[0].Target.Members) != 3 ||
		vr.Mappings[0].Target.Members[1].Target.FolderPath != "/Reports" {
		t.Errorf("alice's mappings = %+v", vr.Mappings)
	}
	if vr.MappingsDigest != apitype.MappingsDigest(vr.Mappings) {
		t.Errorf("the lease's mappings digest does not match the combined mapping")
	}
}
