package portal_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserExclusiveEditing drives Chromium through the mapping form
// against a real service and m365sim: the admin creates a mapping with
// "Exclusive editing" ticked by a click on its label, the list shows it,
// the edit form shows it ticked, and alice's client receives it through
// the validate API (docs/checkout.md).
func TestBrowserExclusiveEditing(t *testing.T) {
	ctx := newChromium(t)
	svc := startService(t)
	signInAs(t, ctx, svc.sim.BaseURL(), svc.url, "admin@contoso.com")
	step(t, ctx, "open the mapping form", chromedp.Navigate(svc.url+"/portal/mappings/new"))
	waitJS(t, ctx, "the form", loaded(`#exclusive`))
	setJS(t, ctx, "#name", "Contracts")
	clickJS(t, ctx, `input[name="kind"][value="onedrive"]`)
	clickJS(t, ctx, `input[name="everyone"]`)
	setJS(t, ctx, "#letter", "K")
	// The label, as a user clicks it, not the box itself.
	clickJS(t, ctx, `label:has(#exclusive)`)
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#exclusive").checked && document.querySelector("#exclusive-hint").innerText.includes("Check a file out")`)); err != nil || !ok {
		t.Fatalf("the exclusive editing box is not ticked by its label, or its hint is missing: %v", err)
	}
	shot(t, ctx, "11-mapping-exclusive", "New mapping")
	clickJS(t, ctx, `button.primary[value="save"]`)
	waitJS(t, ctx, "save the mapping", loaded(`.flash`))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("table.grid tbody").innerText`))
	if err != nil || !strings.Contains(rows, "exclusive editing") {
		t.Errorf("mapping list %q, %v; want it to say exclusive editing", rows, err)
	}
	clickJS(t, ctx, `table.grid tbody a[href$="/edit"]`)
	waitJS(t, ctx, "the edit form", loaded(`#exclusive`))
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#exclusive").checked`)); err != nil || !ok {
		t.Errorf("the edit form shows exclusive editing unticked: %v", err)
	}

	vr := svc.validate(t, "alice")
	if len(vr.Mappings) != 1 || !vr.Mappings[0].ExclusiveEditing {
		t.Errorf("alice's mappings = %+v, want one with exclusive editing", vr.Mappings)
	}
}
