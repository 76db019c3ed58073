package portal_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserFolderMapping drives Chromium through the mapping form
// against a real service and m365sim, as an admin maps one folder: the
// address pasted from the folder's view in SharePoint is split into site,
// library and folder; a folder that does not exist is refused with a
// message naming the fix; the list shows the folder after the library;
// and alice's client receives the folder as the drive's root.
func TestBrowserFolderMapping(t *testing.T) {
	ctx := newChromium(t)
	svc := startService(t)
	signInAs(t, ctx, svc.sim.BaseURL(), svc.url, "admin@contoso.com")
	value := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+sel+`').value`))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return v
	}
	step(t, ctx, "open the mapping form", chromedp.Navigate(svc.url+"/portal/mappings/new"))
	waitJS(t, ctx, "the form", loaded(`#siteUrl`))
	setJS(t, ctx, "#name", "Finance Reports")
	clickJS(t, ctx, `input[name="kind"][value="sharepoint"]`)
	setJS(t, ctx, "#siteUrl", "https://contoso.sharepoint.com/sites/Finance/Shared Documents/Reports")
	clickJS(t, ctx, `button[value="lookup"]`)
	waitJS(t, ctx, "the pasted folder address split", loaded(`#library option[value="Documents"]`))
	if site, lib, folder := value("#siteUrl"), value("#library"), value("#folder"); site != "https://contoso.sharepoint.com/sites/Finance" || lib != "Documents" || folder != "Reports" {
		t.Fatalf("after pasting a folder's address: site %q, library %q, folder %q; want the Finance site, Documents, Reports", site, lib, folder)
	}
	clickJS(t, ctx, `input[name="everyone"]`)
	setJS(t, ctx, "#letter", "R")

	// A folder that is not there is refused, naming the fix.
	setJS(t, ctx, "#folder", "Reports/Nope")
	clickJS(t, ctx, `button.primary[value="save"]`)
	waitJS(t, ctx, "the folder refused", loaded(`#folder-error`))
	msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#folder-error").innerText`))
	if err != nil || !strings.Contains(msg, "No folder") || !strings.Contains(msg, "create the folder first") {
		t.Errorf("missing folder message %q, %v; want it to say there is no such folder and how to fix it", msg, err)
	}
	shot(t, ctx, "13-mapping-folder-missing", "New mapping")

	setJS(t, ctx, "#folder", "Reports")
	clickJS(t, ctx, `button.primary[value="save"]`)
	waitJS(t, ctx, "save the mapping", loaded(`.flash`))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("table.grid tbody").innerText`))
	if err != nil || !strings.Contains(rows, "Documents › Reports") {
		t.Errorf("mapping list %q, %v; want the folder after the library", rows, err)
	}

	vr := svc.validate(t, "alice")
	if len(vr.Mappings) != 1 || vr.Mappings[0].Target.FolderPath != "/Reports" || vr.Mappings[0].Target.LibraryName != "Documents" {
		t.Errorf("alice's mappings = %+v, want one rooted at /Reports in Documents", vr.Mappings)
	}
}
