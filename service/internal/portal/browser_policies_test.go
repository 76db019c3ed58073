package portal_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// TestBrowserPolicies drives Chromium through the policies page against a
// real service and m365sim: a bad upload limit and start spread are
// refused with errors that name the fix, good values (and the sharing
// link scope "none") are saved, shown again, and reach alice's client
// through the validate API.
func TestBrowserPolicies(t *testing.T) {
	ctx := newChromium(t)
	svc := startService(t)
	signInAs(t, ctx, svc.sim.BaseURL(), svc.url, "admin@contoso.com")
	step(t, ctx, "open the policies", chromedp.Navigate(svc.url+"/portal/policies"))
	waitJS(t, ctx, "the policies form", pageHas(`#uploadMBps`))

	setJS(t, ctx, "#uploadMBps", "fast")
	setJS(t, ctx, "#jitterSeconds", "7200")
	clickJS(t, ctx, `form.form button.primary`)
	waitJS(t, ctx, "inline errors", pageHas(`#upload-error`))
	for sel, want := range map[string]string{
		"#upload-error": `"fast" is not a valid upload limit: enter MB per second`,
		"#jitter-error": `"7200" is not a start spread: enter whole seconds from 0 to 3600`,
	} {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("`+sel+`").innerText`))
		if err != nil || !strings.Contains(got, want) {
			t.Errorf("%s = %q, %v; want it to contain %q", sel, got, err, want)
		}
	}
	shot(t, ctx, "10-policies-errors", "Policies")

	setJS(t, ctx, "#uploadMBps", "20")
	setJS(t, ctx, "#downloadMBps", "2.5")
	setJS(t, ctx, "#refreshSeconds", "900")
	setJS(t, ctx, "#jitterSeconds", "120")
	setJS(t, ctx, "#linkScope", "none")
	clickJS(t, ctx, `form.form button.primary`)
	waitJS(t, ctx, "policies saved", pageHas(`.flash`))
	step(t, ctx, "reload the policies", chromedp.Navigate(svc.url+"/portal/policies"))
	waitJS(t, ctx, "the policies form again", pageHas(`#uploadMBps`))
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`["#uploadMBps", "#downloadMBps", "#refreshSeconds", "#jitterSeconds", "#linkScope"].map(s => document.querySelector(s).value)`))
	if want := []string{"20", "2.5", "900", "120", "none"}; err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("saved form shows %q, %v; want %q", got, err, want)
	}

	// The service hands the policies to alice's client.
	vr := svc.validate(t, "alice")
	p := vr.Policies
	if p.UploadBytesPerSecond != 20_000_000 || p.DownloadBytesPerSecond != 2_500_000 || p.RefreshSeconds != 900 || p.StartJitterSeconds != 120 || p.LinkScope != apitype.LinkScopeNone {
		t.Errorf("alice's policies = %+v", p)
	}
}
